/** Tools are resolved when first used, so a process needs only the tools it runs. */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { toolchain } from '../../src/toolchain';
import { tempDir } from '../helpers/temp-dir';

test('a process without the Temporal CLI still finds Python and the jar; asking for the CLI names the fix', () => {
  const dir = tempDir('lakesync-toolchain-');
  const file = join(dir, 'toolchain.json');
  writeFileSync(file, JSON.stringify({ python: '/opt/venv/bin/python', icebergJar: '/opt/jars/iceberg.jar', javaHome: '/opt/java', root: dir }));
  const saved = process.env.LAKESYNC_TEMPORAL_BIN;
  delete process.env.LAKESYNC_TEMPORAL_BIN;
  try {
    const tools = toolchain(file);
    assert.equal(tools.python, process.env.LAKESYNC_PYTHON ?? '/opt/venv/bin/python');
    assert.equal(tools.icebergJar, process.env.LAKESYNC_ICEBERG_JAR ?? '/opt/jars/iceberg.jar');
    assert.equal(tools.root, dir);
    assert.throws(() => tools.temporal, /temporal is not installed: run "npm run bootstrap" \(or set LAKESYNC_TEMPORAL_BIN\)/);
    process.env.LAKESYNC_TEMPORAL_BIN = '/usr/local/bin/temporal';
    assert.equal(tools.temporal, '/usr/local/bin/temporal', 'the environment overrides the file');
  } finally {
    if (saved === undefined) delete process.env.LAKESYNC_TEMPORAL_BIN;
    else process.env.LAKESYNC_TEMPORAL_BIN = saved;
  }
});
