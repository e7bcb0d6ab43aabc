/** A record names its process by pid and start: a pid reused by another process is not the record's. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { THIS_PROCESS, ownerAlive, processAlive, processStarted } from '../../src/local/process-identity';
import { repoRoot, toolchain } from '../../src/toolchain';

test('a pid alone, or with its own start, is alive; with another start, or ended, it is not', async () => {
  const child = spawn('sleep', ['120'], { stdio: 'ignore' });
  const pid = child.pid!;
  const started = processStarted(pid);
  assert.match(started ?? '', /^[0-9a-f-]{36}\/[0-9]+$/, 'boot id / start ticks');
  assert.notEqual(started, THIS_PROCESS.started);
  assert.ok(processAlive(pid));
  assert.ok(processAlive({ pid, started: started! }));
  assert.ok(!processAlive({ pid, started: `${started!.split('/')[0]}/1` }), 'same pid, other start: a reused pid');
  assert.ok(!processAlive({ pid, started: `00000000-0000-0000-0000-000000000000/${started!.split('/')[1]}` }), 'same pid and ticks, other boot');
  assert.ok(ownerAlive({ ownerPid: pid, ownerStarted: started! }));
  assert.ok(!ownerAlive({ ownerPid: pid, ownerStarted: 'an-earlier-boot/1' }));
  child.kill('SIGKILL');
  await once(child, 'exit');
  assert.ok(!processAlive(pid) || processStarted(pid) !== started);
  assert.ok(!processAlive({ pid, started: started! }));
});

test('a command name with spaces and parentheses does not shift the fields', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'lakesync-identity-'));
  const odd = join(dir, 'a) b (c');
  symlinkSync('/bin/sleep', odd);
  const child = spawn(odd, ['120'], { stdio: 'ignore' });
  try {
    await once(child, 'spawn');
    const started = processStarted(child.pid!);
    assert.match(started ?? '', /^[0-9a-f-]{36}\/[0-9]+$/);
    assert.ok(processAlive({ pid: child.pid!, started: started! }));
  } finally {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the runner (Python) writes the same start for a process as this module reads', async () => {
  const script = [
    'import os, sys',
    `sys.path.insert(0, ${JSON.stringify(join(repoRoot(), 'glue'))})`,
    'from local_runner import process_started',
    'print(os.getpid(), process_started(os.getpid()), flush=True)',
    'sys.stdin.read()',
  ].join('\n');
  const child = spawn(toolchain().python, ['-c', script], { stdio: ['pipe', 'pipe', 'inherit'] });
  try {
    // A whole line: with PYTHONUNBUFFERED set, print writes each field apart, and one chunk may hold the pid alone.
    const [line] = (await once(createInterface({ input: child.stdout }), 'line')) as [string];
    const [pid, written] = line.trim().split(' ');
    assert.equal(Number(pid), child.pid);
    assert.match(written ?? '', /^[0-9a-f-]{36}\/[0-9]+$/);
    assert.equal(written, processStarted(child.pid!));
  } finally {
    child.stdin.end();
    await once(child, 'exit');
  }
});
