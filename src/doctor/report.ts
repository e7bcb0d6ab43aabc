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
      return `${action} on ${list.map((o) => o.resource).join(', ')} (${decisions}${missing.length ? `; the policy's condition asks for ${missing.join(', ')}` : ''})`;
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
