/**
 * Where the CLI and the worker connect: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE and the Temporal CLI's
 * profile (envconfig) win over temporal.* of lakesync.yaml, as the config's own comments say.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, afterEach, beforeEach, describe, it } from 'node:test';
import { parseConfig } from '../../src/config/load';
import { temporalTarget } from '../../src/temporal';
import { tempDir } from './helpers';

const VARS = ['TEMPORAL_ADDRESS', 'TEMPORAL_NAMESPACE', 'TEMPORAL_CONFIG_FILE', 'TEMPORAL_PROFILE', 'LAKESYNC_TASK_QUEUE', 'TEMPORAL_API_KEY'];

describe('temporalTarget', () => {
  after(() => tmp.remove());
  const tmp = tempDir('temporal-target');
  const saved: Record<string, string | undefined> = {};
  const config = (temporal: Record<string, unknown>) => parseConfig({ temporal, sources: { shop: { database: 'shop', source: { kind: 'fake', tables: 1 }, target: { namespace: 'shop' } } } });
  const profile = (body: string) => {
    const file = join(tmp.dir, 'temporal.toml');
    writeFileSync(file, body);
    process.env.TEMPORAL_CONFIG_FILE = file;
  };

  beforeEach(() => {
    for (const v of VARS) {
      saved[v] = process.env[v];
      delete process.env[v];
    }
    // No profile file of this machine's user.
    process.env.TEMPORAL_CONFIG_FILE = join(tmp.dir, 'none.toml');
  });
  afterEach(() => {
    for (const v of VARS) {
      if (saved[v] === undefined) delete process.env[v];
      else process.env[v] = saved[v];
    }
  });

  it('takes the config when neither a variable nor a profile is set', () => {
    const t = temporalTarget(config({ address: 'temporal.internal:7233', namespace: 'lake', taskQueue: 'q' }));
    assert.deepEqual([t.address, t.namespace, t.taskQueue, t.connect.address], ['temporal.internal:7233', 'lake', 'q', 'temporal.internal:7233']);
    assert.equal(temporalTarget(config({})).address, 'localhost:7233');
  });

  it("a profile's address and namespace win over the config's, so its TLS and API key go to its own server", () => {
    profile('[profile.default]\naddress = "ns.acct.tmprl.cloud:7233"\nnamespace = "ns.acct"\napi_key = "k"\n');
    // The starter config (lakesync init) names localhost:7233.
    const t = temporalTarget(config({ address: 'localhost:7233', namespace: 'default' }));
    assert.equal(t.address, 'ns.acct.tmprl.cloud:7233');
    assert.equal(t.connect.address, 'ns.acct.tmprl.cloud:7233');
    assert.equal(t.namespace, 'ns.acct');
    assert.equal(t.connect.apiKey, 'k');
  });

  it("a dev session's own server takes no profile's address, namespace, TLS or API key", () => {
    profile('[profile.default]\naddress = "ns.acct.tmprl.cloud:7233"\nnamespace = "ns.acct"\napi_key = "k"\n[profile.default.tls]\ndisabled = false\n');
    const t = temporalTarget(config({ address: 'localhost:7233', namespace: 'default', taskQueue: 'q' }), '127.0.0.1:7299');
    assert.deepEqual([t.address, t.connect.address, t.namespace, t.taskQueue], ['127.0.0.1:7299', '127.0.0.1:7299', 'default', 'q']);
    assert.equal(t.connect.apiKey, undefined);
    assert.equal(t.connect.tls, undefined);
  });

  it('TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE and LAKESYNC_TASK_QUEUE win over the profile and the config', () => {
    profile('[profile.default]\naddress = "ns.acct.tmprl.cloud:7233"\nnamespace = "ns.acct"\n');
    process.env.TEMPORAL_ADDRESS = 'other:7233';
    process.env.TEMPORAL_NAMESPACE = 'other-ns';
    process.env.LAKESYNC_TASK_QUEUE = 'other-q';
    const t = temporalTarget(config({ address: 'localhost:7233', namespace: 'default', taskQueue: 'q' }));
    assert.deepEqual([t.address, t.connect.address, t.namespace, t.taskQueue], ['other:7233', 'other:7233', 'other-ns', 'other-q']);
  });
});
