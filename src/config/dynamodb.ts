/**
 * The DynamoDB source kind of lakesync.yaml: `source: { kind: dynamodb, ... }`, per table
 * `attributes` (declared attributes and their lake types) and `exportWindow`. What needs only the
 * config is checked here; what needs the table's key (DescribeTable) is checked by the plan
 * (`dynamoAttributeProblems`), before any export.
 */
import { z } from 'zod';
import type { DynamoKeyAttribute } from '../model';
import { ICEBERG_METADATA_COLUMNS, isSparkMergeName, RESERVED_COLUMN_PREFIX, SPARK_MERGE_NAMES_TEXT } from './columns';
import { MAX_WINDOWS } from '../dynamodb/windows';
import { DYNAMODB_TABLE_ARN, DYNAMODB_SCHEMA, dynamoNameOfKey, dynamoTableNameOf, dynamoTableNameProblem } from '../dynamodb/names';

/** Lake types a declared attribute may load as. `json`: the value's DynamoDB JSON as text. */
export const DYNAMO_LAKE_TYPE = /^(string|decimal\(\d{1,2},\d{1,2}\)|bigint|int|double|boolean|binary|json)$/;
const DYNAMO_LAKE_TYPE_FIX = 'use one of string, decimal(p,s), bigint, int, double, boolean, binary, json';

/**
 * The longest incremental window a source may ask for. DynamoDB takes 15 minutes to 24 hours; at
 * least 30 minutes, so that every gap of 15 minutes or more splits evenly into windows DynamoDB takes.
 */
export const EXPORT_WINDOW_HOURS = { min: 0.5, max: 24 } as const;
const WINDOW_RULE = "must be between 0.5 and 24: DynamoDB's incremental exports cover 15 minutes to 24 hours, and windows of up to at least 30 minutes let every gap split into windows of 15 minutes or more";
export const EXPORT_WINDOW_DEFAULTS = { maxHours: 24, maxWindows: 7 } as const;

const REGION = /^[a-z]{2}(-[a-z]+)+-\d$/;
const S3_BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const ACCOUNT_ID = /^\d{12}$/;

function decimalFits(type: string): boolean {
  const m = /^decimal\((\d+),(\d+)\)$/.exec(type);
  if (!m) return true;
  const [p, s] = [Number(m[1]), Number(m[2])];
  return p >= 1 && p <= 38 && s >= 0 && s <= p;
}

const lakeType = z
  .string()
  .transform((t) => t.trim().toLowerCase().replace(/\s+/g, ''))
  .refine((t) => DYNAMO_LAKE_TYPE.test(t), { message: `is not a lake type for a DynamoDB attribute: ${DYNAMO_LAKE_TYPE_FIX}` })
  .refine(decimalFits, { message: 'decimal(p,s) needs 1 <= p <= 38 and 0 <= s <= p' });

export const attributesSchema = z
  .record(z.string().min(1, 'attribute names cannot be empty'), lakeType)
  .describe(
    'DynamoDB tables only: declared attributes by name (case-sensitive) and their lake types: string, decimal(p,s), bigint, int, double, boolean, binary, ' +
      'json (the value\'s DynamoDB JSON as text). Each becomes a typed lake column; the other attributes stay in the _attributes column as DynamoDB JSON.',
  );

const tableRef = z.string().superRefine((value, ctx) => {
  const arn = DYNAMODB_TABLE_ARN.test(value);
  if (!arn && value.startsWith('arn:')) {
    ctx.addIssue({ code: 'custom', message: 'is not a DynamoDB table ARN (arn:aws:dynamodb:<region>:<account>:table/<name>): give the ARN or the table name', input: value });
    return;
  }
  const problem = dynamoTableNameProblem(dynamoTableNameOf(value));
  if (problem) ctx.addIssue({ code: 'custom', message: problem, input: value });
});

