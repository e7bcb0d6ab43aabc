/**
 * `rerun --wait` of tables last loaded from different exports: the rerun runs as one cycle per
 * export ("parts"), and the report shows every part's tables, errors and cost, text and JSON.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Ajv2020 from 'ajv/dist/2020';
import { messagesJsonSchema } from '../../src/cli/schemas';
import { freePort } from '../../src/devserver';
import type { RequestResult } from '../../src/model';
import { type Cluster, fakeConfig, json, runCli, startCluster, tempDir, writeConfig } from './helpers';

describe('lakesync rerun --wait of a rerun in several parts', () => {
  const tmp = tempDir('rerun-parts');
  const configFile = join(tmp.dir, 'lakesync.yaml');
  let cluster: Cluster | undefined;
  const cli = (...args: string[]) => runCli([...args, '--config', configFile]);

  before(async () => {
    const port = await freePort();
    writeConfig(
      configFile,
      fakeConfig(`127.0.0.1:${port}`, 'cli-rerun-parts-test', {
        parts: {
          source: {
            kind: 'fake',
            tables: ['public.a', 'public.c'],
            latencyMs: 20,
            stateDir: join(tmp.dir, 'fake-state'),
            // c fails in the first sync and again in the rerun's first part.
            failures: [{ table: 'public.c', phase: 'load', times: 2, retryable: false, message: 'c breaks twice' }],
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

  it('shows the tables and errors of every part, and exits 1 when an earlier part failed', async () => {
    const first = await cli('sync', 'parts', '--wait');
    assert.equal(first.code, 1, first.stdout + first.stderr);
    // a is committed from a newer export; c failed on the first one.
    const second = await cli('sync', 'parts', '--tables', 'public.a', '--wait');
    assert.equal(second.code, 0, second.stdout + second.stderr);

    const text = await cli('rerun', 'parts', '--tables', 'public.a,public.c', '--wait');
    assert.equal(text.code, 1, text.stdout + text.stderr);
    assert.equal((text.stdout.match(/^cycle \S+ \(rerun\)/gm) ?? []).length, 2, text.stdout);
    assert.match(text.stdout, /^public\.c\s+failed\s+.*c breaks twice/m, text.stdout);
    assert.match(text.stdout, /^public\.a\s+committed/m, text.stdout);
    assert.match(text.stdout, /lakesync rerun parts --failed/);

    // status after it: the rerun's earlier part failed, so the last cycle's request did not succeed.
    const status = await cli('status', 'parts');
    assert.equal(status.code, 1, status.stdout + status.stderr);
    assert.match(status.stdout, /part 1 of 2: cycle \S+ \(rerun\) failed/, status.stdout);
  });

  it('--json holds every part, and its status is that of the whole request', async () => {
    // c's failures are used up: fail it again by a rerun of a and c from their two exports; c now loads.
    const run = await cli('sync', 'parts', '--tables', 'public.a', '--wait', '--json');
    assert.equal(run.code, 0, run.stdout + run.stderr);
    const rerun = await cli('rerun', 'parts', '--tables', 'public.a,public.c', '--wait', '--json');
    const result = json<RequestResult>(rerun);
    assert.equal(rerun.code, 0, rerun.stdout + rerun.stderr);
    // What it prints is the documented RequestResult (docs/messages.schema.json).
    const ajv = new Ajv2020({ strict: false });
    ajv.addSchema(messagesJsonSchema());
    assert.equal(ajv.validate({ $ref: 'messages.schema.json#/$defs/RequestResult' }, result), true, JSON.stringify(ajv.errors));
    assert.equal(result.parts?.length, 2, rerun.stdout);
    assert.deepEqual(result.tables.map((t) => [t.table, t.status]).sort(), [['public.a', 'committed'], ['public.c', 'committed']]);
    assert.equal(result.status, 'succeeded');
  });
});
