/**
 * The read-only catalog connection of an RDS source (`source.catalog`): reads the source's table
 * list and primary keys from pg_catalog, nothing else, so that tables without a configured key
 * merge on AWS as they do locally. Credentials are fetched when a connection opens (a Secrets
 * Manager secret, or an IAM authentication token signed by @aws-sdk/rds-signer) and never kept,
 * logged or returned: only the activity that reads the catalog ever holds them.
 *
 * Writes are refused at every level: the session starts with default_transaction_read_only,
 * every read runs in a READ ONLY transaction whose snapshot is taken at once (it can no longer
 * be made read-write), only SELECT and WITH statements are sent, each alone through the extended
 * protocol (no `COMMIT; ...` can leave the transaction). The database user should be read-only too.
 */
import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { Signer } from '@aws-sdk/rds-signer';
import pg from 'pg';
import { type CatalogSession, readNotTables, readPartitions, readPrimaryKeys, readTableNames, readTablesWithKeys, readUnloggedTables } from '../catalog-queries';
import { PortError } from '../errors';
import type { TableName } from '../model';
import { awsErrorCode, awsErrorKind } from './errors';

export type SslMode = 'disable' | 'require' | 'verify-ca' | 'verify-full';

export interface CatalogSettings {
  host: string;
  port: number;
  database: string;
  /** The database user; with a secret, its `username` when absent. */
  user?: string;
  auth: { kind: 'secret'; secretArn: string } | { kind: 'iam' };
  sslmode: SslMode;
  /** The database's region: IAM tokens are signed for it. */
  region: string;
}

/** What the catalog needs of a pg client (tests pass a recording one). */
export interface CatalogConnection {
  connect(): Promise<unknown>;
  query(config: string | pg.QueryArrayConfig): Promise<{ rows: unknown[] }>;
  end(): Promise<void>;
  on(event: 'error', listener: (err: Error) => void): unknown;
}

export interface CatalogDeps {
  /** Reads the secret (built by the port factory for the secret's own region). */
  secrets?: Pick<SecretsManagerClient, 'send'>;
  /** Signs an IAM authentication token (default: rds-signer with the default credential chain). */
  signToken?: (options: { hostname: string; port: number; username: string; region: string }) => Promise<string>;
  /** Opens a connection (default: a pg.Client). */
  open?: (config: pg.ClientConfig) => CatalogConnection;
}

/** The session starts read-only: even a transaction started by hand could not write. */
const READ_ONLY_STARTUP = '-c default_transaction_read_only=on';
const CONNECT_TIMEOUT_MS = 15_000;
const STATEMENT_TIMEOUT_MS = 60_000;

export class SourceCatalog {
  private readonly open: (config: pg.ClientConfig) => CatalogConnection;
  private readonly signToken: NonNullable<CatalogDeps['signToken']>;

  constructor(
    private readonly settings: CatalogSettings,
    private readonly deps: CatalogDeps = {},
  ) {
    this.open = deps.open ?? ((config) => new pg.Client(config));
    this.signToken = deps.signToken ?? ((options) => new Signer(options).getAuthToken());
  }

  /** The source's tables as `schema.table` (the tables an export can hold). */
  async tables(): Promise<TableName[]> {
    return this.read(readTableNames);
  }

  /** The source's unlogged tables (an export skips them) as `schema.table`. */
  async unloggedTables(): Promise<TableName[]> {
    return this.read(readUnloggedTables);
  }

  /** The partitions (at every level) of each partitioned table, keyed by the table's `schema.table`. */
  async partitions(): Promise<Record<TableName, TableName[]>> {
    return this.read(readPartitions);
  }

  /** The views, materialized views and foreign tables (no export holds them), `schema.table` -> what it is. */
  async notTables(): Promise<Record<TableName, string>> {
    return this.read(readNotTables);
  }

  /** The declared primary key of every table that has one, keyed by `schema.table`, columns in key order. */
  async primaryKeys(): Promise<Record<TableName, string[]>> {
    return this.read(readPrimaryKeys);
  }

  /**
   * Every table a SELECT reads (unlogged ones too), with the declared keys, and with `nullableOf` the
   * columns of those tables that may hold NULL: one read of the catalog.
   */
  async tablesWithKeys(nullableOf?: readonly TableName[]): Promise<{ tables: TableName[]; primaryKeys: Record<TableName, string[]>; nullable?: Record<TableName, string[]> }> {
    return this.read((session) => readTablesWithKeys(session, nullableOf));
  }

