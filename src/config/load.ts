/** Reads lakesync.yaml and validates it; every problem names the field, the value and the fix. */
import { readFileSync, realpathSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { isPair, isScalar, isSeq, parse as parseYaml, parseDocument, visit } from 'yaml';
import type { z } from 'zod';
import { ConfigError, type ConfigIssue } from '../errors';
import { configSchema, type LakesyncConfig, type SourceConfig } from './schema';
import { glueJobName, LAKE_NAME_RULE, isValidLakeName } from '../names';
import { lakeNameCollisions, lakeTableName, selectTable, tableNameTemplateProblem } from './tables';
import { dynamoTableKey, dynamoTableNameOf } from '../dynamodb/names';
import { exactNumber } from '../verify-rows';

export function loadConfigFile(path: string): LakesyncConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError([{ path: '(file)', value: path, message: `cannot read the config file (${(err as Error).message}); pass --config <file> or create lakesync.yaml (lakesync init)` }]);
  }
  let raw: unknown;
  try {
    // Merge keys (`<<: *base`) let sources share settings, as YAML 1.1 configs commonly do.
    raw = parseYaml(text, { merge: true });
  } catch (err) {
    throw new ConfigError([{ path: '(file)', value: path, message: `is not valid YAML: ${(err as Error).message}` }]);
  }
  try {
    const inexact = inexactExpects(text);
    if (inexact.length > 0) throw new ConfigError(inexact);
    return parseConfig(raw);
  } catch (err) {
    // The same field may be wrong in several config files: the message says which one.
    if (err instanceof ConfigError) throw new ConfigError(err.issues, path);
    throw err;
  }
}

/**
 * A check's `expect` written as a number with more digits than a double holds (1234567890123456.78
 * reads as 1234567890123456.8): the check would compare the answer with the rounded number, passing
 * an answer that is not the one written. Refused, as the schema refuses an integer beyond 2^53 (left
 * to it); a number a double holds exactly, however written (5.00, 1.0E10), is kept.
 */
function inexactExpects(text: string): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  visit(parseDocument(text, { merge: true }), {
    Pair(_, pair, ancestors) {
      if (!isScalar(pair.key) || pair.key.value !== 'expect' || !isScalar(pair.value)) return;
      const { value, source } = pair.value;
      if (typeof value !== 'number' || typeof source !== 'string' || !Number.isFinite(value)) return;
      if (Number.isInteger(value) && !Number.isSafeInteger(value)) return;
      const written = exactNumber(source);
      if (written === undefined || written === exactNumber(String(value))) return;
      const path = yamlPath([...ancestors, pair]);
      if (!/(^|\.)verify\.checks\.\d+\.expect$/.test(path)) return;
      issues.push({
        path,
        value: source,
        message: `is ${source}, a number with more digits than a YAML number holds exactly (it reads as ${value}, which the answer would be compared with): write it in quotes, and the answer is compared with that text`,
      });
    },
  });
  return issues;
}

/** The dotted path of a YAML node from its ancestors: map keys, and indexes in sequences. */
function yamlPath(nodes: readonly unknown[]): string {
  const parts: string[] = [];
  nodes.forEach((node, i) => {
    if (isPair(node) && isScalar(node.key)) parts.push(String(node.key.value));
    else if (isSeq(node) && i + 1 < nodes.length) parts.push(String(node.items.indexOf(nodes[i + 1] as never)));
  });
  return parts.join('.');
}

export function parseConfig(raw: unknown): LakesyncConfig {
  const reserved = reservedKeyIssues(raw, []);
  if (reserved.length > 0) throw new ConfigError(reserved);
  const parsed = configSchema.safeParse(raw, { reportInput: true, error: ruleMessage });
  if (!parsed.success) throw new ConfigError(parsed.error.issues.map((issue) => toIssue(issue, raw)));
  const issues = [...Object.entries(parsed.data.sources).flatMap(([name, source]) => crossFieldIssues(name, source)), ...sharedWorkDirIssues(parsed.data.sources), ...sharedGlueJobIssues(parsed.data.sources), ...sharedLakeTableIssues(parsed.data.sources)];
  if (issues.length > 0) throw new ConfigError(issues);
  return parsed.data;
}

/**
 * Keys named `__proto__`: a parsed record drops them silently (JavaScript sets the prototype
 * instead), so a policy on a column of that name would never apply. Refused instead.
 */
