/** Turning failed calls and denied simulations into report lines with their fix. */
import { awsErrorCode, awsErrorKind } from '../aws/errors';
import { DOCTOR_CALLS } from '../aws/required-actions';
import { isMissingOperation, type PermissionOutcome } from './simulate';
import { type CheckResult, fail, warn } from './types';

/** The report line of a call that failed: what was asked, the AWS error, and what to do. */
export function callFailed(check: string, err: unknown, call: string, subject: string): CheckResult {
  const code = awsErrorCode(err);
  const message = ((err as { message?: string })?.message ?? String(err)).trim();
  if (isMissingOperation(err)) {
    return warn(check, `not checked: the endpoint does not implement ${call} (an emulator); verify ${subject} against AWS`);
  }
  const problem = `${call} for ${subject} failed with ${code}: ${message}`;
  if (awsErrorKind(err) === 'access-denied') {
    const action = DOCTOR_CALLS.find((c) => c.call === call)?.action ?? call;
    return fail(check, problem, `the principal running lakesync doctor lacks ${action}: allow it (every call of the doctor is read-only; DOCTOR_CALLS in src/aws/required-actions.ts lists them)`);
  }
  return fail(check, problem);
}

/** The outcomes that are not allowed. */
export function deniedOf(outcomes: readonly PermissionOutcome[]): PermissionOutcome[] {
  return outcomes.filter((o) => o.decision !== 'allowed');
}

/** "s3:PutObject on arn:... (implicitDeny)", one per denied action, resources joined. */
export function describeDenied(denied: readonly PermissionOutcome[]): string {
  const byAction = new Map<string, PermissionOutcome[]>();
  for (const o of denied) byAction.set(o.action, [...(byAction.get(o.action) ?? []), o]);
  return [...byAction]
    .map(([action, list]) => {
      const missing = [...new Set(list.flatMap((o) => o.missingContext))];
      const decisions = [...new Set(list.map((o) => o.decision))].join('/');
      return `${action} on ${[...new Set(list.map((o) => o.resource))].join(', ')} (${decisions}${missing.length ? `; the policy's condition asks for ${missing.join(', ')}` : ''})`;
    })
    .join('; ');
}

/** The IAM policy statements that allow what was denied: one per set of resources and condition, the condition kept. */
export function allowStatements(denied: readonly PermissionOutcome[]): string {
  // An action's resources, per condition it is allowed under.
  const resourcesOf = new Map<string, { action: string; condition: PermissionOutcome['condition']; resources: Set<string> }>();
  for (const o of denied) {
    const key = JSON.stringify([o.action, o.condition ?? null]);
    const entry = resourcesOf.get(key) ?? { action: o.action, condition: o.condition, resources: new Set<string>() };
    entry.resources.add(o.resource);
    resourcesOf.set(key, entry);
  }
  const statementsOf = new Map<string, { resources: string[]; condition: PermissionOutcome['condition']; actions: string[] }>();
  for (const { action, condition, resources } of resourcesOf.values()) {
    const list = [...resources].sort();
    const key = JSON.stringify([list, condition ?? null]);
    const statement = statementsOf.get(key) ?? { resources: list, condition, actions: [] };
    statement.actions.push(action);
    statementsOf.set(key, statement);
  }
  const statements = [...statementsOf.values()].map(({ resources, condition, actions }) => ({
    Effect: 'Allow',
    Action: actions,
    Resource: resources.length === 1 ? resources[0] : resources,
    ...(condition ? { Condition: condition } : {}),
  }));
  return statements.map((s) => JSON.stringify(s)).join(' ');
}

/** The actions of some outcomes, once each, for messages. */
function actionsOf(outcomes: readonly PermissionOutcome[]): string {
  return [...new Set(outcomes.map((o) => o.action))].join(', ');
}

/**
 * The fix of denied permissions. What the principal's policies lack: the statements `addTo`
 * introduces. An explicit Deny: the policies that hold it (an Allow never overrides a Deny). What
 * a permissions boundary or the organization's SCPs leave out: to be allowed there as well.
 */
export function permissionFix(denied: readonly PermissionOutcome[], addTo: string): string {
  const parts: string[] = [];
  const toAdd = denied.filter((o) => o.decision === 'implicitDeny' && !o.identityAllows);
  if (toAdd.length > 0) parts.push(`${addTo}: ${allowStatements(toAdd)}`);
  const explicit = denied.filter((o) => o.decision === 'explicitDeny');
  if (explicit.length > 0) {
    const sources = [...new Set(explicit.flatMap((o) => o.deniedBy ?? []))];
    const where = sources.length ? ` (in ${sources.join(', ')})` : ' (in its policies, its permissions boundary or a service control policy)';
    parts.push(`an explicit Deny refuses ${actionsOf(explicit)}${where}, and an Allow does not override it: narrow or remove that Deny statement`);
  }
  const boundaryDenied = denied.filter((o) => o.boundaryDenies !== undefined);
  for (const boundary of new Set(boundaryDenied.map((o) => o.boundaryDenies))) {
    const lacking = boundaryDenied.filter((o) => o.boundaryDenies === boundary);
    const name = boundary === true ? 'its permissions boundary' : `the permissions boundary ${boundary}`;
    parts.push(`${name} does not allow ${actionsOf(lacking)}: add to the boundary: ${allowStatements(lacking)}`);
  }
  const organizations = denied.filter((o) => o.organizationsDenies);
  if (organizations.length > 0) parts.push(`the organization's service control policies do not allow ${actionsOf(organizations)}: ask its administrator to allow them in this account`);
  return parts.join('; ');
}
