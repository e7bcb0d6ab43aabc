/**
 * A rerun whose check that the reused export still exists fails: the cycle fails in its export
 * phase, saying why, not in its settings phase (which had passed).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { PortError } from '../../src/errors';
import { FakeBackend } from '../../src/fake/ports';
import type { CycleResult } from '../../src/model';
import type { CycleInput } from '../../src/workflows/cycle';
import { fakeConfig, startTestServer, startWorkerOver, type FakeWorker, type TestServer, uniqueQueue } from '../helpers/env';

const SOURCE = 'rerunexportcheck';

describe('a rerun whose export check fails', () => {
  let env: TestServer;
  let w: FakeWorker;
  const queue = uniqueQueue('rerun-export-check');
  before(async () => {
    env = await startTestServer();
    const backend = new FakeBackend({ tables: 2 });
    const ports = backend.ports.bind(backend);
    backend.ports = () => {
      const p = ports();
      return { ...p, discover: { ...p.discover, exportAvailable: async () => Promise.reject(new PortError('access-denied', 'AccessDenied', 'not authorized to perform rds:DescribeExportTasks')) } };
    };
    w = await startWorkerOver(fakeConfig(queue, { tables: 2 }, {}, SOURCE), backend);
  });
  after(async () => {
    await w?.stop();
    await env?.close();
  });

  test('fails the cycle in its export phase', async () => {
    const input: CycleInput = {
      source: SOURCE,
      cycleId: 'c2',
      kind: 'rerun',
      approveDeletes: false,
      reuse: { cycleId: 'c1', snapshot: { snapshotId: 's1', createdAt: '2025-02-01T00:00:00.000Z', adopted: false }, export: { exportId: 'e1', location: 'fake://exports/e1', snapshotId: 's1', adopted: false } },
    };
    const result = (await w.client.workflow.execute('cycleWorkflow', { workflowId: `${SOURCE}-c2`, taskQueue: queue, args: [input] })) as CycleResult;
    assert.equal(result.status, 'failed');
    assert.match(result.error?.message ?? '', /DescribeExportTasks/);
    assert.equal(result.error?.phase, 'export', `the failed export check is reported in phase ${result.error?.phase}`);
  });
});
