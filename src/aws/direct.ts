/**
 * Direct loads on AWS: the Glue job reads a table over JDBC from inside the source database's
 * VPC (the job runs in the subnet of a Glue connection) instead of reading a snapshot export.
 * The job learns where the database is and how to log in, never the password itself: it reads
 * the secret (by its ARN) or signs an IAM authentication token when it connects.
 */
import { ConfigError } from '../errors';
import type { JdbcSource } from '../job-args';
import type { CatalogSettings } from './catalog';
import type { DirectSourceSettings } from './settings';

/** What the port factory knows of an RDS source with direct tables. */
export interface DirectSourceInput {
  /** `sources.<name>.source.catalog`, for messages. */
  path: string;
  /** The tables with `extract: direct` (none: no direct settings). */
  directTables: readonly string[];
  catalog: CatalogSettings | undefined;
  glueConnection: string | undefined;
  /** `source.catalog.sslRootCert`: the CA bundle in S3. */
  sslRootCert?: string | undefined;
}

/**
 * The direct settings of a source, or undefined when no table is direct. Refuses, before any
 * AWS call, a source whose direct tables the job could not reach or log in to.
 */
export function directSourceSettings(input: DirectSourceInput): DirectSourceSettings | undefined {
  const { path, directTables, catalog, glueConnection, sslRootCert } = input;
  if (directTables.length === 0) return undefined;
  const tables = directTables.join(', ');
  if (!catalog) {
    throw new ConfigError([{ path, message: `tables ${tables} have extract: direct, which the Glue job reads over JDBC: set source.catalog (host, port, database, user, and secretArn or iamAuth)` }]);
  }
  if (!glueConnection) {
    throw new ConfigError([
      { path: `${path}.glueConnection`, message: `tables ${tables} have extract: direct: name the Glue connection (type NETWORK) in the database's VPC that the load job runs in (docs/aws-setup.md, "Direct loads")` },
    ]);
  }
  // With a secret the job logs in as the secret's username; IAM tokens are signed for one named user.
  if (!catalog.user && catalog.auth.kind === 'iam') {
    throw new ConfigError([{ path: `${path}.user`, message: `tables ${tables} have extract: direct with iamAuth: name the database user the job signs its token for (source.catalog.user)` }]);
  }
  const verifies = catalog.sslmode === 'verify-full' || catalog.sslmode === 'verify-ca';
  if (verifies && !sslRootCert) {
    throw new ConfigError([
      {
        path: `${path}.sslRootCert`,
        message: `tables ${tables} have extract: direct with sslmode ${catalog.sslmode}: upload the RDS CA bundle (https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem) to S3 and set source.catalog.sslRootCert to its s3:// URI`,
      },
    ]);
  }
  return {
    glueConnection,
    host: catalog.host,
    port: catalog.port,
    database: catalog.database,
    ...(catalog.user ? { user: catalog.user } : {}),
    auth: catalog.auth,
    sslmode: catalog.sslmode,
    // The bundle is used only when the server is checked; require and disable never read it.
    ...(verifies && sslRootCert ? { sslRootCert } : {}),
  };
}

/** The JDBC connection of the job's arguments: address and user, the password only by reference. */
export function jdbcSource(direct: DirectSourceSettings): JdbcSource {
  const host = direct.host.includes(':') && !direct.host.startsWith('[') ? `[${direct.host}]` : direct.host;
  const url = `jdbc:postgresql://${host}:${direct.port}/${encodeURIComponent(direct.database)}?sslmode=${direct.sslmode}`;
  const tls = direct.sslRootCert ? { sslRootCert: direct.sslRootCert } : {};
  if (direct.auth.kind === 'secret') return { url, ...(direct.user ? { user: direct.user } : {}), secret: direct.auth.secretArn, ...tls };
  // directSourceSettings refuses IAM authentication without a user.
  return { url, user: direct.user ?? '', iamAuth: true, ...tls };
}