export const exportWindowSchema = z
  .object({
    maxHours: z
      .number()
      .min(EXPORT_WINDOW_HOURS.min, WINDOW_RULE)
      .max(EXPORT_WINDOW_HOURS.max, WINDOW_RULE)
      .default(EXPORT_WINDOW_DEFAULTS.maxHours)
      .describe("The longest incremental export window, in hours (0.5..24: DynamoDB's windows are 15 minutes to 24 hours)."),
    maxWindows: z
      .number()
      .int('must be a whole number')
      .min(1, 'must be between 1 and 30')
      .max(MAX_WINDOWS, `must be between 1 and ${MAX_WINDOWS}: a longer gap is cheaper as one FULL export`)
      .default(EXPORT_WINDOW_DEFAULTS.maxWindows)
      .describe('A gap since the last load is split into up to this many incremental windows; a longer one is replaced by a FULL export.'),
  })
  .strict()
  .describe('How a cycle covers the time since a table\'s last load with incremental exports.');

export const dynamodbSourceSchema = z
  .object({
    kind: z.literal('dynamodb'),
    region: z.string().regex(REGION, 'must be an AWS region such as eu-west-1').describe('The region of the DynamoDB tables.'),
    endpoint: z
      .string()
      .url('must be a URL such as http://127.0.0.1:5000')
      .optional()
      .describe('The embedded DynamoDB (moto server) of the local backend; required with backend local, never set with backend aws.'),
    tables: z
      .array(tableRef)
      .min(1, 'list at least one table, or leave tables out to sync every table ListTables returns')
      .optional()
      .describe('Table names or ARNs; default every table ListTables returns.'),
    export: z
      .object({
        bucket: z.string().regex(S3_BUCKET, 'must be an S3 bucket name'),
        prefix: z.string().default('lakesync/dynamodb'),
        kmsKeyId: z.string().min(1, 'name the KMS key (ARN, id or alias), or leave kmsKeyId out for SSE-S3').optional().describe('SSE-KMS key of the export files; default SSE-S3.'),
        bucketOwner: z
          .string()
          .regex(ACCOUNT_ID, 'must be the 12-digit id of the AWS account that owns the bucket, e.g. "123456789012" (quoted in YAML)')
          .optional()
          .describe("The AWS account that owns the bucket (S3BucketOwner), when it is another account than the tables': DynamoDB requires it for an export to another account's bucket."),
      })
      .strict()
      .optional()
      .describe('Where DynamoDB writes its exports (S3Bucket, S3Prefix); required with backend aws.'),
    exportWindow: exportWindowSchema.optional(),
  })
  .strict()
  .describe('Amazon DynamoDB tables, read by point-in-time exports (full, then incremental); point-in-time recovery must be on.');

export type DynamodbSource = z.infer<typeof dynamodbSourceSchema>;

export interface DynamoProblem {
  path: (string | number)[];
  message: string;
}

/** Table settings that have no meaning for a DynamoDB table, and why. */
const REFUSED_ON_DYNAMODB: Record<string, string> = {
  primaryKey: "its key is the table's partition key (and sort key), read from DynamoDB",
  cursor: 'DynamoDB tables load from point-in-time exports (full, then incremental), not by a cursor column',
  action: 'the action follows the lake and the export windows (create, merge, replace)',
  extract: 'DynamoDB tables are always read from DynamoDB exports',
  direct: 'DynamoDB tables are always read from DynamoDB exports',
};

interface TableShape {
  attributes?: Record<string, string> | undefined;
  columns?: Record<string, { exclude?: boolean | undefined; hash?: boolean | undefined; type?: string | undefined }> | undefined;
  [field: string]: unknown;
}

interface SourceShape {
  backend: string;
  source: { kind: string; endpoint?: string | undefined; export?: unknown; region?: string | undefined; tables?: unknown };
  tables: Record<string, TableShape>;
}

