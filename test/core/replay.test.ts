/**
 * Determinism guard: histories recorded from the core tests, and the committed fixtures (recorded
 * from released code by test/fixtures/record-histories.ts), replay against the current workflow
 * code without a nondeterminism error. A change to workflow commands keeps old histories
 * replayable only behind `patched()`; the last test shows the guard telling the two apart.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { bundleWorkflowCode, DefaultLogger, makeTelemetryFilterString, Runtime, type WorkflowBundle, Worker } from '@temporalio/worker';
import { eventTypeName, FIXTURE_COVERAGE, fixtureHistoriesDir, historiesDir, missingCoverage, readHistory, workflowIdOfHistoryFile } from '../helpers/histories';

// Replay results carry every failure; the core need not also log the nondeterminism the versioning tests provoke.
Runtime.install({ logger: new DefaultLogger('ERROR'), telemetryOptions: { logging: { filter: makeTelemetryFilterString({ core: 'ERROR', other: 'ERROR' }) } } });

function historyFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.binpb'))
    .map((e) => join(e.parentPath, e.name))
    .sort();
}

function fixtureFolders(): string[] {
  return readdirSync(fixtureHistoriesDir(), { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
}

/** Bundles once per workflows module: every replay of it reuses the bundle. */
const bundles = new Map<string, Promise<WorkflowBundle>>();
function bundle(workflowsPath: string): Promise<WorkflowBundle> {
  let found = bundles.get(workflowsPath);
  if (!found) {
    found = bundleWorkflowCode({ workflowsPath, logger: { trace() {}, debug() {}, info() {}, warn() {}, error() {}, log() {} } });
    bundles.set(workflowsPath, found);
  }
  return found;
}

const PRODUCT_WORKFLOWS = require.resolve('../../src/workflows');

async function replayAll(files: string[], workflowsPath = PRODUCT_WORKFLOWS): Promise<{ replayed: number; failures: Map<string, string> }> {
  const histories = files.map((file) => ({ workflowId: workflowIdOfHistoryFile(file), history: readHistory(file) }));
  const failures = new Map<string, string>();
  let replayed = 0;
  for await (const result of Worker.runReplayHistories({ workflowBundle: await bundle(workflowsPath) }, histories)) {
    replayed++;
    if (result.error) failures.set(`${result.workflowId}~${result.runId}`, result.error.message);
    else if (!result.workflowId) failures.set(`#${replayed}`, 'a history without workflow id');
  }
  return { replayed, failures };
}

describe('committed fixture histories replay against the current workflow code', () => {
  test('every covered case has its fixture folder', () => {
    assert.deepEqual(fixtureFolders(), Object.keys(FIXTURE_COVERAGE).sort());
  });

  for (const folder of Object.keys(FIXTURE_COVERAGE).sort()) {
    test(`${folder}: holds its case and replays`, async () => {
      const files = historyFiles(join(fixtureHistoriesDir(), folder));
      assert.ok(files.length > 0, `no histories in ${folder}`);
      assert.deepEqual(missingCoverage(files.map(readHistory), FIXTURE_COVERAGE[folder]!), [], `${folder} no longer holds its case`);
      const { replayed, failures } = await replayAll(files);
      assert.equal(replayed, files.length);
      assert.deepEqual(Object.fromEntries(failures), {});
    });
  }
});

test('histories recorded by this run replay against the current workflow code', async (t) => {
  const files = historyFiles(historiesDir());
  if (files.length === 0) return t.skip('no histories were recorded in this run (core tests filtered out)');
  const { replayed, failures } = await replayAll(files);
  assert.equal(replayed, files.length);
  assert.deepEqual(Object.fromEntries(failures), {});
});

describe('versioning with patched(): the guard refuses an unguarded command change and accepts a patched one', () => {
  // The product's workflows with one timer added before the source workflow's first step.
  const unguarded = require.resolve('./workflow-variants/unguarded-timer');
  const patched = require.resolve('./workflow-variants/patched-timer');
  let files: string[];
  let sourceHistories: string[];
  before(() => {
    files = historyFiles(fixtureHistoriesDir());
    // Source workflows started with a sync: their first workflow task started the cycle, where the variant now starts a timer.
    sourceHistories = files.filter((f) => /^lakesync\/[a-z0-9-]+$/.test(workflowIdOfHistoryFile(f)) && startsChildFirst(f));
  });

  test('without patched(), replaying the fixtures fails with a nondeterminism error', async () => {
    assert.ok(sourceHistories.length >= 3, `source histories that start a cycle at once: ${sourceHistories.length}`);
    const { failures } = await replayAll(sourceHistories, unguarded);
    assert.equal(failures.size, sourceHistories.length, `every one of them fails: ${[...failures.keys()].join(', ')}`);
    for (const message of failures.values()) assert.match(message, /nondetermin/i);
  });

  test('behind patched(), the same change replays every fixture', async () => {
    const { replayed, failures } = await replayAll(files, patched);
    assert.equal(replayed, files.length);
    assert.deepEqual(Object.fromEntries(failures), {});
  });
});

/** Whether the history's first workflow task started a child (a source workflow started with a sync). */
function startsChildFirst(file: string): boolean {
  const events = readHistory(file).events ?? [];
  const firstTask = events.findIndex((e) => eventTypeName(e.eventType ?? 0) === 'WORKFLOW_TASK_COMPLETED');
  return firstTask >= 0 && eventTypeName(events[firstTask + 1]?.eventType ?? 0) === 'START_CHILD_WORKFLOW_EXECUTION_INITIATED';
}
