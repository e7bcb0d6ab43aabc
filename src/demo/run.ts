/**
 * The demo: a local Temporal dev server with its Web UI, a worker and the embedded PGlite shop;
 * cycle 1 creates the lake; inserts, updates, deletes and a new column are merged by cycle 2;
 * cycle 3 meets a mass delete that the delete guard refuses for one table while the others commit;
 * the approved rerun of that table finishes the job. After each cycle every lake table is
 * compared with its source table, row by row.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { loadConfigFile } from '../config/load';
import type { LakesyncConfig } from '../config/schema';
import { lakeTableName, selectTable } from '../config/tables';
import { type DevServer, freePort, startDevServer } from '../devserver';
import { defaultDataRoot } from '../backends';
import { localSettings } from '../backends/local';
import { layoutOf, sourceSpec } from '../local';
import { RunnerClient } from '../local/runner/client';
import { type EmbeddedDynamo, startEmbeddedDynamo } from '../local/dynamodb/moto-server';
import { acquireSource, type SourceHandle } from '../local/source/registry';
import type { CycleResult } from '../model';
import type { GrantRecord } from '../ports';
import { createWorker } from '../worker';
import { SEARCH_ATTRIBUTE_TYPES } from '../workflows/search';
import { applyChange, MASS_DELETE, NEW_COLUMN, ROW_CHANGES, type SourceChange } from './changes';
import { MAX_ROWS } from '../cli/commands/query';
import { jsonOf, lakesync } from './cli';
import { compareTable, type TableComparison } from './compare';
import { compareDynamoTable } from './compare-dynamodb';
import { createDynamoTable, DEMO_DYNAMO_TABLE, DYNAMO_CHANGES, embeddedDynamoClient, scanAll, seedOrders } from './dynamodb';
import { formatLines, type TableLine, tableLines } from './summary';

export const DEMO_SOURCE = 'demo';
/** The demo's DynamoDB source: one table on the embedded DynamoDB (moto server), into the same namespace. */
export const DEMO_DYNAMO_SOURCE = 'demo-ddb';
const GUARDED_TABLE = 'public.order_items';

export interface DemoOptions {
  /** Folder the demo runs in (the repository root); paths in the config are relative to it. */
  root: string;
  configFile: string;
  /** Web UI port; 8233 when free. */
  uiPort?: number;
  log(line: string): void;
  /** Awaited after the story and before everything stops (e.g. to browse the Web UI). */
  beforeShutdown?(report: DemoReport): Promise<void>;
}

export interface PhaseTime {
  phase: string;
  seconds: number;
}

export interface CycleReport {
  label: string;
  command: string;
  status: string;
  expected: string;
  tables: TableLine[];
}

export interface DemoReport {
  ok: boolean;
  uiUrl?: string;
  phases: PhaseTime[];
  cycles: CycleReport[];
  grants: GrantRecord[];
  problems: string[];
  totalSeconds: number;
}

