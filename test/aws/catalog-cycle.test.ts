/**
 * A whole sync cycle of an RDS source with `source.catalog`, on a real Temporal dev server with
 * moto server as AWS and a real PostgreSQL as the source's catalog: the cycle's plan takes the
 * primary key of a table without a configured one from the catalog, and no workflow history of
 * the run holds the password (the secret is read inside the activities only).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { withSourceCatalog, openSourceCatalog } from '../../src/aws/catalog-ports';
import { catalogSettings } from '../../src/backends/aws';
import { cycleKey, cycleManifestKeys, exportIdFor, sourceWorkflowId } from '../../src/ids';
import type { PlanEntry } from '../../src/model';
import type { SourceStatus } from '../../src/workflows/messages';
import { CATALOG_PASSWORD, CATALOG_USER, type CatalogSource, createSecret, startCatalogSource } from './catalog-fixtures';
import { awsSource, REGION } from './fixtures';
import { type MotoCycleEnv, putExportFiles, startMotoCycleEnv, until, withWorker, writeLoadResults } from './moto-cycle';

let env: MotoCycleEnv | undefined;
let db: CatalogSource | undefined;
let closeCatalog: (() => void) | undefined;

before(async () => {
  [env, db] = await Promise.all([startMotoCycleEnv(), startCatalogSource()]);
  const secretArn = await createSecret(env.moto.endpoint, 'rds!db-shop-catalog', { username: CATALOG_USER, password: CATALOG_PASSWORD });
  const source = awsSource({ endpoint: env.moto.endpoint, raw: { source: { kind: 'rds', instanceId: 'shop-db', catalog: { host: '127.0.0.1', port: db.postgres.port, secretArn, sslmode: 'disable' } } } });
  // The worker's ports as the port factory builds them for this config.
  const opened = openSourceCatalog(catalogSettings(source, REGION)!, { region: REGION, endpoint: env.moto.endpoint });
  closeCatalog = opened.close;
  env.ports = withSourceCatalog(env.ports, opened.catalog);
});

after(async () => {
  closeCatalog?.();
  await Promise.all([env?.close(), db?.stop()]);
});

/** Every text a history carries, payloads decoded (they are bytes in the history). */
function historyText(value: unknown, out: string[] = []): string[] {
  if (value instanceof Uint8Array) out.push(Buffer.from(value).toString('utf8'));
  else if (Array.isArray(value)) for (const v of value) historyText(v, out);
  else if (value && typeof value === 'object') for (const v of Object.values(value)) historyText(v, out);
  else if (typeof value === 'string') out.push(value);
  return out;
}

test('the cycle plans with the catalog key, and no history holds the password', { timeout: 180_000 }, async () => {
  await env!.moto.queueAthenaResults(REGION, [
    { columns: ['row_count'], rows: [['42']] },
    { columns: ['row_count'], rows: [['42']] },
  ]);
  await withWorker(env!, 'catalog', async (client, taskQueue) => {
    const handle = await client.workflow.start('sourceWorkflow', { workflowId: sourceWorkflowId('shop'), taskQueue, args: [{ source: 'shop', syncOnStart: false }] });
    const cycleId = cycleKey(1, handle.firstExecutionRunId);
    await putExportFiles(env!, exportIdFor('shop', cycleId));
    await handle.signal('requestSync', { requestedBy: 'test' });
    await writeLoadResults(env!, client, cycleId).catch(async (err: Error) => {
      const s = await handle.query<SourceStatus>('status');
      throw new Error(`${err.message}; the cycle: ${JSON.stringify(s.lastCycle?.error ?? s.phase)}`);
    });
    const status = await until('the cycle to finish', 120_000, async () => {
      const s = await handle.query<SourceStatus>('status');
      return s.lastCycle ? s : undefined;
    });
    assert.equal(status.lastCycle!.tables.find((t) => t.table === 'public.events')?.status, 'committed');

    // public.orders has a configured key; public.events none: the catalog's (total, id) in key order.
    const plan = await env!.ports.manifests.get<PlanEntry[]>(env!.ports.manifests.ref(cycleManifestKeys.plan(cycleId)));
    const keys = Object.fromEntries(plan.map((e) => [e.table, [e.keySource, e.primaryKey]]));
    assert.deepEqual(keys, { 'public.orders': ['configured', ['id']], 'public.events': ['source', ['total', 'id']] });

    await handle.terminate('test done');
    let histories = 0;
    for await (const execution of client.workflow.list()) {
      const history = await client.workflow.getHandle(execution.workflowId, execution.runId).fetchHistory();
      const text = historyText(history).join('\n');
      histories += 1;
      assert.ok(!text.includes(CATALOG_PASSWORD), `the history of ${execution.workflowId} holds the catalog password`);
      if (execution.workflowId === sourceWorkflowId('shop')) assert.ok(text.includes('public.events'), 'payloads are decoded: the check can see them');
    }
    assert.ok(histories >= 2, `the source and cycle workflows were checked (${histories})`);
  });
});
