/**
 * How the embedded mode's load job reaches a `postgres` source over JDBC (extract: direct).
 * The source URL carries the password; the job arguments may not (they are kept in run records
 * and shown with a run), so the URL is split: `jdbc:postgresql://host:port/database?<non-secret
 * parameters>` and the user travel as arguments, the password as the name of a variable the load
 * runner sets for the job from the body of its authenticated local request, never on disk.
 */
import { createHash } from 'node:crypto';
import { userInfo } from 'node:os';
import { PortError } from '../../errors';
import type { JdbcSource } from '../../job-args';
import { redactUrl } from './postgres';

/** Names of the runner variables that carry a JDBC password; the runner accepts no other. */
export const JDBC_PASSWORD_ENV_PREFIX = 'LAKESYNC_JDBC_PASSWORD_';

export interface LocalJdbc {
  /** What the job arguments carry: no secret. */
  source: JdbcSource & { passwordEnv: string };
  /** The variable the runner sets for the job: passwordEnv -> the password. Sent to the runner only. */
  secretEnv: Record<string, string>;
}

/**
 * node-postgres / libpq URL parameters and their pgjdbc names. Everything else is left out: the
 * credentials (user, password, sslpassword, and the client key the job refuses in a URL) above
 * all, and settings pgjdbc does not know.
 */
const JDBC_PARAMETERS: Record<string, string> = {
  ssl: 'ssl',
  sslmode: 'sslmode',
  sslrootcert: 'sslrootcert',
  options: 'options',
  application_name: 'ApplicationName',
  connect_timeout: 'connectTimeout',
};

/**
 * The JDBC connection of a `postgres://user:password@host:port/database?...` source URL.
 * Without a password in the URL, PGPASSWORD (libpq's variable, which node-postgres honours too)
 * supplies it; without either, the password is empty, which a direct load refuses (load.ts).
 */
export function jdbcFromUrl(url: string, env: NodeJS.ProcessEnv = process.env): LocalJdbc {
  const shown = redactUrl(url);
  let parsed: URL;
  try {
    parsed = new URL(asNodePostgresParses(url));
  } catch {
    throw invalid(`source.url (${shown}) is not a URL`);
  }
  if (!/^postgres(ql)?:$/.test(parsed.protocol)) throw invalid(`source.url (${shown}) is not a postgres:// URL`);
  const socketHost = parsed.searchParams.get('host');
  if (!parsed.hostname || (socketHost !== null && socketHost.startsWith('/'))) {
    throw invalid(`source.url (${shown}) names no TCP host: the load job reads tables with extract: direct over JDBC, which needs host:port (a Unix socket is not reachable from Java)`);
  }
  // As node-postgres logs in: ?user= and ?password= first, then the URL's user info.
  const user = parsed.searchParams.get('user') || decode(parsed.username) || env.PGUSER || userInfo().username;
  const password = parsed.searchParams.get('password') || (parsed.password ? decode(parsed.password) : (env.PGPASSWORD ?? ''));
  // The database node-postgres connects to (decodeURI of the path: %2B stays %2B, + stays +), in
  // the form pgjdbc decodes back to it (URLDecoder: %XX, and + as a space).
  let database: string;
  try {
    database = decodeURI(parsed.pathname.replace(/^\//, '')) || user;
  } catch {
    throw invalid(`source.url (${shown}) has a database name that is not valid percent-encoding: write a % in it as %25`);
  }
  const port = parsed.port || '5432';

  const query = new URLSearchParams();
  for (const [name, value] of parsed.searchParams) {
    const jdbcName = JDBC_PARAMETERS[name];
    if (jdbcName) query.append(jdbcName, value);
  }
  const tail = query.size > 0 ? `?${query.toString()}` : '';
  const jdbcUrl = `jdbc:postgresql://${parsed.hostname}:${port}/${encodeURIComponent(database)}${tail}`;
  const passwordEnv = passwordEnvName(`${user}@${parsed.hostname}:${port}/${database}`);
  return { source: { url: jdbcUrl, user, passwordEnv }, secretEnv: { [passwordEnv]: password } };
}

/**
 * The URL as node-postgres (pg-connection-string) reads it: one holding a space or a % that starts
 * no escape is encoded first, so that its user, password and database decode as they do there.
 */
function asNodePostgresParses(url: string): string {
  return / |%[^a-f0-9]|%[a-f0-9][^a-f0-9]/i.test(url) ? encodeURI(url).replace(/%25(\d\d)/g, '%$1') : url;
}

/** One variable per user and server, so two sources served by one runner never share a password. */
function passwordEnvName(login: string): string {
  return `${JDBC_PASSWORD_ENV_PREFIX}${createHash('sha256').update(login).digest('hex').slice(0, 16).toUpperCase()}`;
}

function decode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

function invalid(message: string): PortError {
  return new PortError('validation', 'InvalidSourceUrl', message);
}