/** Runs the whole demo and stops everything it started; `ok` only when every check passed. */
export async function runDemo(options: DemoOptions): Promise<DemoReport> {
  const { log } = options;
  const started = Date.now();
  const phases: PhaseTime[] = [];
  const timed = async <T>(phase: string, fn: () => Promise<T>): Promise<T> => {
    const t0 = Date.now();
    try {
      return await fn();
    } finally {
      phases.push({ phase, seconds: (Date.now() - t0) / 1000 });
    }
  };
  const report: DemoReport = { ok: false, phases, cycles: [], grants: [], problems: [], totalSeconds: 0 };
  const cleanups: (() => Promise<void>)[] = [];

  process.chdir(options.root);
  try {
    // The refused load of cycle 3 is part of the story: only errors of the SDK itself are shown.
    Runtime.install({ logger: new DefaultLogger('ERROR') });
  } catch {
    // Already installed in this process.
  }
  let configFile = options.configFile;
  let config = loadConfigFile(configFile);
  const source = config.sources[DEMO_SOURCE];
  if (!source) throw new Error(`${options.configFile} has no source "${DEMO_SOURCE}"`);
  const settings = localSettings(DEMO_SOURCE, source, defaultDataRoot(options.root));
  const layout = layoutOf(settings.workDir);
  const spec = sourceSpec(settings, layout);

  try {
    // A fresh start: the demo's own folders only.
    rmSync(layout.root, { recursive: true, force: true });
    if (spec.kind === 'pglite') rmSync(spec.dataDir, { recursive: true, force: true });

    log('starting the local Temporal dev server, the embedded PGlite shop and Spark (in parallel)');
    const runner = new RunnerClient(layout, { log });
    const dynamoSource = config.sources[DEMO_DYNAMO_SOURCE];
    const [server, db, dynamoServer] = await timed('start: Temporal, PGlite, DynamoDB and Spark', async () => {
      const uiPort = options.uiPort ?? ((await portFree(8233)) ? 8233 : await freePort());
      const serverStarting = startDevServer({ dbFile: join(layout.root, 'temporal', 'temporal.db'), uiPort, searchAttributes: SEARCH_ATTRIBUTE_TYPES });
      // Spark takes longest to start: warm it up now; the worker's loads attach to this runner.
      const sparkStarting = runner.ensure();
      const dbOpening = acquireSource(spec);
      const dynamoStarting = dynamoSource ? startEmbeddedDynamo() : Promise.resolve(undefined);
      const [serverResult, sparkResult, dbResult, dynamoResult] = await Promise.allSettled([serverStarting, sparkStarting, dbOpening, dynamoStarting]);
      // Whatever started is stopped at the end, even when something else failed to start.
      if (serverResult.status === 'fulfilled') cleanups.push(() => serverResult.value.stop());
      if (dbResult.status === 'fulfilled') cleanups.push(() => dbResult.value.release());
      if (dynamoResult.status === 'fulfilled' && dynamoResult.value) {
        const started = dynamoResult.value;
        cleanups.push(() => started.stop());
      }
      cleanups.push(() => runner.close());
      for (const r of [serverResult, sparkResult, dbResult, dynamoResult]) if (r.status === 'rejected') throw r.reason;
      return [(serverResult as PromiseFulfilledResult<DevServer>).value, (dbResult as PromiseFulfilledResult<SourceHandle>).value, (dynamoResult as PromiseFulfilledResult<EmbeddedDynamo | undefined>).value] as const;
    });
    if (dynamoServer) {
      // The config names the DynamoDB the demo just started: the commands and the worker read this copy.
      configFile = withDynamoEndpoint(options.configFile, join(layout.root, 'demo.yaml'), dynamoServer.endpoint);
      config = loadConfigFile(configFile);
      log(`embedded DynamoDB (moto server): ${dynamoServer.endpoint}`);
    }
    report.uiUrl = server.uiUrl;
    log(`Temporal Web UI: ${server.uiUrl}  (workflows of source ${DEMO_SOURCE}: lakesync/${DEMO_SOURCE})`);
    // The in-process `lakesync` commands reach this server, and link to its Web UI.
    process.env.TEMPORAL_ADDRESS = server.address;
    if (server.uiUrl) process.env.LAKESYNC_UI_URL = server.uiUrl;

    const worker = await timed('start: worker', () => createWorker({ config, dataRoot: defaultDataRoot(options.root) }));
    const running = worker.worker.run();
    cleanups.push(async () => {
      worker.worker.shutdown();
      await running.catch(() => undefined);
      await worker.close();
    });

    type Compare = (result: CycleResult) => Promise<TableComparison[]>;
    const cycle = async (label: string, args: string[], expected: string, compare: Compare = (r) => compareCommitted(db, config, r, configFile)): Promise<CycleResult> => {
      log('');
      log(`== ${label}: lakesync ${args.join(' ')}`);
      const result = await timed(label, async () => jsonOf<CycleResult>(await lakesync([...args, '--config', configFile]), args[0]!));
      const comparisons = await timed(`${label}: lake = source check`, () => compare(result));
      const lines = tableLines(result, comparisons);
      const seconds = (Date.parse(result.finishedAt) - Date.parse(result.startedAt)) / 1000;
      log(`cycle ${result.cycleId}: ${result.status} in ${seconds.toFixed(1)} s (expected: ${expected})`);
      for (const line of formatLines(lines)) log(`  ${line}`);
      report.cycles.push({ label, command: `lakesync ${args.join(' ')}`, status: result.status, expected, tables: lines });
      return result;
    };
    const change = async (c: SourceChange) => {
      log('');
      log(`-- source change: ${c.description}`);
      await timed(`change: ${c.name}`, () => applyChange(db.db, c));
    };

    const included = (r: CycleResult) => r.tables.filter((t) => selectTable(source, t.table).included).map((t) => t.table);

    const first = await cycle('cycle 1 (create)', ['sync', DEMO_SOURCE, '--wait', '--json'], 'succeeded: every included table created and verified');
    expectCycle(report, first, 'succeeded', included(first), []);
    if (!first.tables.some((t) => t.status === 'skipped' && /excluded/.test(t.reason ?? ''))) report.problems.push('cycle 1: the PII table was not reported as excluded');

    await change(ROW_CHANGES);
    await change(NEW_COLUMN);
    const second = await cycle('cycle 2 (merge, schema evolution)', ['sync', DEMO_SOURCE, '--wait', '--json'], 'succeeded: inserts, updates, deletes merged; loyalty_points added');
    expectCycle(report, second, 'succeeded', included(second), []);

    await change(MASS_DELETE);
    const third = await cycle('cycle 3 (delete guard)', ['sync', DEMO_SOURCE, '--wait', '--json'], `partial: ${GUARDED_TABLE} refused by the delete guard, the others committed`);
    expectCycle(report, third, 'partial', included(third).filter((t) => t !== GUARDED_TABLE), [GUARDED_TABLE]);
    const refused = third.tables.find((t) => t.table === GUARDED_TABLE);
    if (refused?.error?.type !== 'DeleteGuard') report.problems.push(`cycle 3: ${GUARDED_TABLE} should fail with DeleteGuard, got ${refused?.error?.type ?? refused?.status}`);
    // What an operator sees now: the partial cycle and the table waiting for a decision.
    const status = await timed('status', () => lakesync(['status', DEMO_SOURCE, '--config', configFile]));
    log('');
    log(`== lakesync status ${DEMO_SOURCE}`);
    for (const line of status.stdout.trimEnd().split('\n')) log(`  ${line}`);

    const rerun = await cycle('rerun (approved deletes)', ['rerun', DEMO_SOURCE, '--tables', GUARDED_TABLE, '--approve-deletes', '--wait', '--json'], `succeeded: ${GUARDED_TABLE} loaded from the same export with its deletes`);
    expectCycle(report, rerun, 'succeeded', [GUARDED_TABLE], []);
    if (rerun.export?.exportId !== third.export?.exportId) report.problems.push('the rerun did not reuse the export of cycle 3');

    if (dynamoServer && dynamoSource) {
      // A DynamoDB table next to the shop's tables: a full export creates it, an incremental one merges the changes.
      const client = embeddedDynamoClient(dynamoServer.endpoint, dynamoSource.source.kind === 'dynamodb' ? dynamoSource.source.region : 'us-east-1');
      cleanups.push(async () => client.destroy());
      await timed('DynamoDB: create and seed Orders', async () => {
        await createDynamoTable(client, DEMO_DYNAMO_TABLE, [{ name: 'orderId', type: 'S', role: 'HASH' }]);
        await seedOrders(client);
      });
      const dynamoCompare: Compare = (r) => compareDynamo(client, config, r, configFile);
      // A cycle exports the table as of its start, in whole seconds: the writes before it must be older than that.
      const wholeSecond = () => new Promise((resolveWait) => setTimeout(resolveWait, 1_100));
      await wholeSecond();
      const ddbFirst = await cycle('DynamoDB cycle 1 (full export)', ['sync', DEMO_DYNAMO_SOURCE, '--wait', '--json'], 'succeeded: Orders created from a full export', dynamoCompare);
      expectCycle(report, ddbFirst, 'succeeded', [`dynamodb.${DEMO_DYNAMO_TABLE}`], []);
      log('');
      log(`-- DynamoDB change: ${DYNAMO_CHANGES.description}`);
      await timed('change: DynamoDB items', () => DYNAMO_CHANGES.apply(client));
      await wholeSecond();
      const ddbSecond = await cycle('DynamoDB cycle 2 (incremental export)', ['sync', DEMO_DYNAMO_SOURCE, '--wait', '--json'], 'succeeded: puts, updates, deletes and a new attribute merged', dynamoCompare);
      expectCycle(report, ddbSecond, 'succeeded', [`dynamodb.${DEMO_DYNAMO_TABLE}`], []);
    }

    report.grants = await timed('grants', async () => jsonOf<GrantRecord[]>(await lakesync(['grants', DEMO_SOURCE, '--json', '--config', configFile]), 'grants'));
    log('');
    log(`grants in the local grant store (lakesync grants ${DEMO_SOURCE}): ${report.grants.length}`);
    for (const g of report.grants) log(`  ${g.principal}  ${g.resource.table ? `${g.resource.namespace}.${g.resource.table}` : `${g.resource.namespace} (namespace)`}  ${g.permissions.join(',')}`);

    const final = await timed('final: lake = source check', () => compareAll(db, config, included(first), configFile));
    for (const c of final) if (!c.equal) report.problems.push(`at the end, ${c.table} differs from its lake table: ${c.differences[0] ?? ''}`);
    await options.beforeShutdown?.(report);
  } catch (err) {
    report.problems.push(`the demo stopped: ${(err as Error).message}`);
  } finally {
    await timed('shutdown', async () => {
      for (const cleanup of cleanups.reverse()) await cleanup().catch((err: unknown) => log(`shutdown: ${(err as Error).message}`));
    });
  }
  report.totalSeconds = (Date.now() - started) / 1000;
  report.ok = report.problems.length === 0;
  return report;
}

