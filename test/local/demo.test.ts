/**
 * The README's main command runs its whole story: `runDemo` (what `npm run demo` runs) on a copy
 * of examples/demo.yaml whose data lives in a temp folder, on free ports.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { parse, stringify } from 'yaml';
import { type DemoReport, runDemo } from '../../src/demo/run';
import { freePort } from '../../src/devserver';
import { repoRoot } from '../../src/toolchain';

let dir: string | undefined;
after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('the demo creates, merges with schema evolution, meets the delete guard and reruns, then syncs a DynamoDB table: every check passes', async () => {
  dir = mkdtempSync(join(tmpdir(), 'lakesync-demo-'));
  const root = repoRoot();
  const config = parse(readFileSync(join(root, 'examples', 'demo.yaml'), 'utf8'));
  config.temporal.taskQueue = `demo-test-${process.pid}`;
  config.sources.demo.source.dataDir = join(dir, 'source');
  config.sources.demo.local.workDir = join(dir, 'data');
  config.sources['demo-ddb'].local.workDir = join(dir, 'ddb');
  const configFile = join(dir, 'demo.yaml');
  writeFileSync(configFile, stringify(config));

  const lines: string[] = [];
  const cwd = process.cwd();
  let report: DemoReport;
  try {
    report = await runDemo({ root, configFile, uiPort: await freePort(), log: (line) => lines.push(line) });
  } finally {
    process.chdir(cwd);
  }
  assert.deepEqual(report.problems, [], lines.join('\n'));
  assert.equal(report.ok, true);
  assert.match(report.uiUrl ?? '', /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.deepEqual(report.cycles.map((c) => c.status), ['succeeded', 'succeeded', 'partial', 'succeeded', 'succeeded', 'succeeded']);

  const row = (cycle: number, table: string) => report.cycles[cycle]!.tables.find((t) => t.table === table)!;
  assert.deepEqual([row(1, 'public.customers').inserted, row(1, 'public.customers').deleted], [20, 5]);
  assert.equal(row(2, 'public.order_items').status, 'failed');
  assert.match(row(2, 'public.order_items').note ?? '', /^DeleteGuard: .*483 of 600 rows/);
  assert.equal(row(3, 'public.order_items').deleted, 483);
  // The DynamoDB table: created from a full export, then the changes merged from an incremental one.
  assert.equal(row(4, 'dynamodb.Orders').action, 'create');
  assert.deepEqual([row(5, 'dynamodb.Orders').action, row(5, 'dynamodb.Orders').inserted, row(5, 'dynamodb.Orders').updated, row(5, 'dynamodb.Orders').deleted], ['merge', 5, 4, 3]);
  for (const cycle of report.cycles) {
    for (const t of cycle.tables.filter((r) => r.status === 'committed')) {
      assert.equal(t.verified, true, `${cycle.label}: ${t.table} verified`);
      assert.equal(t.lakeEqualsSource, true, `${cycle.label}: ${t.table} equals its source`);
    }
  }
  assert.ok(report.grants.length >= 6);
  assert.ok(lines.some((l) => l.startsWith(`Temporal Web UI: ${report.uiUrl}`)));
  assert.ok(lines.some((l) => l.includes('failed tables (rerun with')), 'lakesync status shows the table waiting for approval');
  assert.ok(lines.some((l) => l.includes(`${report.uiUrl}/namespaces/default/workflows/lakesync%2Fdemo`)), 'links point at the Web UI the demo started');
  assert.ok(report.phases.some((p) => p.phase === 'cycle 1 (create)'));
});
