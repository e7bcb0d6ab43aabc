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

/** The IAM policy statement that allows what was denied: one statement per set of resources. */
export function allowStatements(denied: readonly PermissionOutcome[]): string {
  const byResources = new Map<string, Set<string>>();
  const resourcesOf = new Map<string, Set<string>>();
  for (const o of denied) {
    const set = resourcesOf.get(o.action) ?? new Set<string>();
    set.add(o.resource);
    resourcesOf.set(o.action, set);
  }
  for (const [action, resources] of resourcesOf) {
    const key = JSON.stringify([...resources].sort());
    byResources.set(key, (byResources.get(key) ?? new Set()).add(action));
  }
  const statements = [...byResources].map(([resources, actions]) => {
    const list = JSON.parse(resources) as string[];
    return { Effect: 'Allow', Action: [...actions], Resource: list.length === 1 ? list[0] : list };
  });
  return statements.map((s) => JSON.stringify(s)).join(' ');
}
