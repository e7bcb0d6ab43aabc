/**
 * Naming rules every part shares: source tables are `schema.table`, and lake names follow the
 * S3 Tables rules ("Amazon S3 table bucket, table, and namespace naming rules"). Pure, so the
 * config, the plan and every backend use the same checks.
 */

/** S3 Tables: namespaces and tables are 1-255 lowercase letters, digits, underscores, starting and ending with a letter or digit. */
export const LAKE_NAME = /^[a-z0-9](?:[a-z0-9_]{0,253}[a-z0-9])?$/;
/** The rule LAKE_NAME checks, for messages. */
export const LAKE_NAME_RULE = '1-255 lowercase letters, digits or underscores, starting and ending with a letter or digit (S3 Tables rule)';

export function isValidLakeName(name: string): boolean {
  return LAKE_NAME.test(name);
}

/**
 * A Spark SQL name with each part in backticks, as the load job writes it (glue/lakesync_glue/names.py):
 * S3 Tables allows lake names Spark reads as numbers unquoted (2024, 1e5).
 */
export function sparkName(...parts: string[]): string {
  return parts.map((part) => `\`${part.replaceAll('`', '``')}\``).join('.');
}

/**
 * Source names: 1-63 lowercase letters, digits or hyphens, starting with a letter, with no double or
 * trailing hyphen. RDS ids fold those away, so `shop-` and `shop` would share export and snapshot
 * ids, and each source's retention would delete the other's exports.
 */
export const SOURCE_NAME = /^[a-z](?:[a-z0-9]|-(?=[a-z0-9])){0,62}$/;
export const SOURCE_NAME_RULE = 'source names are 1-63 lowercase letters, digits or single hyphens, starting with a letter and not ending with a hyphen';

/** S3 Tables reserves this prefix for namespaces. */
export const RESERVED_NAMESPACE_PREFIX = 'aws';

/** S3 Tables: table buckets are 3-63 lowercase letters, digits, hyphens, starting and ending with a letter or digit. */
export const TABLE_BUCKET_NAME = /^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/;
/** Prefixes and suffixes a table bucket name may not have. */
export const TABLE_BUCKET_RESERVED_PREFIXES = ['xn--', 'sthree-', 'amzn-s3-demo-', 'aws'] as const;
export const TABLE_BUCKET_RESERVED_SUFFIXES = ['-s3alias', '--ol-s3', '--x-s3', '--table-s3'] as const;

/** Why `name` cannot name a table bucket, or undefined when it can. */
export function tableBucketNameProblem(name: string): string | undefined {
  if (!TABLE_BUCKET_NAME.test(name)) return 'must be 3-63 lowercase letters, digits or hyphens, starting and ending with a letter or digit (S3 Tables bucket rule)';
  const prefix = TABLE_BUCKET_RESERVED_PREFIXES.find((p) => name.startsWith(p));
  if (prefix) return `must not start with "${prefix}": S3 Tables reserves the prefixes ${TABLE_BUCKET_RESERVED_PREFIXES.join(', ')}; choose another name`;
  const suffix = TABLE_BUCKET_RESERVED_SUFFIXES.find((s) => name.endsWith(s));
  if (suffix) return `must not end with "${suffix}": S3 Tables reserves the suffixes ${TABLE_BUCKET_RESERVED_SUFFIXES.join(', ')}; choose another name`;
  return undefined;
}

/** Why `name` cannot name a lake namespace, or undefined when it can. */
export function namespaceNameProblem(name: string): string | undefined {
  if (!isValidLakeName(name)) return undefined; // the lake-name rule reports it
  if (name.startsWith(RESERVED_NAMESPACE_PREFIX)) return `must not start with "${RESERVED_NAMESPACE_PREFIX}": S3 Tables reserves that prefix for namespaces; choose another namespace`;
  return undefined;
}

/** The Glue job of a source when aws.glue.jobName is not set: one job per source, so sources never overwrite each other's job. */
export function defaultGlueJobName(source: string): string {
  return `lakesync-load-${source}`;
}

/**
 * The Glue job a source runs: aws.glue.jobName with `{source}` replaced by the source's name (as
 * the stack's GlueJobName output gives it, so that sources sharing settings get a job each), else
 * the default.
 */
export function glueJobName(source: string, configured: string | undefined): string {
  return configured === undefined ? defaultGlueJobName(source) : configured.replaceAll('{source}', source);
}

/** A source table name as config keys and --tables give it: `schema.table`, the schema without spaces, one dot, neither first nor last. */
export const TABLE_NAME = /^[^.\s]+\.[^.]+$/;

/** `schema.table`: a schema before the first dot and a table after it, neither empty (the table may hold dots). */
export const isSchemaTable = (name: string) => name.indexOf('.') > 0 && !name.endsWith('.');

export function splitTable(table: string): [schema: string, name: string] {
  const dot = table.indexOf('.');
  if (dot <= 0) throw new Error(`table "${table}" is not schema.table`);
  return [table.slice(0, dot), table.slice(dot + 1)];
}

/**
 * Column names made unique, so that no value is lost to a row keyed by name: a repeated name takes
 * the first free of name_2, name_3, ... (SELECT a.id, b.id answers id and id_2), as the local runner names them.
 */
export function uniqueNames(names: readonly string[]): string[] {
  const taken = new Set<string>();
  return names.map((name) => {
    let unique = name;
    for (let n = 2; taken.has(unique); n++) unique = `${name}_${n}`;
    taken.add(unique);
    return unique;
  });
}