/** The cycle ended as expected: its status, these tables committed and verified, those failed. */
function expectCycle(report: DemoReport, result: CycleResult, status: string, committed: string[], failed: string[]): void {
  const label = `cycle ${result.cycleId}`;
  if (result.status !== status) report.problems.push(`${label}: status ${result.status}, expected ${status}${result.error ? ` (${result.error.message})` : ''}`);
  for (const table of committed) {
    const t = result.tables.find((o) => o.table === table);
    if (t?.status !== 'committed') report.problems.push(`${label}: ${table} is ${t?.status ?? 'missing'}${t?.error ? `: ${t.error.message}` : ''}`);
    else if (t.verified !== true) report.problems.push(`${label}: ${table} was not verified`);
  }
  for (const table of failed) {
    if (result.tables.find((o) => o.table === table)?.status !== 'failed') report.problems.push(`${label}: ${table} should have failed`);
  }
  for (const row of report.cycles.at(-1)?.tables ?? []) {
    if (row.lakeEqualsSource === false) report.problems.push(`${label}: lake table of ${row.table} differs from the source`);
  }
}

async function compareCommitted(db: SourceHandle, config: LakesyncConfig, result: CycleResult, configFile: string): Promise<TableComparison[]> {
  return compareAll(db, config, result.tables.filter((t) => t.status === 'committed').map((t) => t.table), configFile);
}