/** The config's rules on DynamoDB sources and on `attributes` (the table key is checked at plan time). */
export function dynamoSourceProblems(s: SourceShape): DynamoProblem[] {
  const problems: DynamoProblem[] = [];
  if (s.source.kind !== 'dynamodb') {
    for (const [table, t] of Object.entries(s.tables)) {
      if (t.attributes !== undefined) {
        problems.push({ path: ['tables', table, 'attributes'], message: `attributes apply to DynamoDB tables only (source.kind dynamodb), and this source is ${s.source.kind}: remove attributes (use columns.<column>.type)` });
      }
    }
    return problems;
  }
  if (s.backend === 'aws' && s.source.export === undefined) {
    problems.push({ path: ['source', 'export'], message: 'backend aws has DynamoDB write its exports to S3: add source.export: { bucket: <bucket>, prefix: lakesync/dynamodb } (kmsKeyId optional)' });
  }
  if (s.backend === 'aws' && s.source.endpoint !== undefined) {
    problems.push({ path: ['source', 'endpoint'], message: 'source.endpoint points at an embedded DynamoDB, and backend aws reads the real one: remove source.endpoint (or use backend local)' });
  }
  if (s.backend === 'local' && s.source.endpoint === undefined) {
    problems.push({ path: ['source', 'endpoint'], message: 'backend local reads the embedded DynamoDB (moto server): set source.endpoint, e.g. http://127.0.0.1:5000' });
  }
  for (const [i, ref] of (Array.isArray(s.source.tables) ? s.source.tables : []).entries()) {
    const problem = typeof ref === 'string' ? arnRegionProblem(ref, s.source.region) : undefined;
    if (problem) problems.push({ path: ['source', 'tables', i], message: problem });
  }
  for (const [table, t] of Object.entries(s.tables)) {
    const name = dynamoNameOfKey(table);
    if (name === undefined) {
      problems.push({ path: ['tables', table], message: `DynamoDB tables are keyed ${DYNAMODB_SCHEMA}.<TableName>: rename the key to ${DYNAMODB_SCHEMA}.${table.split('.').pop()}` });
    } else {
      const problem = dynamoTableNameProblem(name);
      if (problem) problems.push({ path: ['tables', table], message: problem });
    }
    for (const [field, why] of Object.entries(REFUSED_ON_DYNAMODB)) {
      if (t[field] !== undefined) problems.push({ path: ['tables', table, field], message: `${field} does not apply to a DynamoDB table (${why}): remove ${field}` });
    }
    for (const [attribute, declared] of Object.entries(t.attributes ?? {})) {
      const c = t.columns?.[attribute];
      if (c?.exclude) {
        problems.push({ path: ['tables', table, 'columns', attribute, 'exclude'], message: `"${attribute}" is declared in attributes and excluded in columns: remove one of them` });
      } else if (c?.type !== undefined && !c.hash && DYNAMO_POLICY_TYPE.test(c.type)) {
        const why = declaredCastProblem(declared, c.type);
        if (why) {
          problems.push({
            path: ['tables', table, 'columns', attribute, 'type'],
            message:
              `tables."${table}": attribute ${attribute} is declared ${declared}, and columns.${attribute}.type ${c.type} cannot be cast from ${declared} (${why}): ` +
              `declare it ${c.type} (attributes: { ${attribute}: ${c.type} }) if its DynamoDB values are of that type, or remove type`,
          });
        }
      }
    }
  }
  return problems;
}

/**
 * A table ARN of another region than the source's: the catalog reads tables by name in
 * source.region, so it would sync that region's table of the same name, or find none.
 */
function arnRegionProblem(ref: string, region: string | undefined): string | undefined {
  const arn = DYNAMODB_TABLE_ARN.exec(ref);
  const arnRegion = ref.split(':')[3];
  if (!arn || region === undefined || arnRegion === region) return undefined;
  return `is a table of region ${arnRegion}, and source.region is ${region}: lakesync reads the tables of source.region only (a source per region); list ${arn[1]} under a source with region ${arnRegion}`;
}

