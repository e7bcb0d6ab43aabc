/**
 * `rerun --wait` of tables last loaded from more exports than the source keeps recent cycles (20):
 * the parts that newer parts pushed out of the recent cycles are read from their own cycle
 * workflows, so the report shows every part, and an early part's failure fails the request.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePort } from '../../src/devserver';
import { type Cluster, fakeConfig, runCli, runCliInProcess, startCluster, tempDir, writeConfig } from './helpers';

const TABLES = Array.from({ length: 21 }, (_, i) => `public.t${String(i).padStart(2, '0')}`);

describe('lakesync rerun --wait of a rerun in more parts than the recent cycles hold', () => {
  const tmp = tempDir('rerun-many-parts');
  const configFile = join(tmp.dir, 'lakesync.yaml');
  let cluster: Cluster | undefined;

  before(async () => {
    const port = await freePort();
    writeConfig(
      configFile,
      fakeConfig(`127.0.0.1:${port}`, 'cli-rerun-many-parts-test', {
        many: {
          source: {
            kind: 'fake',
            tables: TABLES,
            latencyMs: 5,
            stateDir: join(tmp.dir, 'fake-state'),
            // t00 fails in its sync and again in the rerun's first part.
            failures: [{ table: 'public.t00', phase: 'load', times: 2, retryable: false, message: 't00 breaks twice' }],
          },
        },
      }),
    );
    cluster = await startCluster({ dbFile: join(tmp.dir, 'temporal.db'), port, configFile });
  });

  after(async () => {
    await cluster?.stop();
    tmp.remove();
  });

  it('reports all 21 parts, the first one failed, and exits 1', async () => {
    // Each table loaded by a sync of its own: each from its own export.
    for (const table of TABLES) {
      const run = await runCliInProcess(['sync', 'many', '--tables', table, '--wait', '--config', configFile], tmp.dir);
      assert.equal(run.code, table === 'public.t00' ? 1 : 0, run.stdout + run.stderr);
    }
    const text = await runCli(['rerun', 'many', '--tables', TABLES.join(','), '--wait', '--config', configFile], { timeoutMs: 300_000 });
    assert.equal((text.stdout.match(/^cycle \S+ \(rerun\)/gm) ?? []).length, 21, text.stdout);
    assert.match(text.stdout, /^public\.t00\s+failed\s+.*t00 breaks twice/m, text.stdout);
    assert.match(text.stdout, /lakesync rerun many --failed/);
    assert.equal(text.code, 1, text.stdout + text.stderr);
  });
});