  /** Runs `fn` in one READ ONLY transaction on a connection of its own, closed afterwards. */
  async read<T>(fn: (session: CatalogSession) => Promise<T>): Promise<T> {
    const { user, password, via } = await this.credentials();
    const where = this.describe(user);
    const client = this.open({
      host: this.settings.host,
      port: this.settings.port,
      database: this.settings.database,
      user,
      password,
      ssl: sslOptions(this.settings.sslmode),
      options: READ_ONLY_STARTUP,
      application_name: 'lakesync-catalog',
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      statement_timeout: STATEMENT_TIMEOUT_MS,
    });
    // A connection lost while idle must not crash the worker; the next query reports it.
    client.on('error', () => undefined);
    try {
      await client.connect();
    } catch (err) {
      await client.end().catch(() => undefined);
      throw this.connectError(where, via, user, err);
    }
    try {
      await client.query('BEGIN TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY');
      // Takes the snapshot: from here the transaction cannot be made read-write.
      await client.query('SELECT 1');
      const session: CatalogSession = {
        rows: async (sql, params = []) => {
          assertSelect(where, sql);
          const query = { text: sql, values: params, rowMode: 'array' as const, queryMode: 'extended' };
          return (await client.query(query)).rows as unknown[][];
        },
      };
      return await fn(session);
    } catch (err) {
      throw queryError(where, err);
    } finally {
      await client.query('ROLLBACK').catch(() => undefined);
      await client.end().catch(() => undefined);
    }
  }

  private describe(user: string): string {
    const { host, port, database } = this.settings;
    return `the source catalog postgres://${user}@${host}:${port}/${database}`;
  }

  /** The user and password to connect with, and how they were obtained (for messages). */
  private async credentials(): Promise<{ user: string; password: string; via: string }> {
    const { auth } = this.settings;
    if (auth.kind === 'iam') {
      const user = this.settings.user;
      if (!user) throw new PortError('validation', 'CatalogUserMissing', 'source.catalog.iamAuth signs its token for one database user: set source.catalog.user');
      const { host: hostname, port, region } = this.settings;
      try {
        return { user, password: await this.signToken({ hostname, port, username: user, region }), via: 'an IAM authentication token' };
      } catch (err) {
        throw new PortError('access-denied', 'CatalogTokenUnsigned', `cannot sign an IAM authentication token for ${this.describe(user)}: ${errorMessage(err)}; check the worker's AWS credentials`, { cause: err });
      }
    }
    const secret = await this.readSecret(auth.secretArn);
    return { user: this.settings.user ?? secret.username, password: secret.password, via: `the password of secret ${auth.secretArn}` };
  }

  private async readSecret(secretArn: string): Promise<{ username: string; password: string }> {
    if (!this.deps.secrets) throw new PortError('failed', 'CatalogSecretsClientMissing', `source.catalog.secretArn ${secretArn}: no Secrets Manager client was configured`);
    let text: string | undefined;
    try {
      text = (await this.deps.secrets.send(new GetSecretValueCommand({ SecretId: secretArn }))).SecretString;
    } catch (err) {
      throw secretError(secretArn, err);
    }
    // The value itself never appears in a message: it is a credential.
    const invalid = (what: string) =>
      new PortError('validation', 'CatalogSecretInvalid', `secret ${secretArn} (source.catalog.secretArn) ${what}: store JSON with "username" and "password" keys (the format of the secret RDS manages for the master user)`);
    if (text === undefined) throw invalid('holds no SecretString (a binary secret)');
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw invalid('is not JSON');
    }
    const { username, password } = (parsed ?? {}) as Record<string, unknown>;
    if (typeof password !== 'string' || password === '') throw invalid('has no "password" string');
    if ((typeof username !== 'string' || username === '') && !this.settings.user) throw invalid('has no "username" string and source.catalog.user is not set');
    return { username: typeof username === 'string' ? username : '', password };
  }

  private connectError(where: string, via: string, user: string, err: unknown): PortError {
    const code = pgCode(err);
    const message = errorMessage(err);
    if (code === '28P01' || code === '28000') {
      const fix =
        this.settings.auth.kind === 'iam'
          ? `check that IAM database authentication is enabled on the instance, that ${user} has the rds_iam role (GRANT rds_iam TO ${user}), and that the worker may rds-db:connect as ${user}`
          : `the secret does not hold ${user}'s current password: update the secret (or the user's password) so they match, or point source.catalog.secretArn at the right secret`;
      return new PortError('access-denied', 'CatalogAccessDenied', `cannot log in to ${where} with ${via}: ${message} (${code}); ${fix}`, { cause: err });
    }
    if (code === '3D000') {
      return new PortError('validation', 'CatalogDatabaseMissing', `${where}: ${message}; set source.catalog.database to the source database's name`, { cause: err });
    }
    if (/certificate|self.signed|SSL|TLS|ERR_TLS/i.test(`${code} ${message}`)) {
      return new PortError('validation', 'CatalogSslFailed', `cannot open an SSL connection to ${where} (sslmode ${this.settings.sslmode}): ${message}; give Node the RDS CA bundle (NODE_EXTRA_CA_CERTS=global-bundle.pem) for verify-full, or set source.catalog.sslmode`, { cause: err });
    }
    return new PortError('transient', 'CatalogUnavailable', `cannot connect to ${where}: ${message}; check source.catalog.host and port and that the worker can reach the database (security group, network)`, { cause: err });
  }
}

