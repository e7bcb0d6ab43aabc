/**
 * Retention in the embedded mode when exports fail: real snapshots and PGlite exports through the
 * local ports. An export that failed leaves only its task record (no folder, no files to read):
 * it must not take one of the newest `retention.exports` places, so the completed exports kept
 * stay as many as configured; the failed records go.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, test } from 'node:test';
import { retentionActivities } from '../../src/activities/retention';
import { localSettings } from '../../src/backends/local';
import { parseConfig } from '../../src/config/load';
import { cycleKey, exportIdFor, snapshotIdFor } from '../../src/ids';
import { createLocalPorts } from '../../src/local';
import { layoutOf } from '../../src/local/paths';
import type { Ports } from '../../src/ports';

const RUN_ID = '0190f5b2-7c1e-7d2a-9c4e-1234567890ab';
const N = 3;
const ids = (n: number) => ({ cycleId: cycleKey(n, RUN_ID), snapshotId: snapshotIdFor('shop', cycleKey(n, RUN_ID)), exportId: exportIdFor('shop', cycleKey(n, RUN_ID)) });

let work: string;
let ports: Ports;
let config: ReturnType<typeof parseConfig>;

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'lakesync-retention-failed-'));
  config = parseConfig({
    sources: {
      shop: { database: 'shop', source: { kind: 'pglite', dataDir: join(work, 'pg'), demo: true }, target: { namespace: 'shop' }, include: ['public.products'], local: { workDir: join(work, 'shop') }, retention: { snapshots: N, exports: N } },
    },
  });
  ports = await createLocalPorts(localSettings('shop', config.sources.shop!, work));
});
after(async () => {
  await ports?.close?.();
  rmSync(work, { recursive: true, force: true });
});

const layout = () => layoutOf(join(work, 'shop'));
const retention = (n: number) => retentionActivities({ config, portsFor: () => ports }).applyRetention({ source: 'shop', cycleId: ids(n).cycleId, keep: { snapshotIds: [ids(n).snapshotId], exportIds: [ids(n).exportId] } });

async function exported(n: number) {
  const { snapshotId, exportId } = ids(n);
  const snapshot = await ports.snapshot.startSnapshot({ source: 'shop', snapshotId, mode: 'create' });
  await ports.export.startExport({ source: 'shop', exportId, snapshot, tables: ['public.products'] });
  for (let i = 0; (await ports.export.describeExport(exportId)).state === 'in_progress'; i++) {
    if (i > 600) throw new Error(`export ${exportId} did not finish`);
    await delay(100);
  }
  return snapshot;
}

test('failed exports take none of the newest retention.exports: the completed ones kept stay as many as configured, the failed records go', { timeout: 300_000 }, async () => {
  for (let n = 1; n <= N; n++) {
    await exported(n);
    await retention(n);
  }
  // Cycles N+1 and N+2: their exports failed (the source was down), as the export task records it: no folder.
  for (const n of [N + 1, N + 2]) {
    const { snapshotId, exportId } = ids(n);
    await delay(20);
    const at = new Date().toISOString();
    writeFileSync(
      join(layout().exportTasks, `${exportId}.json`),
      JSON.stringify({ exportId, snapshot: { snapshotId, createdAt: at, adopted: false }, state: 'failed', percentProgress: 0, startedAt: at, finishedAt: at, failureCause: 'connection refused', ownerPid: process.pid, ownerStartedAt: at }),
    );
    await delay(20);
  }
  await exported(N + 3);
  const outcome = await retention(N + 3);
  assert.deepEqual(outcome.failed, []);
  // The newest N completed exports: cycles 2, 3 and N+3; cycle 1's goes, and so do the failed records.
  assert.deepEqual(outcome.deleted.exports.sort(), [ids(1).exportId, ids(N + 1).exportId, ids(N + 2).exportId].sort());
  assert.deepEqual(readdirSync(layout().exports).sort(), [ids(2).exportId, ids(3).exportId, ids(N + 3).exportId].sort());
  for (const n of [N + 1, N + 2]) assert.equal(existsSync(join(layout().exportTasks, `${ids(n).exportId}.json`)), false);
});
