/**
 * Errors the ports raise. The activities turn them into Temporal failures:
 * a retryable one is retried with backoff, any other fails the table (or the cycle) at once.
 */
import { redactSecrets } from './redact';

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

  constructor(kind: PortErrorKind, code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PortError';
    this.kind = kind;
    this.code = code;
  }

  get retryable(): boolean {
    return RETRYABLE.has(this.kind);
  }
}

export function isPortError(err: unknown): err is PortError {
  return err instanceof PortError;
}

/** A configuration or request the user must fix; never retried. */
export class ConfigError extends Error {
  readonly issues: ConfigIssue[];

  constructor(issues: ConfigIssue[]) {
    super(formatIssues(issues));
    this.name = 'ConfigError';
    this.issues = issues;
  }
}

export interface ConfigIssue {
  /** Dotted path of the offending field, e.g. `sources.shop.target.namespace`. */
  path: string;
  value?: unknown;
  message: string;
}

function formatIssues(issues: ConfigIssue[]): string {
  const lines = issues.map((i) => {
    // A rejected value may be a connection string with its password: never echo a credential.
    const value = i.value === undefined ? '' : ` (got ${redactSecrets(JSON.stringify(i.value))})`;
    return `  - ${i.path || '(root)'}${value}: ${i.message}`;
  });
  return `invalid configuration:\n${lines.join('\n')}`;
}