function reservedKeyIssues(value: unknown, path: string[]): ConfigIssue[] {
  if (value === null || typeof value !== 'object') return [];
  return Object.keys(value).flatMap((key) => {
    const child = [...path, key];
    if (key === '__proto__') {
      return [{ path: child.join('.'), value: key, message: 'a key named __proto__ cannot be read (JavaScript reserves the name): rename the column or table in the source, or exclude the whole table' }];
    }
    return reservedKeyIssues((value as Record<string, unknown>)[key], child);
  });
}

/** The settings of one source; `file`, the config file it was read from, is named when there is no such source. */
export function sourceConfig(config: LakesyncConfig, source: string, file?: string): SourceConfig {
  const found = config.sources[source];
  if (!found) {
    const known = Object.keys(config.sources).join(', ');
    throw new ConfigError([{ path: `sources.${source}`, value: source, message: `no such source; the config defines: ${known}` }], file);
  }
  return found;
}

/**
 * Two embedded-mode sources in one work dir would share one Iceberg warehouse (a lake table of
 * one overwriting the other's), one load runner and one grant store: refused, naming both. The
 * work dir is resolved as the port factory resolves it (src/backends/local.ts: local.workDir, else
 * .lakesync/data/<source>, relative to the working directory), then through symbolic links.
 */
function sharedWorkDirIssues(sources: Record<string, SourceConfig>): ConfigIssue[] {
  const owners = new Map<string, string>();
  const issues: ConfigIssue[] = [];
  for (const [name, source] of Object.entries(sources)) {
    if (source.backend !== 'local' || source.source.kind === 'fake') continue;
    const workDir = realDir(resolve(source.local.workDir ?? join('.lakesync', 'data', name)));
    const first = owners.get(workDir);
    if (first === undefined) {
      owners.set(workDir, name);
      continue;
    }
    issues.push({
      path: `sources.${name}.local.workDir`,
      value: source.local.workDir,
      message: `sources ${first} and ${name} share the work dir ${workDir} (exports, the Iceberg warehouse, the load runner and grants), so one would overwrite the other's lake tables: give each source a workDir of its own`,
    });
  }
  return issues;
}

/** An absolute path with its nearest existing ancestor's symbolic links resolved: two names of one directory compare equal. */
function realDir(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    const parent = dirname(path);
    return parent === path ? path : join(realDir(parent), basename(path));
  }
}

/**
 * Sources that run the same Glue job (one aws.glue.jobName in one account and Region) must need
 * the same job definition: the job has one, and each source's worker writes its own when it
 * starts, so with different ones every start would rewrite the job for one source and the
 * other's runs would run with its role, connection, timeout and concurrency. Refused, naming
 * both sources and the settings. These are the settings the job definition is made of
 * (src/aws/glue-job.ts, jobSpec); a run's own settings (execution class, sizing) may differ.
 */
function sharedGlueJobIssues(sources: Record<string, SourceConfig>): ConfigIssue[] {
  const owners = new Map<string, { name: string; definition: Record<string, unknown> }>();
  const issues: ConfigIssue[] = [];
  for (const [name, source] of Object.entries(sources)) {
    const aws = source.aws;
    if (source.backend !== 'aws' || source.source.kind === 'fake' || !aws) continue;
    const jobName = glueJobName(name, aws.glue.jobName);
    const key = JSON.stringify([aws.endpoint ?? '', aws.accountId, aws.region, jobName]);
    const definition = glueJobDefinition(source);
    const first = owners.get(key);
    if (!first) {
      owners.set(key, { name, definition });
      continue;
    }
    const differing = Object.keys(definition).filter((setting) => definition[setting] !== first.definition[setting]);
    if (differing.length === 0) continue;
    const shown = (value: unknown) => (value === undefined ? '(none)' : JSON.stringify(value));
    issues.push({
      path: `sources.${name}.aws.glue.jobName`,
      value: jobName,
      message:
        `sources ${first.name} and ${name} run the same Glue job ${jobName} with different job settings (${differing.map((s) => `${s} ${shown(first.definition[s])} and ${shown(definition[s])}`).join('; ')}): ` +
        `the job has one definition, so each would rewrite it for itself and the other's runs would run with it; ` +
        `give each source its own aws.glue.jobName (the default is lakesync-load-<source>), or the same settings`,
    });
  }
  return issues;
}

