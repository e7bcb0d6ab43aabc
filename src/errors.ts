/**
 * Errors the ports raise. The activities turn them into Temporal failures:
 * a retryable one is retried with backoff, any other fails the table (or the cycle) at once.
 */
import { redactValue } from './redact';

export type PortErrorKind =
  | 'already-exists'
  | 'not-found'
  | 'access-denied'
  | 'validation'
  | 'throttled'
  | 'transient'
  | 'failed';

const RETRYABLE: ReadonlySet<PortErrorKind> = new Set(['throttled', 'transient']);

export class PortError extends Error {
  readonly kind: PortErrorKind;
  /** The backend's own code, e.g. `AccessDeniedException` or `DeleteGuard`. */
  readonly code: string;
  /**
   * A start the backend refused for want of capacity (the job's concurrent runs, an account
   * quota): no run was made and nothing billed, so it is a wait for a free slot, not a failure
   * of the load that spends one of its attempts.
   */
  readonly noCapacity: boolean;

  constructor(kind: PortErrorKind, code: string, message: string, options?: { cause?: unknown; noCapacity?: boolean }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'PortError';
    this.kind = kind;
    this.code = code;
    this.noCapacity = options?.noCapacity === true;
  }

  get retryable(): boolean {
    return RETRYABLE.has(this.kind);
  }
}

export function isPortError(err: unknown): err is PortError {
  return err instanceof PortError;
}

/**
 * A configuration or request the user must fix; never retried. A rejected value may be a
 * connection string with its password: the issues keep it redacted, so the message and
 * `validate --json` (which prints the issues) never echo a credential.
 */
export class ConfigError extends Error {
  readonly issues: ConfigIssue[];
  /** The config file the issues are in, when they come from one. */
  readonly file: string | undefined;

  constructor(issues: ConfigIssue[], file?: string) {
    const redacted = issues.map((i) => (i.value === undefined ? i : { ...i, value: redactValue(i.value) }));
    super(formatIssues(redacted, file));
    this.name = 'ConfigError';
    this.issues = redacted;
    this.file = file;
  }
}

export interface ConfigIssue {
  /** Dotted path of the offending field, e.g. `sources.shop.target.namespace`. */
  path: string;
  value?: unknown;
  message: string;
}

function formatIssues(issues: ConfigIssue[], file: string | undefined): string {
  const lines = issues.map((i) => {
    const value = i.value === undefined ? '' : ` (got ${JSON.stringify(i.value)})`;
    return `  - ${i.path || '(root)'}${value}: ${i.message}`;
  });
  return `invalid configuration${file ? ` in ${file}` : ''}:\n${lines.join('\n')}`;
}