/** Which lake types each DynamoDB key type can hold without loss. */
const KEY_TYPES: Record<DynamoKeyAttribute['type'], { fits: (t: string) => boolean; text: string; name: string }> = {
  S: { fits: (t) => t === 'string', text: 'string', name: 'string' },
  N: { fits: (t) => t === 'bigint' || t === 'int' || t === 'string' || /^decimal\(/.test(t), text: 'decimal(p,s), bigint, int or string', name: 'number' },
  B: { fits: (t) => t === 'binary', text: 'binary', name: 'binary' },
};

/** The policies a `columns:` entry of a DynamoDB table may carry only on a key or declared attribute. */
const TYPED_POLICIES = ['hash', 'rename', 'type', 'onInvalid'] as const;

/** Lake types a `columns.<attribute>.type` may cast a DynamoDB value to (the job's POLICY_TYPES). */
const DYNAMO_POLICY_TYPE = /^(string|bigint|int|double|boolean|decimal\(\d+,\d+\))$/;

const isNumberType = (t: string) => t === 'bigint' || t === 'int' || t === 'double' || t.startsWith('decimal(');

/**
 * Why `columns.<attribute>.type` cannot read a declared (non-key) attribute of lake type `declared`
 * (undefined when it can). The job reads the value as the policy's type, and also from the DynamoDB
 * type the declaration names where that has one exact reading: a number's or a boolean's text as a
 * string, a string's number text as a number (number types read each other's DynamoDB numbers). Every
 * pair a key attribute may take (both types hold its key type) is one of these, so the rule holds
 * before the key is known. The job's rule: declared_cast_problem (glue/lakesync_glue/dynamodb_args.py).
 */
export function declaredCastProblem(declared: string, type: string): string | undefined {
  if (type === declared) return undefined;
  if ((isNumberType(declared) || declared === 'string') && (isNumberType(type) || type === 'string')) return undefined;
  if (declared === 'boolean' && type === 'string') return undefined;
  if (declared === 'binary') return 'binary has no one text (base64, hex or UTF-8) and no number';
  if (declared === 'json') return 'a json attribute is already stored as text, its DynamoDB JSON';
  if (declared === 'boolean') return 'a boolean is no number';
  return `which ${declared} values would be true is a guess`;
}

interface ColumnShape {
  exclude?: boolean | undefined;
  hash?: boolean | undefined;
  rename?: string | undefined;
  type?: string | undefined;
  onInvalid?: string | undefined;
}

/**
 * The plan's checks of one DynamoDB table's settings against its key: a key attribute declared or
 * typed with a type its key type cannot hold, column policies that need a typed column on an
 * attribute that is neither key nor declared, that would break the key, or that no DynamoDB value
 * meets. The load job refuses the same settings, but only after the cycle's exports ran.
 */
export function dynamoAttributeProblems(table: string, key: readonly DynamoKeyAttribute[], attributes: Record<string, string>, columns: Record<string, ColumnShape> | undefined): string[] {
  const problems: string[] = [];
  for (const k of key) {
    const declared = attributes[k.name];
    const rule = KEY_TYPES[k.type];
    if (declared !== undefined && !rule.fits(declared)) {
      problems.push(
        `tables."${table}".attributes."${k.name}" is declared ${declared}, and ${k.name} is a key attribute of DynamoDB type ${k.type} (${rule.name}), which ${declared} cannot hold: declare it ${rule.text}, or leave it out (default ${defaultKeyType(k.type)})`,
      );
    }
  }
  for (const [name, c] of Object.entries(columns ?? {})) problems.push(...columnProblems(table, key, attributes, name, c));
  problems.push(...lakeNameProblems(table, key, attributes, columns));
  return problems;
}

/**
 * The problems the config alone tells, without the table's key (`lakesync plan` on its own lists
 * the tables without describing them): the lake names of the declared attributes and their
 * renames. Never more than dynamoAttributeProblems with the key finds.
 */
export function dynamoDeclaredNameProblems(table: string, attributes: Record<string, string>, columns: Record<string, ColumnShape> | undefined): string[] {
  return lakeNameProblems(table, [], attributes, columns);
}

/** The lake column of the attributes no key or declared attribute may take: the other attributes' DynamoDB JSON. */
export const OTHER_ATTRIBUTES_COLUMN = '_attributes';

/**
 * The typed attributes' lake names (the rename, else the name lowercased, as the job names them):
 * two attributes with one lake name, one named as the column of the other attributes, one with
 * the prefix of lakesync's own columns, or one named as an Iceberg metadata column or a column of
 * Spark's MERGE would fail the load, after the exports ran.
 */
function lakeNameProblems(table: string, key: readonly DynamoKeyAttribute[], attributes: Record<string, string>, columns: Record<string, ColumnShape> | undefined): string[] {
  const keyNames = new Set(key.map((k) => k.name));
  const typed = [...key.map((k) => k.name), ...Object.keys(attributes).filter((n) => !keyNames.has(n) && !columns?.[n]?.exclude)];
  const byLake = new Map<string, string[]>();
  for (const name of typed) {
    const lake = columns?.[name]?.rename ?? name.toLowerCase();
    byLake.set(lake, [...(byLake.get(lake) ?? []), name]);
  }
  const where = `tables."${table}"`;
  const rename = (name: string) => `columns: { ${name}: { rename: <lake name> } }`;
  const problems: string[] = [];
  for (const [lake, names] of byLake) {
    if (names.length > 1) problems.push(`${where}: attributes ${names.join(' and ')} would both become lake column "${lake}": rename one of them (${rename('<attribute>')})`);
    if (lake === OTHER_ATTRIBUTES_COLUMN) {
      problems.push(`${where}: attribute ${names[0]} would become lake column "${lake}", which holds the item's other attributes: rename it (${rename(names[0]!)})`);
    } else if ((ICEBERG_METADATA_COLUMNS as readonly string[]).includes(lake)) {
      problems.push(
        `${where}: attribute ${names[0]} would become lake column "${lake}", a name Iceberg reserves for its metadata columns (${ICEBERG_METADATA_COLUMNS.join(', ')}), so the lake table could never be read: rename it (${rename(names[0]!)})`,
      );
    } else if (lake.startsWith(RESERVED_COLUMN_PREFIX)) {
      problems.push(`${where}: attribute ${names[0]} would become lake column "${lake}", and lake columns starting with ${RESERVED_COLUMN_PREFIX} are lakesync's own: rename it (${rename(names[0]!)})`);
    } else if (isSparkMergeName(lake)) {
      // Every DynamoDB table is merged into by its key (its incremental exports).
      problems.push(
        `${where}: attribute ${names[0]} would become lake column "${lake}", a name Spark's MERGE uses for its own columns (${SPARK_MERGE_NAMES_TEXT}), so no incremental export could be merged into the lake table: rename it (${rename(names[0]!)})`,
      );
    }
  }
  return problems;
}

/** One `columns:` entry of a DynamoDB table against its key and declared attributes. */
function columnProblems(table: string, key: readonly DynamoKeyAttribute[], attributes: Record<string, string>, name: string, c: ColumnShape): string[] {
  const where = `tables."${table}".columns."${name}"`;
  const keyAttribute = key.find((k) => k.name === name);
  const used = TYPED_POLICIES.filter((p) => c[p] !== undefined && c[p] !== false);
  if (used.length > 0 && !keyAttribute && attributes[name] === undefined) {
    const keyNames = key.map((k) => k.name).join(', ');
    return [`${where} sets ${used.join(', ')}, and ${name} is neither a key attribute (${keyNames}) nor declared in attributes: declare it (attributes: { ${name}: <lake type> }) or remove ${used.join(', ')}`];
  }
  const problems: string[] = [];
  if (keyAttribute) {
    const what = c.exclude ? 'excluded' : c.hash ? 'hashed' : c.onInvalid === 'null' ? 'nulled on invalid values (onInvalid: null)' : undefined;
    if (what) problems.push(`${where} is a key attribute and cannot be ${what}: the load matches items by it; remove the policy`);
  }
  if (c.exclude) return problems; // an excluded attribute is never typed: its other policies do not apply
  if (c.onInvalid === 'clamp') {
    problems.push(`${where}.onInvalid clamp applies to dates and timestamps, which DynamoDB values never are: use onInvalid fail or null`);
  }
  if (c.type !== undefined && !DYNAMO_POLICY_TYPE.test(c.type)) {
    problems.push(`${where}.type ${c.type} is not a lake type a DynamoDB value can be cast to: use one of string, decimal(p,s), bigint, int, double, boolean, or remove type`);
  } else if (c.type !== undefined && keyAttribute && !KEY_TYPES[keyAttribute.type].fits(c.type)) {
    const rule = KEY_TYPES[keyAttribute.type];
    problems.push(`${where}.type is ${c.type}, and ${name} is a key attribute of DynamoDB type ${keyAttribute.type} (${rule.name}), which ${c.type} cannot hold: use ${rule.text}, or remove type`);
  }
  return problems;
}

/** The lake type of an undeclared key attribute. */
export function defaultKeyType(type: DynamoKeyAttribute['type']): string {
  return type === 'S' ? 'string' : type === 'N' ? 'decimal(38,0)' : 'binary';
}

export { MAX_WINDOWS };