/**
 * Two aws sources that load the same lake table (one table bucket, namespace and lake table name):
 * each source's loads would merge into, or replace, the other's rows, and neither source's ledger
 * or lineage knows of the other. Only the tables a config names can be compared before their
 * catalogs are read: `tables:` keys the rules include, and a DynamoDB source's source.tables.
 * Refused, naming both sources, their tables and the lake table.
 */
function sharedLakeTableIssues(sources: Record<string, SourceConfig>): ConfigIssue[] {
  const owners = new Map<string, { name: string; table: string }>();
  const issues: ConfigIssue[] = [];
  for (const [name, source] of Object.entries(sources)) {
    const aws = source.aws;
    if (source.backend !== 'aws' || source.source.kind === 'fake' || !aws) continue;
    for (const table of namedTables(source)) {
      const lake = lakeTableName(source, table);
      const key = JSON.stringify([aws.endpoint ?? '', aws.accountId, aws.region, aws.tableBucket.name, source.target.namespace, lake]);
      const first = owners.get(key);
      if (!first) {
        owners.set(key, { name, table });
        continue;
      }
      if (first.name === name) continue;
      issues.push({
        path: `sources.${name}.${source.tables[table] ? 'tables' : 'source.tables'}.${table}`,
        value: table,
        message:
          `sources ${first.name} (${first.table}) and ${name} (${table}) both load lake table ${source.target.namespace}.${lake} in table bucket ${aws.tableBucket.name}: ` +
          `each source's loads would merge into or replace the other's rows; give one a lakeName, another target.namespace, or a target.tableName with {database} (and databases of different names)`,
      });
    }
  }
  return issues;
}

/** The tables a source's config names and syncs: its `tables:` keys the rules include, and a DynamoDB source's listed tables. */
function namedTables(source: SourceConfig): string[] {
  const listed = source.source.kind === 'dynamodb' ? (source.source.tables ?? []).map((ref) => dynamoTableKey(dynamoTableNameOf(ref))) : [];
  return [...new Set([...Object.keys(source.tables), ...listed])].filter((table) => selectTable(source, table).included);
}

/** The settings of a source that make up its Glue job's definition (src/aws/glue-job.ts, jobSpec). */
function glueJobDefinition(source: SourceConfig): Record<string, unknown> {
  const glue = source.aws!.glue;
  const direct = Object.values(source.tables).some((t) => t.extract === 'direct');
  return {
    roleArn: glue.roleArn,
    scriptBucket: glue.scriptBucket,
    scriptPrefix: glue.scriptPrefix.replace(/^\/+|\/+$/g, ''),
    workerType: glue.workerType,
    numberOfWorkers: glue.numberOfWorkers,
    maxConcurrentRuns: glue.maxConcurrentRuns,
    jobRunQueuing: glue.jobRunQueuing,
    timeoutMinutes: glue.timeoutMinutes,
    // The job runs in the source's VPC only when the source has direct tables.
    glueConnection: direct && source.source.kind === 'rds' ? source.source.catalog?.glueConnection : undefined,
  };
}

/** Rules that span fields: the table name template, lake names of configured tables and checks on excluded tables. */
function crossFieldIssues(name: string, source: SourceConfig): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const template = tableNameTemplateProblem(source.target.tableName);
  if (template) issues.push({ path: `sources.${name}.target.tableName`, value: source.target.tableName, message: template });
  const tables = Object.keys(source.tables);
  for (const table of tables) {
    const lake = lakeTableName(source, table);
    if (!isValidLakeName(lake)) {
      issues.push({ path: `sources.${name}.tables.${table}`, value: lake, message: `maps to an invalid lake table name (lake names are ${LAKE_NAME_RULE}): set lakeName or change target.tableName` });
    }
  }
  for (const group of lakeNameCollisions(source, tables)) {
    issues.push({
      path: `sources.${name}.tables`,
      value: group,
      message: `these tables map to the same lake table "${lakeTableName(source, group[0]!)}": give one of them a lakeName`,
    });
  }
  const jobName = source.aws?.glue.jobName;
  if (jobName !== undefined) {
    const problem = glueJobNameProblem(glueJobName(name, jobName));
    if (problem) issues.push({ path: `sources.${name}.aws.glue.jobName`, value: glueJobName(name, jobName), message: problem });
  }
  source.verify.checks.forEach((check, i) => {
    if (!selectTable(source, check.table).included) {
      issues.push({ path: `sources.${name}.verify.checks.${i}.table`, value: check.table, message: 'the check names a table this source does not sync: fix include/exclude or the table' });
    }
  });
  return issues;
}

