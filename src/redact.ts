/**
 * Removes credentials from text before it reaches a message, a log line or a workflow history:
 * the password of a URL (`scheme://user:password@host`, also when the scheme is mistyped or missing), and the value of every credential-like
 * parameter, in a URL query (`?password=...&sslpassword=...`) and in a key-value connection string
 * (`host=db password=... sslpassword='...'`). Pure and neutral: every layer may use it.
 */

export const REDACTED = '***';

/** Parameter names whose values are secrets (libpq, JDBC, AWS and common API spellings). */
const SECRET_NAME = String.raw`[A-Za-z0-9_.-]*(?:password|passwd|pwd|passphrase|secret|token|credentials?|api[_-]?key|access[_-]?key|private[_-]?key|auth)`;

// `scheme://user:password@`; the password runs to the last `@` before the host (it may hold an unescaped `@`).
const URL_USERINFO = /([a-z][a-z0-9+.-]*:\/\/[^\s/@:?#'"]*):([^\s/?#'"]*)@/gi;
// `user:password@host` without a well-formed `scheme://` in front (`postgres:/u:pw@h`, `u:pw@h`): the very typos a
// rejected URL has. The password runs to the last `@` before the host; quotes included, since a secret may hold one.
const LOOSE_USERINFO = /(^|[\s/\\"'(=])([^\s/\\@:"'(=]+):([^\s/\\]+)@(?=[A-Za-z0-9[])/g;
// `name=value` in a query string or a key-value string; a quoted value may hold spaces.
const KEY_VALUE = new RegExp(String.raw`(^|[\s?&;,(])(${SECRET_NAME})(\s*=\s*)('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|[^\s&;,'")]*)`, 'gi');
// `"password": "value"` in JSON text.
const JSON_FIELD = new RegExp(String.raw`("${SECRET_NAME}"\s*:\s*)"(?:[^"\\]|\\.)*"`, 'gi');

export function redactSecrets(text: string): string {
  return text
    .replace(URL_USERINFO, (_m, head: string, password: string) => (password ? `${head}:${REDACTED}@` : `${head}:@`))
    .replace(LOOSE_USERINFO, (_m, lead: string, user: string) => `${lead}${user}:${REDACTED}@`)
    .replace(KEY_VALUE, (_m, lead: string, name: string, eq: string, value: string) => (value ? `${lead}${name}${eq}${REDACTED}` : `${lead}${name}${eq}`))
    .replace(JSON_FIELD, (_m, head: string) => `${head}"${REDACTED}"`);
}

/**
 * A config value with every credential in it redacted, as `redactSecrets` does to its JSON text.
 * A value whose redacted text is no longer JSON comes back as that text: never the secret.
 */
export function redactValue(value: unknown): unknown {
  if (typeof value === 'string') return redactSecrets(value);
  const text = value === undefined ? undefined : JSON.stringify(value);
  if (text === undefined) return value;
  const redacted = redactSecrets(text);
  if (redacted === text) return value;
  try {
    return JSON.parse(redacted) as unknown;
  } catch {
    return redacted;
  }
}

/**
 * A copy of an error chain whose messages and stack traces carry no credential, for a failure
 * that is serialized into a workflow history (Temporal records every cause's message and stack).
 */
export function redactError(err: unknown, depth = 0): Error {
  if (!(err instanceof Error)) return new Error(redactSecrets(String(err)));
  const cause = depth < 5 && err.cause !== undefined ? { cause: redactError(err.cause, depth + 1) } : {};
  const copy = new Error(redactSecrets(err.message), cause);
  copy.name = err.name;
  copy.stack = err.stack === undefined ? undefined : redactSecrets(err.stack);
  return copy;
}
