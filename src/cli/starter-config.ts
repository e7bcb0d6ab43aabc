/** The commented lakesync.yaml that `lakesync init` writes. It must pass `lakesync validate` as is. */
import { RESERVED_NAMESPACE_PREFIX } from '../names';

export interface StarterOptions {
  source: string;
  /** Path of docs/lakesync.schema.json relative to the config file, for editor completion. */
  schemaPath?: string;
}

export function starterConfig({ source, schemaPath }: StarterOptions): string {
  const schemaLine = schemaPath ? `# yaml-language-server: $schema=${schemaPath}\n` : '';
  return `${schemaLine}# lakesync configuration. Check it with "lakesync validate"; see what a sync would do with
# "lakesync plan ${source}". Every field is described in docs/lakesync.schema.json.

temporal:
  # host:port of the Temporal frontend; TEMPORAL_ADDRESS and the Temporal CLI profile win when set.
  address: localhost:7233
  namespace: default
  taskQueue: lakesync

sources:
  ${source}:
    # local: everything on this machine (embedded PostgreSQL, Spark + Iceberg in a local folder).
    # aws: RDS snapshot export -> Glue -> S3 Tables (needs the aws section below).
    backend: local
    # The source database: the "db" part of the export's db.schema.table names.
    database: postgres
    source:
      kind: pglite      # pglite (embedded, with a demo schema) | postgres | rds
      demo: true
      # kind: postgres
      # url: postgres://user@localhost:5432/postgres
    target:
      # The lake namespace (S3 Tables: lowercase letters, digits, underscores).
      namespace: ${starterNamespace(source)}
      # Lake table names; {database}, {schema} and {table} are replaced.
      tableName: "{schema}_{table}"
    # Which tables to sync: schema.table globs. Exclude wins over include.
    include: ["public.*"]
    exclude: ["*.*_pii"]
    # Per-table settings; without them the source's primary key decides (merge, else replace).
    tables: {}
    #   public.orders:
    #     primaryKey: [id]
    #     cursor: { column: updated_at }   # incremental loads
    # Lake Formation grants (a local user name in local mode).
    grants: []
    #   - principal: arn:aws:iam::123456789012:role/analyst
    #     tablePermissions: [SELECT, DESCRIBE]
    verify:
      enabled: true
    # Tables loaded at once, and the delete guard: a load that would delete more than this
    # fraction of a table is refused unless rerun with --approve-deletes.
    concurrency: 4
    safety:
      maxDeleteFraction: 0.5
    # backend: aws needs:
    # aws:
    #   region: eu-west-1
    #   accountId: "123456789012"
    #   export: { bucket: my-exports, iamRoleArn: "arn:aws:iam::123456789012:role/rds-export", kmsKeyId: alias/rds-export }
    #   tableBucket: { name: my-lake }
    #   glue: { roleArn: "arn:aws:iam::123456789012:role/glue-lakesync", scriptBucket: my-glue-scripts }
    #   athena: { outputLocation: "s3://my-athena-results/lakesync/" }
`;
}

/**
 * The lake namespace of a source name (lowercase letters, digits, single hyphens): its hyphens
 * as underscores, with `lake_` in front of a name S3 Tables reserves (`aws-prod` -> `lake_aws_prod`).
 */
export function starterNamespace(source: string): string {
  const namespace = source.replace(/[^a-z0-9]/g, '_');
  return namespace.startsWith(RESERVED_NAMESPACE_PREFIX) ? `lake_${namespace}` : namespace;
}
