/** The source database as the embedded mode sees it: PGlite in this process, or a PostgreSQL server. */
import type { Client } from 'pg';

/** Runs SQL; rows come back as arrays in select-list order. */
export interface SqlSession {
  rows(sql: string, params?: unknown[]): Promise<unknown[][]>;
}

export interface SourceDb {
  readonly kind: 'pglite' | 'postgres';
  /** Where the database is, for messages (never carries a password). */
  readonly description: string;
  /** Rows as objects keyed by column name. */
  query<T extends Record<string, unknown> = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  /** Runs one or more statements (no parameters). */
  exec(sql: string): Promise<void>;
  /** Runs `fn` inside one REPEATABLE READ READ ONLY transaction: every read sees the same snapshot. */
  consistentRead<T>(fn: (session: SqlSession) => Promise<T>): Promise<T>;
  /** PostgreSQL only: a connection of its own, outside the pool (the caller ends it), e.g. for readers sharing an exported snapshot. */
  connect?(): Promise<Client>;
  /** PostgreSQL only: the URL `connect` uses, for export readers in threads of their own. It may carry the password: never print it. */
  readonly connectionUrl?: string;
  close(): Promise<void>;
}

export const CONSISTENT_READ_SETTINGS = [
  // Text forms that do not depend on the server's or the session's defaults.
  "SET LOCAL TIME ZONE 'UTC'",
  "SET LOCAL DateStyle = 'ISO, MDY'",
  "SET LOCAL IntervalStyle = 'postgres'",
  'SET LOCAL extra_float_digits = 1',
  "SET LOCAL bytea_output = 'hex'",
  // money prints in lc_monetary's format ('1.234,50 €' under de_DE): C gives '$1,234.50', the form the load reads.
  "SET LOCAL lc_monetary = 'C'",
  // As pg_dump: a table whose rows row-level security would filter fails its read instead of
  // being read short (the catalog read skips such tables before; this holds whatever it missed).
  'SET LOCAL row_security = off',
  // As pg_dump: timeouts meant for the applications (set for the user or the database) would cut
  // a long read short, or end the connection holding the snapshot while it waits for the readers.
  'SET LOCAL statement_timeout = 0',
  'SET LOCAL idle_in_transaction_session_timeout = 0',
  // PostgreSQL 17's transaction_timeout likewise (pg_dump 17 sets it to 0); older servers do not know it.
  "SELECT set_config('transaction_timeout', '0', true) WHERE current_setting('transaction_timeout', true) IS NOT NULL",
];