/**
 * Only queries reach the catalog: no transaction control (COMMIT, SET TRANSACTION...) can end or
 * change the READ ONLY transaction, and PostgreSQL refuses any write a query attempts in it.
 */
function assertSelect(where: string, sql: string): void {
  const text = sql.replace(/^(\s+|--[^\n]*(\n|$)|\/\*[\s\S]*?\*\/)+/, '');
  if (!/^(select|with)\b/i.test(text)) {
    throw new PortError('failed', 'CatalogReadOnly', `${where} runs queries only (SELECT or WITH ... SELECT): refused ${JSON.stringify(text.slice(0, 60))}`);
  }
}

/** node-postgres TLS options for a libpq sslmode. */
export function sslOptions(mode: SslMode): pg.ClientConfig['ssl'] {
  if (mode === 'disable') return false;
  if (mode === 'require') return { rejectUnauthorized: false };
  // verify-ca: the chain is checked, the host name is not.
  if (mode === 'verify-ca') return { rejectUnauthorized: true, checkServerIdentity: () => undefined };
  return { rejectUnauthorized: true };
}

function secretError(secretArn: string, err: unknown): PortError {
  const code = awsErrorCode(err);
  const kind = awsErrorKind(err);
  const subject = `secret ${secretArn} (source.catalog.secretArn)`;
  const message = errorMessage(err);
  if (kind === 'not-found') return new PortError('validation', code, `Secrets Manager GetSecretValue: ${subject} does not exist (${code}: ${message}); check the ARN, or create the secret with username and password`, { cause: err });
  if (kind === 'access-denied' || code === 'DecryptionFailure') {
    return new PortError('access-denied', code, `Secrets Manager GetSecretValue refused ${subject} (${code}: ${message}); grant the worker secretsmanager:GetSecretValue on it, and kms:Decrypt on its KMS key when that is a customer managed key`, { cause: err });
  }
  return new PortError(kind === 'failed' ? 'transient' : kind, code, `Secrets Manager GetSecretValue for ${subject} failed with ${code}: ${message}`, { cause: err });
}

function queryError(where: string, err: unknown): Error {
  if (err instanceof PortError) return err;
  const code = pgCode(err);
  if (code === '25006') {
    return new PortError('failed', 'CatalogReadOnly', `${where} is read-only: ${errorMessage(err)} (25006); it only reads the table list and primary keys`, { cause: err });
  }
  // Connection lost (08), server shutting down (57P), statement timeout (57014), a replica's recovery
  // conflict or a deadlock (40001, 40P01), insufficient resources (53): the same read succeeds later.
  const kind = code && /^(08|57P|57014$|40001$|40P01$|53)/.test(code) ? 'transient' : 'failed';
  return new PortError(kind, code ? `pg:${code}` : 'CatalogQueryFailed', `reading ${where} failed: ${errorMessage(err)}${code ? ` (${code})` : ''}`, { cause: err });
}

function pgCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

function errorMessage(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).trim() || 'no message';
}
