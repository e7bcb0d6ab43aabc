/**
 * The fake backend's state folder: two processes writing it at once leave a whole file, and a
 * garbled file is reported instead of being read as an empty backend.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { emptyState, readStateDir } from '../../src/fake/state';

const dirs: string[] = [];
function folder(): string {
  const dir = mkdtempSync(join(tmpdir(), 'lakesync-fake-state-'));
  dirs.push(dir);
  return dir;
}
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** A process that writes `updates` large changes to the state folder; resolves with its exit code and error output. */
function writer(stateDir: string, updates: number): Promise<{ code: number | null; stderr: string }> {
  const script = `
    const { FakeStateStore } = require(${JSON.stringify(join(__dirname, '../../src/fake/state.js'))});
    const store = new FakeStateStore(${JSON.stringify(stateDir)});
    const big = 'x'.repeat(200000);
    for (let i = 0; i < ${updates}; i++) store.update((s) => { s.manifests['m' + process.pid] = big + i; s.counters.n = i; });
  `;
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

describe('the fake state folder', () => {
  test('an absent file is an empty state', () => {
    assert.deepEqual(readStateDir(folder()), emptyState());
  });

  test('a garbled file fails, naming the file', () => {
    const dir = folder();
    writeFileSync(join(dir, 'fake-state.json'), '{"counters": {"a": 1}, "snap');
    assert.throws(() => readStateDir(dir), (e: Error) => e.message.includes(join(dir, 'fake-state.json')) && /not valid JSON|garbled|cannot be read/.test(e.message));
  });

  test('two processes writing the same folder leave a whole file', async () => {
    const dir = folder();
    const results = await Promise.all([writer(dir, 300), writer(dir, 300)]);
    for (const r of results) assert.equal(r.code, 0, `a writer failed: ${r.stderr}`);
    const state = readStateDir(dir);
    assert.equal(state.counters.n, 299);
  });
});
