/**
 * A load is told the part files its export's discovery found (the export's own cycle's record):
 * the job refuses a table whose files differ when it reads them (an S3 lifecycle rule or a delete
 * removed some since), instead of loading it without their rows. Alone and in a pack.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import { loadActivities, type LoadTableInput } from '../../src/activities/load';
import { packActivities } from '../../src/activities/pack';
import { parseConfig } from '../../src/config/load';
import { FakeBackend } from '../../src/fake/ports';
import { cycleManifestKeys, exportIdFor, packTokenFor } from '../../src/ids';
import type { LoadRequest, PackRequest, PlanEntry } from '../../src/model';
import { planEntry } from '../helpers/plan';

const TABLES = ['public.orders', 'public.items'];
const config = parseConfig({ sources: { shop: { database: 'fake', source: { kind: 'fake', tables: TABLES }, target: { namespace: 'shop' } } } });
const plans: PlanEntry[] = TABLES.map((table) => planEntry({ table, lakeTable: table.split('.')[1]!, action: 'merge', primaryKey: ['id'] }));
const OWN = '7-abcd';
const EXPORT = exportIdFor('shop', OWN);
const RECORDED = { 'public.orders': { files: 3, bytes: 4_096 }, 'public.items': { files: 1, bytes: 512 } };

async function setup() {
  const backend = new FakeBackend({ tables: TABLES, latencyMs: 0 });
  const ports = backend.ports();
  await ports.export.startExport({ source: 'shop', exportId: EXPORT, snapshot: { snapshotId: 's7', createdAt: '2025-02-01T00:00:00.000Z', adopted: false } });
  await ports.manifests.put(cycleManifestKeys.exportParts(OWN), { exportId: EXPORT, tables: RECORDED });
  const started: LoadRequest[] = [];
  const startLoad = ports.load.startLoad.bind(ports.load);
  ports.load.startLoad = (req) => {
    started.push(req);
    return startLoad(req);
  };
  const packs: PackRequest[] = [];
  const startPack = ports.load.packs!.startPack.bind(ports.load.packs);
  ports.load.packs!.startPack = (req) => {
    packs.push(req);
    return startPack(req);
  };
  const input = async (cycleId: string, exportId = EXPORT) => ({
    source: 'shop',
    cycleId,
    planRef: await ports.manifests.put(cycleManifestKeys.plan(cycleId), plans),
    exportId,
    snapshotTime: '2025-02-01T00:00:00.000Z',
    exportLocation: `fake://exports/${exportId}`,
    database: 'fake',
    namespace: 'shop',
  });
  return { ports, started, packs, input };
}

describe('a load is told the part files discovery found', () => {
  test("a table's load carries the figures its export's own cycle recorded, in that cycle and in a rerun that reuses the export", async () => {
    const { ports, started, input } = await setup();
    const { loadTable } = loadActivities({ config, portsFor: () => ports });
    for (const cycleId of [OWN, '8-abcd']) {
      const load: LoadTableInput = { ...(await input(cycleId)), table: 'public.orders' };
      await new MockActivityEnvironment({ heartbeatTimeoutMs: 2000 }).run(loadTable, load);
      assert.deepEqual(started.at(-1)?.exportParts, RECORDED['public.orders'], `cycle ${cycleId}: the job is held to what discovery saw`);
    }
  });

  test('each table of a pack carries its own figures', async () => {
    const { ports, packs, input } = await setup();
    const { startPackLoad } = packActivities({ config, portsFor: () => ports });
    await new MockActivityEnvironment().run(startPackLoad, { ...(await input(OWN)), packToken: packTokenFor(OWN, TABLES), tables: TABLES });
    assert.deepEqual(packs[0]?.loads.map((l) => [l.plan.table, l.exportParts]), TABLES.map((t) => [t, RECORDED[t as keyof typeof RECORDED]]));
  });

  test('an export no cycle recorded (taken by an earlier version) is loaded without figures, as before', async () => {
    const { ports, started, input } = await setup();
    const { loadTable } = loadActivities({ config, portsFor: () => ports });
    await new MockActivityEnvironment({ heartbeatTimeoutMs: 2000 }).run(loadTable, { ...(await input('9-abcd', 'e-older')), table: 'public.orders' });
    assert.equal(started.at(-1)?.plan.table, 'public.orders');
    assert.equal(started.at(-1)?.exportParts, undefined);
  });
});
