/**
 * Every AWS error becomes a PortError whose message names the call, what it was for
 * (table, snapshot, export), the AWS error code and what to do. Throttling and server
 * errors are retryable; access denied, validation and the rest are not.
 */
import { PortError, type PortErrorKind } from '../errors';
import { EMULATOR_NOT_IMPLEMENTED } from '../emulator';
import { type AwsService, iamActionFor } from './iam';

export interface AwsCall {
  service: AwsService;
  /** The API operation, e.g. `StartJobRun`. */
  operation: string;
  /** What the call was for, e.g. `table public.orders` or `export ls-shop-1`. */
  subject: string;
  /** A fix worth adding for this call, e.g. which principal lacks a permission. */
  hint?: string;
}

const THROTTLED = codeSet([
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'RequestThrottled',
  'RequestThrottledException',
  'SlowDown',
  'ProvisionedThroughputExceededException',
  'ConcurrentRunsExceededException',
  'LimitExceededException',
]);

const TRANSIENT = codeSet([
  'InternalFailure',
  'InternalError',
  'InternalServerError',
  'InternalServerException',
  'InternalServiceException',
  'InternalServiceError',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'RequestTimeout',
  'RequestTimeoutException',
  'TimeoutError',
  'ConcurrentModificationException',
  'OperationTimeoutException',
  'ECONNRESET',
  'ECONNREFUSED',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
]);

const ACCESS_DENIED = codeSet([
  'AccessDenied',
  'AccessDeniedException',
  'UnauthorizedOperation',
  'UnauthorizedException',
  'NotAuthorized',
  'Forbidden',
  'InvalidClientTokenId',
  'UnrecognizedClientException',
  'SignatureDoesNotMatch',
  'ExpiredToken',
  'ExpiredTokenException',
  'IamRoleNotFoundFault',
  'IamRoleMissingPermissionsFault',
  'KMSKeyNotAccessibleFault',
  'InvalidS3BucketFault',
]);

const VALIDATION = codeSet([
  'ValidationError',
  'ValidationException',
  'InvalidParameterValue',
  'InvalidParameterValueException',
  'InvalidParameterCombination',
  'InvalidParameterException',
  'MissingParameter',
  'InvalidInputException',
  'InvalidRequestException',
  'BadRequestException',
  'SerializationException',
  'InvalidExportOnlyFault',
  'InvalidExportSourceStateFault',
  'InvalidExportTaskStateFault',
  'InvalidDBSnapshotStateFault',
  'InvalidDBClusterSnapshotStateFault',
  'SnapshotQuotaExceeded',
  'SnapshotQuotaExceededFault',
]);

/**
 * RDS refusals that end by themselves: wait and retry. Matched without the Fault suffix, since
 * the wire code (`InvalidDBInstanceState`) and the SDK's class name (`InvalidDBInstanceStateFault`) differ.
 */
const WAIT_FOR_RDS: Record<string, string> = {
  // Not in the SDK's model; RDS answers it while 5 exports of the account are running.
  ExportTaskLimitReached: 'RDS runs at most 5 snapshot exports per account at once; lakesync waits and retries until one of them ends',
  InvalidDBInstanceState:
    'the DB instance is not available for a snapshot now (backing up, modifying, rebooting, stopped...); lakesync waits and retries until it is available: start it if it is stopped',
  InvalidDBClusterState:
    'the DB cluster is not available for a snapshot now (backing up, modifying, stopped...); lakesync waits and retries until it is available: start it if it is stopped',
};

/** The wait-and-retry explanation when the error is an RDS state or concurrency refusal. */
export function rdsWaitReason(err: unknown): string | undefined {
  return WAIT_FOR_RDS[stripSuffix(awsErrorCode(err))];
}

/**
 * Codes compared without their Fault/Exception suffix: RDS names an error `IamRoleNotFound` on the
 * wire (the SDK's `Code`) and `IamRoleNotFoundFault` as a class (its `name`).
 */
function codeSet(codes: string[]): { has(code: string): boolean } {
  const stripped = new Set(codes.map(stripSuffix));
  return { has: (code) => stripped.has(stripSuffix(code)) };
}

interface SdkErrorShape {
  name?: string;
  code?: string;
  Code?: string;
  message?: string;
  $fault?: 'client' | 'server';
  $metadata?: { httpStatusCode?: number };
  $retryable?: { throttling?: boolean };
}

