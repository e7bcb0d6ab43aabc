/**
 * Documents stored by reference that were changed in the manifest store before the workflow read
 * them back, yet still parse as JSON: a cycle's outcomes with an entry gone, and a carried state
 * that is no state. Neither may be taken as it is: the outcomes are read back from the lake (so no
 * committed table loses its watermark), and the state fails the start saying what and what to do.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import { FakeBackend, fakeTableNames } from '../../src/fake/ports';
import { sourceWorkflowId } from '../../src/ids';
import { readSourceStatus } from '../../src/status-pages';
import { connectClient, temporalTarget } from '../../src/temporal';
import { createWorker } from '../../src/worker';
import { fakeConfig, startTestServer, type TestServer, uniqueQueue } from '../helpers/env';
import { outcomesEditor } from '../helpers/edited-outcomes';
import { startSourceLikeCli, waitForCycles, waitForRunStatus } from '../helpers/source';

const SOURCE = 'edited';
const TABLES = fakeTableNames(12);
const LIMIT = 2048;
const MARKER_KEY = 'source-state/cancelled.json';

describe('documents stored by reference, changed before they are read back', () => {
  let env: TestServer;
  let backend: FakeBackend;
  let stop: () => Promise<void>;
  let client: Awaited<ReturnType<typeof connectClient>>;
  const queue = uniqueQueue('stored-edited');
  let editor: ReturnType<typeof outcomesEditor>;

  before(async () => {
    env = await startTestServer();
    const config = fakeConfig(queue, { tables: TABLES }, {}, SOURCE);
    backend = new FakeBackend({ tables: TABLES });
    editor = outcomesEditor(backend);
    const { worker, close } = await createWorker({ config, ports: { [SOURCE]: editor.ports } });
    const running = worker.run();
    client = await connectClient(temporalTarget(config));
    stop = async () => {
      worker.shutdown();
      await running;
      await close();
      await client.connection.close();
    };
  });
  after(async () => {
    await stop?.();
    await env?.close();
  });

  test('cycle outcomes with an entry gone are not recorded as they are: the table the lake committed keeps its watermark', async () => {
    const dropped = TABLES[4]!;
    editor.dropNext(dropped);
    const handle = await startSourceLikeCli(client, queue, SOURCE, { requestId: 'first', requestedBy: 'test' }, { payloadInlineBytes: LIMIT });
    await waitForCycles(handle, 1);
    assert.equal(editor.pending(), false, 'the outcomes went by reference and were edited');
    const s = await readSourceStatus(handle);
    assert.ok(backend.count(`load.start:${dropped}`) > 0, `${dropped} was loaded`);
    assert.ok(s.ledger[dropped], `${dropped} committed in the lake, yet has no watermark: ledger ${JSON.stringify(Object.keys(s.ledger))}, failed ${JSON.stringify(Object.keys(s.failed))}, cycle ${JSON.stringify({ status: s.recentCycles[0]?.status, counts: s.recentCycles[0]?.counts })}`);
    assert.equal(Object.keys(s.ledger).length, TABLES.length);
    // The cycle says why its outcomes were read back from the lake.
    assert.match(s.recentCycles[0]!.error?.message ?? '', /outcomes could not be read from the manifest store: .*not the \d+ it was stored with: its parts were changed in the manifest store/);
  });

  test('a carried state changed into something that is no state fails the start, saying what and what to do', async () => {
    const running = client.workflow.getHandle(sourceWorkflowId(SOURCE));
    if ((await running.describe()).status.name !== 'RUNNING') await waitForCycles(await startSourceLikeCli(client, queue, SOURCE, { requestId: 'again', requestedBy: 'test' }, { payloadInlineBytes: LIMIT }), 1);
    await running.cancel();
    await waitForRunStatus(running, 'CANCELLED');
    assert.ok(MARKER_KEY in backend.state.manifests, 'the cancelled run marked its state');
    const marker = backend.state.manifests[MARKER_KEY] as { parts: string[] };
    const keys = marker.parts.map((ref) => ref.replace('fake://manifests/', ''));
    // Still JSON, but no state.
    backend.store.update((s) => keys.forEach((k, i) => (s.manifests[k] = i === 0 ? 'null' : '')));
    const broken = await startSourceLikeCli(client, queue, SOURCE, { requestId: 'over-a-changed-state', requestedBy: 'test' }, { payloadInlineBytes: LIMIT });
    const failure = await endOf(broken);
    const d = await broken.describe();
    for (const part of [`the state of source ${SOURCE} left by its cancelled run`, 'could not be read', 'delete source-state/cancelled.json']) {
      assert.ok(failure.includes(part), `${part} missing from: ${failure} (workflow ${d.status.name})`);
    }
    if (d.status.name === 'RUNNING') await broken.terminate('test done');

    // Changed to other JSON of the very size it was stored with: still no state.
    const size = (marker as unknown as { bytes: number }).bytes;
    backend.store.update((s) => keys.forEach((k, i) => (s.manifests[k] = i === 0 ? `[${' '.repeat(size - 2)}]` : '')));
    const sameSize = await startSourceLikeCli(client, queue, SOURCE, { requestId: 'over-a-same-size-state', requestedBy: 'test' }, { payloadInlineBytes: LIMIT });
    const second = await endOf(sameSize);
    const d2 = await sameSize.describe();
    for (const part of [`the state of source ${SOURCE} left by its cancelled run`, 'is no source state', 'delete source-state/cancelled.json']) {
      assert.ok(second.includes(part), `${part} missing from: ${second} (workflow ${d2.status.name})`);
    }
    if (d2.status.name === 'RUNNING') await sameSize.terminate('test done');
  });
});

/** How the run ended: its failure's message, 'completed', or 'no answer within 30 s'. */
async function endOf(handle: WorkflowHandle): Promise<string> {
  return Promise.race([
    handle.result().then(
      () => 'completed',
      (err: Error & { cause?: Error }) => err.cause?.message ?? err.message,
    ),
    new Promise<string>((resolve) => setTimeout(() => resolve('no answer within 30 s'), 30_000)),
  ]);
}
