/**
 * The cost ledger without a server: the price arithmetic, the config's prices and their
 * validation, the ledger's bookkeeping of costs, the report, and the DPU-seconds metric.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfig } from '../../src/config/load';
import { ConfigError } from '../../src/errors';
import { BYTES_PER_GB, DEFAULT_PRICES, costTotals, tableCost } from '../../src/cost/ledger';
import { costReport, costText, sumTotals } from '../../src/cost/report';
import { costBasis } from '../../src/activities/load';
import { exportTotals } from '../../src/activities/cycle';
import { LakesyncRegistry } from '../../src/metrics/registry';
import { cycleDpuSeconds, sourceMetrics } from '../../src/metrics/values';
import type { CostPrices, CycleResult, CycleSettings, TableOutcome } from '../../src/model';
import { usageCost } from '../../src/workflows/batch';
import { initialState, recordCycle } from '../../src/workflows/ledger';
import { awsSource } from '../aws/fixtures';

const PRICES: CostPrices = { gluePerDpuHour: 0.44, rdsExportPerGB: 0.01, dynamodbFullExportPerGB: 0.1, dynamodbIncrementalExportPerGB: 0.05 };

function rawConfig(cost?: unknown): unknown {
  return { temporal: { taskQueue: 'q' }, sources: { shop: { database: 'fake', source: { kind: 'fake', tables: 1 }, target: { namespace: 'shop' }, ...(cost !== undefined ? { cost } : {}) } } };
}

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  assert.fail('expected a ConfigError');
}

describe('cost arithmetic', () => {
  it('prices DPU-seconds per DPU-hour and an RDS export per GB', () => {
    // 2 G.1X workers for 15 minutes: 1800 DPU-seconds = 0.5 DPU-hour.
    assert.deepEqual(tableCost('glue', 1800, [{ kind: 'rds', gb: 2.5 }], PRICES), { basis: 'glue', dpuSeconds: 1800, glueUsd: 0.22, exportGB: 2.5, exportUsd: 0.025 });
  });

  it('prices DynamoDB exports by their kind, from billed bytes', () => {
    const cost = tableCost('glue', undefined, [{ kind: 'FULL', bytes: 2 * BYTES_PER_GB }, { kind: 'INCREMENTAL', bytes: BYTES_PER_GB / 2 }], PRICES);
    assert.deepEqual(cost, { basis: 'glue', exportGB: 2.5, exportUsd: 0.225 });
  });

  it('leaves an unknown figure absent: no DPU-seconds, an export of unknown size, a reused export', () => {
    assert.deepEqual(tableCost('glue', undefined, [{ kind: 'FULL', bytes: BYTES_PER_GB }, { kind: 'INCREMENTAL' }], PRICES), { basis: 'glue' });
    assert.deepEqual(tableCost('glue', 60, [{ kind: 'rds' }], PRICES), { basis: 'glue', dpuSeconds: 60, glueUsd: 0.007333 });
    assert.deepEqual(tableCost('glue', 60, [], PRICES), { basis: 'glue', dpuSeconds: 60, glueUsd: 0.007333 });
    assert.deepEqual(tableCost('glue', Number.NaN, [], PRICES), { basis: 'glue' });
    assert.deepEqual(tableCost('glue', -5, [], PRICES), { basis: 'glue' });
  });

  it('never prices basis none (the embedded mode): figures stay, dollars do not', () => {
    assert.deepEqual(tableCost('none', 100, [{ kind: 'rds', gb: 1 }], PRICES), { basis: 'none', dpuSeconds: 100, exportGB: 1 });
  });

  it('a modelled figure is priced and says so', () => {
    const cost = tableCost('modelled', 3600, [], PRICES);
    assert.deepEqual(cost, { basis: 'modelled', dpuSeconds: 3600, glueUsd: 0.44 });
    assert.equal(costText(cost), '3600 DPU-s $0.4400 = $0.4400 (modelled)');
  });

  it('a FLEX run is priced at the FLEX price; a cycle priced before that price existed uses the standard one', () => {
    assert.deepEqual(tableCost('glue', 3600, [], { ...PRICES, glueFlexPerDpuHour: 0.29 }, 'FLEX'), { basis: 'glue', dpuSeconds: 3600, glueUsd: 0.29 });
    assert.equal(tableCost('glue', 3600, [], { ...PRICES, glueFlexPerDpuHour: 0.29 }, 'STANDARD').glueUsd, 0.44);
    assert.equal(tableCost('glue', 3600, [], PRICES, 'FLEX').glueUsd, 0.44);
  });

  it('cycle totals sum what the tables have; none without a cost', () => {
    assert.equal(costTotals([undefined, undefined]), undefined);
    const a = tableCost('glue', 1800, [{ kind: 'rds', gb: 1 }], PRICES);
    const b = tableCost('glue', 900, [], PRICES);
    assert.deepEqual(costTotals([a, undefined, b]), { basis: 'glue', tables: 2, dpuSeconds: 2700, glueUsd: 0.33, exportGB: 1, exportUsd: 0.01, usd: 0.34 });
    // Totals of cycles add up too (tables counted across them).
    assert.deepEqual(sumTotals([costTotals([a])!, costTotals([b])!]), { basis: 'glue', tables: 2, dpuSeconds: 2700, glueUsd: 0.33, exportGB: 1, exportUsd: 0.01, usd: 0.34 });
  });

  it('the basis follows the backend: Glue on AWS, modelled by the fake, none in the embedded mode', () => {
    assert.equal(costBasis({ backend: 'aws', source: { kind: 'rds' } } as never), 'glue');
    assert.equal(costBasis({ backend: 'local', source: { kind: 'fake' } } as never), 'modelled');
    assert.equal(costBasis({ backend: 'local', source: { kind: 'pglite' } } as never), 'none');
    // A run whose backend says its figure is a model is one, whatever the config.
    assert.equal(costBasis({ backend: 'local', source: { kind: 'dynamodb' } } as never, { modelled: true }), 'modelled');
  });
});

describe('partial figures', () => {
  it('a cycle counts its partial figures, the report sums them and says the figures are a lower bound', () => {
    const partial = { ...tableCost('glue', 100, [], DEFAULT_PRICES), partial: 'run jr_1 (RUNNING) was still going when the dead cycle was read back' };
    const cycle = costTotals([partial, tableCost('glue', 50, [], DEFAULT_PRICES)])!;
    assert.equal(cycle.partial, 1);
    assert.equal(costTotals([tableCost('glue', 50, [], DEFAULT_PRICES)])!.partial, undefined);
    assert.equal(sumTotals([cycle, cycle])!.partial, 2);
    assert.match(costText(partial), /\(glue; at least: run jr_1 \(RUNNING\) was still going/);
    assert.match(costText(cycle), /\(glue; at least: 1 partial figure\(s\)\)$/);
  });

  it("a failed load's usage that says its stopped run was left out makes the table's cost partial, with the load's reason", () => {
    const settings = { cost: DEFAULT_PRICES } as unknown as CycleSettings;
    const why = 'run jr_9 was stopped but did not end within 2 min: its DPU-seconds are left out';
    const cost = usageCost({ basis: 'glue', dpuSeconds: 60, exportGB: 2, partial: why }, undefined, settings, true)!;
    assert.equal(cost.partial, why);
    assert.equal(cost.dpuSeconds, 60);
    assert.equal(costTotals([cost])!.partial, 1);
    // Histories from before it keep their figures as they were.
    assert.equal(usageCost({ basis: 'glue', dpuSeconds: 60, partial: why }, undefined, settings)!.partial, undefined);
  });
});

describe("a cycle-level export cost from the export's table sizes", () => {
  it('a table of unknown size does not drop the GB of the others: the known ones are booked, marked partial', () => {
    const settings = parseConfig({ sources: { shop: { database: 'shop', source: { kind: 'fake', tables: ['public.a', 'public.b'] }, target: { namespace: 'shop' } } } }).sources.shop!;
    const table = (name: string, sizeGB?: number) => ({ table: name, target: `shop.${name}`, columns: [], primaryKey: ['id'], ...(sizeGB !== undefined ? { sizeGB } : {}) });
    assert.deepEqual(exportTotals(settings, [table('public.a', 2), table('public.b', 3)]), { basis: 'modelled', tables: 0, exportGB: 5, exportUsd: 0.05, usd: 0.05 });
    assert.deepEqual(exportTotals(settings, [table('public.a', 2), table('public.b')], 'lakesync-shop-c1'), {
      basis: 'modelled',
      tables: 0,
      exportGB: 2,
      exportUsd: 0.02,
      usd: 0.02,
      partial: 1,
      partialReason: 'export lakesync-shop-c1: its listing gives no size for 1 of its 2 table(s) (public.b): their GB are left out, though RDS billed them',
    });
    assert.equal(exportTotals(settings, [table('public.b')]), undefined, 'no size known: nothing to book');
  });

  it('an RDS export billed by AWS whose listing gives no table a size is booked as a partial figure, not as no cost at all', () => {
    const settings = awsSource();
    const table = (name: string) => ({ table: name, target: `shop.${name}`, columns: [], primaryKey: ['id'] });
    assert.deepEqual(exportTotals(settings, [table('public.a'), table('public.b')]), {
      basis: 'glue',
      tables: 0,
      partial: 1,
      partialReason: 'the export: its listing gives no size for 2 of its 2 table(s) (public.a, public.b): their GB are left out, though RDS billed them',
    });
    assert.equal(exportTotals(settings, []), undefined, 'an export of no table');
  });
});

describe('cost prices in lakesync.yaml', () => {
  it('default to the us-east-1 list prices', () => {
    assert.deepEqual(parseConfig(rawConfig()).sources.shop!.cost, DEFAULT_PRICES);
    assert.deepEqual(DEFAULT_PRICES, { gluePerDpuHour: 0.44, glueFlexPerDpuHour: 0.29, rdsExportPerGB: 0.01, dynamodbFullExportPerGB: 0.1, dynamodbIncrementalExportPerGB: 0.1 });
  });

  it('take the configured prices, the others keep their default', () => {
    assert.deepEqual(parseConfig(rawConfig({ gluePerDpuHour: 0.29, rdsExportPerGB: 0 })).sources.shop!.cost, { ...DEFAULT_PRICES, gluePerDpuHour: 0.29, rdsExportPerGB: 0 });
  });

  it('refuse a negative price, naming the field and the fix', () => {
    const err = configError(() => parseConfig(rawConfig({ gluePerDpuHour: -0.44 })));
    assert.match(err.message, /sources\.shop\.cost\.gluePerDpuHour/);
    assert.match(err.message, /must not be negative/);
  });

  it('refuse a price that is not a number, and an unknown price', () => {
    assert.match(configError(() => parseConfig(rawConfig({ dynamodbFullExportPerGB: 'cheap' }))).message, /sources\.shop\.cost\.dynamodbFullExportPerGB.*must be a number/s);
    assert.match(configError(() => parseConfig(rawConfig({ athenaPerTB: 5 }))).message, /sources\.shop\.cost/);
  });
});

function outcome(table: string, status: TableOutcome['status'], cost?: TableOutcome['cost']): TableOutcome {
  const load = { action: 'merge' as const, committed: status === 'committed', rowsRead: 1, inserted: 1, updated: 0, deleted: 0, rowCountAfter: 1, cursorColumn: null, cursorValueAfter: null, snapshotId: '1', schemaHash: 'h', finishedAt: '2026-01-01T00:01:00Z' };
  return {
    table,
    lakeTable: table.split('.')[1]!,
    action: 'merge',
    status,
    ...(status === 'committed' ? { load } : { error: { phase: 'load' as const, message: 'boom', type: 'X', retryable: false } }),
    ...(cost ? { cost } : {}),
  };
}

function result(tables: TableOutcome[], cycleId = '1'): CycleResult {
  return {
    cycleId,
    source: 'shop',
    status: 'partial',
    snapshot: { snapshotId: 's', createdAt: '2026-01-01T00:00:00Z', adopted: false },
    export: { exportId: `e${cycleId}`, location: 'x', snapshotId: 's', adopted: false },
    tables,
    warnings: [],
    startedAt: '2026-01-01T00:00:00Z',
    finishedAt: '2026-01-01T00:02:00Z',
  };
}

describe('the ledger books costs', () => {
  const a = tableCost('glue', 1800, [{ kind: 'rds', gb: 1 }], PRICES);

  it('a commit records its cost in the watermark, the last cycle and the cycle summary; a failure keeps the old one', () => {
    const state = initialState();
    recordCycle(state, result([outcome('public.a', 'committed', a), outcome('public.b', 'committed', a)]), 'w1', { kind: 'sync', requestIds: ['r1'] });
    assert.deepEqual(state.ledger['public.a']!.cost, a);
    assert.deepEqual(state.recentCycles[0]!.cost, { basis: 'glue', tables: 2, dpuSeconds: 3600, glueUsd: 0.44, exportGB: 2, exportUsd: 0.02, usd: 0.46 });
    recordCycle(state, result([outcome('public.b', 'failed')], '2'), 'w2', { kind: 'rerun', requestIds: ['r2'] });
    assert.deepEqual(state.ledger['public.b']!.cost, a, 'a failed table keeps the cost of its last commit');
    assert.equal(state.recentCycles[0]!.cost, undefined, 'a cycle without any cost has none');
    assert.deepEqual(state.lastCycle!.tables.map((t) => t.cost), [undefined]);

    const report = costReport({ source: 'shop', phase: 'idle', queue: [], lastCycle: state.lastCycle!, recentCycles: state.recentCycles, failed: state.failed, ledger: state.ledger, ignoredRequests: [], droppedTables: [] }, 10);
    assert.deepEqual(report.cycles.map((c) => [c.cycleId, c.cost?.usd]), [['2', undefined], ['1', 0.46]]);
    assert.deepEqual(report.total, state.recentCycles[1]!.cost);
    assert.deepEqual(Object.keys(report.lastCommits), ['public.a', 'public.b']);
    assert.equal(costReport({ ...report, phase: 'idle', queue: [], recentCycles: state.recentCycles, failed: {}, ledger: {}, ignoredRequests: [], droppedTables: [] } as never, 1).cycles.length, 1);
  });

  it('a result without totals (read back from a dead cycle) gets them from its tables', () => {
    const state = initialState();
    const r = result([outcome('public.a', 'committed', a)]);
    assert.equal(r.cost, undefined);
    recordCycle(state, r, 'w1', { kind: 'sync', requestIds: ['r1'] });
    assert.equal(state.recentCycles[0]!.cost?.dpuSeconds, 1800);
  });
});

describe('lakesync_cycle_last_dpu_seconds', () => {
  const a = tableCost('modelled', 120, [], PRICES);
  const withCost = { ...result([outcome('public.a', 'committed', a), outcome('public.b', 'committed', a)]), cost: costTotals([a, a])! };

  it('reads the cycle total, else the tables, and is absent without a cost', () => {
    assert.equal(cycleDpuSeconds(withCost), 240);
    assert.equal(cycleDpuSeconds({ ...withCost, cost: undefined } as CycleResult), 240);
    assert.equal(cycleDpuSeconds(result([outcome('public.a', 'committed')])), undefined);
  });

  it('is exported for the last cycle, from its result or its summary', async () => {
    const state = initialState();
    recordCycle(state, withCost, 'lakesync/shop/cycle-1', { kind: 'sync', requestIds: ['r1'] });
    const status = { source: 'shop', phase: 'idle' as const, queue: [], lastCycle: state.lastCycle!, recentCycles: state.recentCycles, failed: {}, ledger: state.ledger, ignoredRequests: [], droppedTables: [] };
    const inputs = { lakeTableOf: (t: string) => t, now: Date.parse('2026-01-01T00:10:00Z') };
    assert.equal(sourceMetrics(status, { ...inputs, cycleResult: () => withCost }).lastCycle?.dpuSeconds, 240);
    assert.equal(sourceMetrics(status, { ...inputs, cycleResult: () => undefined }).lastCycle?.dpuSeconds, 240);
    const registry = new LakesyncRegistry({ processMetrics: false });
    registry.show([{ source: 'shop', state: 'read', metrics: sourceMetrics(status, { ...inputs, cycleResult: () => withCost }) }]);
    const text = await registry.metrics();
    assert.match(text, /^lakesync_cycle_last_dpu_seconds\{source="shop"\} 240$/m);
  });
});