/** The AWS error code of an SDK error (e.g. `AccessDeniedException`), or the network error code. */
export function awsErrorCode(err: unknown): string {
  const e = (err ?? {}) as SdkErrorShape;
  if (err instanceof PortError) return err.code;
  // RDS (query protocol) names modelled errors by shape (`...Fault`) and others by code.
  return e.code && /^E[A-Z]+$/.test(e.code) ? e.code : (e.Code ?? e.name ?? 'UnknownError');
}

/** True when the error's code is one of `codes`, with or without a `Fault`/`Exception` suffix. */
export function hasAwsCode(err: unknown, ...codes: string[]): boolean {
  const code = stripSuffix(awsErrorCode(err));
  return codes.some((c) => stripSuffix(c) === code);
}

export function httpStatusOf(err: unknown): number | undefined {
  return ((err ?? {}) as SdkErrorShape).$metadata?.httpStatusCode;
}

export function awsErrorKind(err: unknown): PortErrorKind {
  if (err instanceof PortError) return err.kind;
  const e = (err ?? {}) as SdkErrorShape;
  const code = awsErrorCode(err);
  const status = httpStatusOf(err);
  // An emulator lacking an operation will not grow it on retry.
  if (code === EMULATOR_NOT_IMPLEMENTED) return 'failed';
  if (rdsWaitReason(err)) return 'throttled';
  if (THROTTLED.has(code) || e.$retryable?.throttling || status === 429) return 'throttled';
  if (ACCESS_DENIED.has(code) || status === 403) return 'access-denied';
  if (VALIDATION.has(code)) return 'validation';
  if (/NotFound|NoSuch/.test(code) || code === 'EntityNotFoundException') return 'not-found';
  if (/AlreadyExists/.test(code) || code === 'ConflictException') return 'already-exists';
  if (TRANSIENT.has(code) || e.$fault === 'server' || (status !== undefined && status >= 500)) return 'transient';
  if (status === 404) return 'not-found';
  if (status === 400) return 'validation';
  return 'failed';
}

const FIXES: Partial<Record<PortErrorKind, (call: AwsCall) => string>> = {
  'access-denied': (call) =>
    `the credentials lakesync runs with lack ${iamActionFor(call.service, call.operation)} (or a KMS, Lake Formation or bucket permission behind it): add it to the worker's policy (docs/aws-setup.md)`,
  validation: () => 'check the aws section of lakesync.yaml and the names it gives',
  throttled: () => 'AWS is throttling or at a concurrency limit; the step is retried with backoff',
  transient: () => 'a temporary AWS or network problem; the step is retried with backoff',
};

export function toPortError(err: unknown, call: AwsCall): PortError {
  if (err instanceof PortError) return err;
  const kind = awsErrorKind(err);
  const code = awsErrorCode(err);
  const awsMessage = ((err ?? {}) as SdkErrorShape).message?.trim() || 'no message';
  const fix = call.hint ?? rdsWaitReason(err) ?? FIXES[kind]?.(call);
  const message = `${call.service} ${call.operation} for ${call.subject} failed with ${code}: ${awsMessage}${fix ? ` (${fix})` : ''}`;
  return new PortError(kind, code, message, { cause: err });
}

/** Runs one AWS call; any error comes out as a PortError naming the call and its subject. */
export async function awsCall<T>(call: AwsCall, send: () => Promise<T>): Promise<T> {
  try {
    return await send();
  } catch (err) {
    throw toPortError(err, call);
  }
}

function stripSuffix(code: string): string {
  return code.replace(/(Fault|Exception)$/, '');
}

/**
 * Glue and Athena report Lake Formation refusals only as text. Names who lacks what, or
 * undefined when the message is not about Lake Formation.
 */
export function lakeFormationHint(message: string, who: string, howToGrant?: string): string | undefined {
  if (/GetDataAccess/i.test(message)) {
    return `${who} lacks the IAM permission lakeformation:GetDataAccess: add it to that principal's policy (docs/aws-setup.md)`;
  }
  if (/Lake ?Formation|Insufficient .*permission/i.test(message)) {
    return `${who} lacks a Lake Formation permission (readers need DESCRIBE on the namespace and SELECT on the table; Athena also DESCRIBE on the default database; the Glue role full table access): grant it${howToGrant ? `, or ${howToGrant}` : ''} (docs/aws-setup.md)`;
  }
  return undefined;
}
