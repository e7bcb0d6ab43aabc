/**
 * `lakesync sync --tables` on a source whose workflow does not run yet goes by signal-with-start,
 * which nothing checks before the workflow starts: a request the source would drop whatever its
 * state (a table name past the longest it takes) must be refused by the CLI first, exit 2, with
 * nothing started.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { WorkflowNotFoundError } from '@temporalio/client';
import { freePort } from '../../src/devserver';
import { sourceWorkflowId } from '../../src/ids';
import { type Cluster, fakeConfig, runCli, startCluster, tempDir, writeConfig } from './helpers';

describe('lakesync sync --tables of a source not started yet', () => {
  const tmp = tempDir('sync-new-names');
  const configFile = join(tmp.dir, 'lakesync.yaml');
  let cluster: Cluster | undefined;
  const cli = (...args: string[]) => runCli([...args, '--config', configFile]);

  before(async () => {
    const port = await freePort();
    writeConfig(configFile, fakeConfig(`127.0.0.1:${port}`, 'cli-sync-new-names', { fresh: { source: { kind: 'fake', tables: 2 } } }));
    cluster = await startCluster({ dbFile: join(tmp.dir, 'temporal.db'), port, configFile });
  });
  after(async () => {
    await cluster?.stop();
    tmp.remove();
  });

  it('naming a table longer than the source takes is refused with the limit, exit 2, and starts no source workflow', async () => {
    const long = `public.${'t'.repeat(400)}`;
    const run = await cli('sync', 'fresh', '--tables', long);
    let started: string | undefined;
    try {
      started = (await cluster!.client.workflow.getHandle(sourceWorkflowId('fresh')).describe()).status.name;
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err;
    }
    assert.equal(run.code, 2, `exit ${run.code}; stdout: ${run.stdout.slice(0, 300)}; stderr: ${run.stderr.slice(0, 300)}; source workflow: ${started ?? 'none'}`);
    assert.match(run.stderr, /at most 300 characters/);
    assert.equal(started, undefined, 'no source workflow was started');
  });
});