/**
 * Glue's CreateJob takes a Name of 1 to 255 bytes (UTF-8) on a single line (no control character
 * but tab): checked with {source} replaced, before the worker creates the job.
 */
function glueJobNameProblem(jobName: string): string | undefined {
  const bytes = Buffer.byteLength(jobName, 'utf8');
  if (bytes > 255) return `is ${bytes} bytes long, and a Glue job name is at most 255: give a shorter name`;
  if ([...jobName].some((c) => c.charCodeAt(0) < 0x20 && c !== '\t')) return 'holds a line break or control character, which a Glue job name cannot: give a name on one line';
  return undefined;
}

function toIssue(issue: z.core.$ZodIssue, raw: unknown): ConfigIssue {
  const path = issue.path.map(String).join('.');
  const input = 'input' in issue ? issue.input : undefined;
  // A cross-field rule's input is the object it checks: the value shown is the one at its path (none when unset).
  const value = issue.code === 'custom' && typeof input === 'object' && input !== null ? valueAt(raw, issue.path) : input;
  return { path, value: summarise(value), message: humanise(issue) };
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let value = root;
  for (const key of path) {
    if (value === null || typeof value !== 'object' || !Object.hasOwn(value, key)) return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

function humanise(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') return `unknown field(s) ${issue.keys.join(', ')}: remove them or check the spelling`;
  if (issue.code === 'invalid_type' && issue.input === undefined) return `is required (${issue.expected})`;
  // YAML reads a key with nothing after it as null, and .inf, .nan or 1e400 as numbers JSON cannot hold.
  if (issue.code === 'invalid_type' && issue.input === null) return `is empty: give ${EMPTY_FIX[issue.expected] ?? `a ${issue.expected}`}, or remove it`;
  if (issue.code === 'invalid_type' && typeof issue.input === 'number' && !Number.isFinite(issue.input)) return 'must be a finite number';
  // `accountId: 012345678901` or `database: 2024`: YAML reads a number where text is wanted.
  if (issue.code === 'invalid_type' && issue.expected === 'string' && (typeof issue.input === 'number' || typeof issue.input === 'boolean')) {
    return `YAML reads it as a ${typeof issue.input} and it must be text: put the value in quotes as written${typeof issue.input === 'number' ? ' (an unquoted number loses its leading zeros)' : ''}`;
  }
  if (issue.code === 'invalid_key') return issue.issues.map((i) => i.message).join('; ');
  return issue.message;
}

/**
 * The message of a bound or type rule that the schema states without its own words, saying what
 * the value must be (the fix) rather than zod's "Too big: expected number to be <=500". Rules with
 * a message of their own keep it: zod asks this only for the others.
 */
function ruleMessage(issue: z.core.$ZodRawIssue): string | undefined {
  if (issue.code === 'too_big' || issue.code === 'too_small') {
    const big = issue.code === 'too_big';
    const limit = Number(big ? issue.maximum : issue.minimum);
    const exclusive = issue.inclusive === false;
    if (issue.origin === 'number' || issue.origin === 'int') {
      return `must be ${big ? (exclusive ? 'less than' : 'at most') : exclusive ? 'more than' : 'at least'} ${limit}`;
    }
    const unit = issue.origin === 'string' ? 'character' : issue.origin === 'array' || issue.origin === 'set' ? 'item' : undefined;
    if (unit) {
      if (!big && limit === 1) return issue.origin === 'string' ? 'cannot be empty' : 'cannot be an empty list: list at least one';
      return `must have ${big ? 'at most' : 'at least'} ${limit} ${unit}${limit === 1 ? '' : 's'}`;
    }
  }
  if (issue.code === 'invalid_type' && issue.expected === 'int' && typeof issue.input === 'number' && Number.isFinite(issue.input)) return 'must be a whole number';
  if (issue.code === 'invalid_value' && issue.values.length > 1) return `must be one of ${issue.values.map(String).join(', ')}`;
  return undefined;
}

const EMPTY_FIX: Record<string, string> = { object: 'its settings (an object)', array: 'a list' };

/** Keeps error messages readable when the offending value is a whole object; Infinity and NaN as text, where JSON would show null. */
function summarise(value: unknown): unknown {
  if (value === undefined || value === null) return value;
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  if (typeof value === 'object') return Array.isArray(value) ? `[array of ${value.length}]` : '{object}';
  return value;
}