/** Reads the lake through `lakesync query`, as a user would. */
async function compareAll(db: SourceHandle, config: LakesyncConfig, tables: string[], configFile: string): Promise<TableComparison[]> {
  const source = config.sources[DEMO_SOURCE]!;
  const query = async (sql: string) => jsonOf<Record<string, unknown>[]>(await lakesync(['query', DEMO_SOURCE, '--json', '--max-rows', String(MAX_ROWS), sql, '--config', configFile]), 'query');
  const out: TableComparison[] = [];
  for (const table of tables) out.push(await compareTable(db.db, query, table, source.target.namespace, lakeTableName(source, table)));
  return out;
}

/** Each committed DynamoDB table against a scan of it, item by item, through `lakesync query`. */
async function compareDynamo(client: DynamoDBClient, config: LakesyncConfig, result: CycleResult, configFile: string): Promise<TableComparison[]> {
  const source = config.sources[DEMO_DYNAMO_SOURCE]!;
  const query = async (sql: string) => jsonOf<Record<string, unknown>[]>(await lakesync(['query', DEMO_DYNAMO_SOURCE, '--json', sql, '--config', configFile]), 'query');
  const out: TableComparison[] = [];
  for (const t of result.tables.filter((o) => o.status === 'committed')) {
    const name = t.table.slice(t.table.indexOf('.') + 1);
    const settings = source.tables[t.table];
    const excluded = Object.entries(settings?.columns ?? {}).filter(([, policy]) => policy.exclude).map(([attribute]) => attribute);
    const shape = {
      table: t.table,
      namespace: source.target.namespace,
      lakeTable: lakeTableName(source, t.table),
      key: [{ name: 'orderId', type: 'S' as const }],
      attributes: settings?.attributes ?? {},
      excluded,
    };
    out.push(await compareDynamoTable(await scanAll(client, name), shape, query));
  }
  return out;
}

/** A copy of the demo config whose DynamoDB source names the embedded DynamoDB just started. */
function withDynamoEndpoint(configFile: string, copy: string, endpoint: string): string {
  const raw = parse(readFileSync(configFile, 'utf8')) as { sources: Record<string, { source: { endpoint?: string } }> };
  raw.sources[DEMO_DYNAMO_SOURCE]!.source.endpoint = endpoint;
  writeFileSync(copy, stringify(raw));
  return copy;
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolveFree) => {
    const srv = createServer();
    srv.once('error', () => resolveFree(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolveFree(true)));
  });
}
