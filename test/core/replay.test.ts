/**
 * Determinism guard: histories recorded from the core tests (and the committed fixtures)
 * replay against the current workflow code without a nondeterminism error.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { temporal } from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { repoRoot } from '../../src/toolchain';
import { historiesDir, workflowIdOfHistoryFile } from '../helpers/histories';

function historyFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.binpb'))
    .map((e) => join(e.parentPath, e.name));
}

async function replayAll(files: string[]): Promise<{ replayed: number; failures: string[] }> {
  const histories = files.map((file) => ({ workflowId: workflowIdOfHistoryFile(file), history: temporal.api.history.v1.History.decode(readFileSync(file)) }));
  const failures: string[] = [];
  let replayed = 0;
  for await (const result of Worker.runReplayHistories({ workflowsPath: require.resolve('../../src/workflows') }, histories)) {
    replayed++;
    if (result.error) failures.push(`${result.workflowId}: ${result.error.message}`);
    else if (!result.workflowId) failures.push('a history without workflow id');
  }
  return { replayed, failures };
}

test('committed fixture histories replay against the current workflow code', async () => {
  const files = historyFiles(join(repoRoot(), 'test', 'fixtures', 'histories'));
  assert.ok(files.length >= 3, `expected committed fixture histories, found ${files.length}`);
  const { replayed, failures } = await replayAll(files);
  assert.equal(replayed, files.length);
  assert.deepEqual(failures, []);
});

test('histories recorded by this run replay against the current workflow code', async (t) => {
  const files = historyFiles(historiesDir());
  if (files.length === 0) return t.skip('no histories were recorded in this run (core tests filtered out)');
  const { replayed, failures } = await replayAll(files);
  assert.equal(replayed, files.length);
  assert.deepEqual(failures, []);
});
