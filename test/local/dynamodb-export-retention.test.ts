/**
 * The embedded backend's DynamoDB table exports as retention sees them: a FAILED export (its task
 * record ended `failed`, its folder possibly partial) takes none of the table's newest
 * `retention.exports`, and is deleted with its folder and record; completed ones are kept by the rule.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { retentionActivities } from '../../src/activities/retention';
import { tableExportIdFor } from '../../src/ids';
import { layoutOf } from '../../src/local/paths';
import { createRetentionPort } from '../../src/local/retention';
import { parseConfig } from '../../src/config/load';

test("a FAILED DynamoDB export takes none of the table's newest exports: it is deleted with its files, the completed ones are kept", async () => {
  const root = mkdtempSync(join(tmpdir(), 'lakesync-ddb-retention-'));
  try {
    const layout = layoutOf(root);
    mkdirSync(layout.tableExportTasks, { recursive: true });
    const cycle = (n: number) => `${n}-0g8zvhhi9rtt3`;
    const id = (n: number) => tableExportIdFor('shop-ddb', cycle(n), 'dynamodb.Events', 0);
    const record = (n: number, state: 'complete' | 'failed') => {
      const exportId = id(n);
      writeFileSync(
        join(layout.tableExportTasks, `${exportId}.json`),
        JSON.stringify({ exportId, source: 'shop-ddb', exportArn: `arn:aws:dynamodb:us-east-2:123456789012:table/Events/export/${exportId}`, table: 'dynamodb.Events', tableArn: 'arn:aws:dynamodb:us-east-2:123456789012:table/Events', window: { type: 'FULL', at: '2026-01-01T00:00:00Z' }, state, startedAt: new Date(Date.UTC(2026, 0, n)).toISOString(), finishedAt: new Date(Date.UTC(2026, 0, n, 1)).toISOString(), ownerPid: 1, ownerStartedAt: 'x' }),
      );
      mkdirSync(join(layout.exports, exportId, 'data'), { recursive: true });
      writeFileSync(join(layout.exports, exportId, 'data', 'part.json'), '{}');
    };
    // Cycles 1 and 2 completed, cycle 3's export failed (partial files), cycle 4 (the current) completed.
    record(1, 'complete');
    record(2, 'complete');
    record(3, 'failed');
    record(4, 'complete');
    const config = parseConfig({
      sources: { 'shop-ddb': { backend: 'local', database: 'dynamodb', source: { kind: 'dynamodb', region: 'us-east-2', endpoint: 'http://127.0.0.1:1', tables: ['Events'] }, local: { workDir: root }, target: { namespace: 'shop' }, retention: { exports: 2 } } },
    });
    const retention = createRetentionPort(layout, 'shop-ddb');
    const outcome = await retentionActivities({ config, portsFor: () => ({ retention }) } as never).applyRetention({ source: 'shop-ddb', cycleId: cycle(4), keep: { snapshotIds: [], exportIds: [] } });
    // The newest 2 completed (cycles 2 and 4) stay; cycle 1's is past them; the failed one goes.
    assert.deepEqual(outcome.deleted.exports.sort(), [id(1), id(3)].sort());
    for (const n of [1, 3]) assert.equal(existsSync(join(layout.exports, id(n))), false, `export ${n}'s files are gone`);
    for (const n of [2, 4]) assert.equal(existsSync(join(layout.exports, id(n), 'data', 'part.json')), true, `export ${n} stays`);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
