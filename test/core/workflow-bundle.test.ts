/**
 * The workflow bundle kept on disk: reused while the compiled code is the same, made again as soon
 * as any file of it changes (an old bundle must never run new code), and still made when the cache
 * cannot be written.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { bundleKey, cachedBundle, workflowBundle } from '../../src/workflow-bundle';

const work = mkdtempSync(join(tmpdir(), 'lakesync-bundle-'));
after(() => rmSync(work, { recursive: true, force: true }));

let dirs = 0;
/** A compiled-code folder: workflows and a module they import, in a subfolder as in dist/src. */
function codeRoot(): string {
  const root = join(work, `code-${++dirs}`);
  mkdirSync(join(root, 'workflows'), { recursive: true });
  writeFileSync(join(root, 'workflows', 'index.js'), 'exports.cycle = require("../plan").plan;\n');
  writeFileSync(join(root, 'plan.js'), 'exports.plan = () => "v1";\n');
  return root;
}

/** A bundler that counts its calls and names the code it read. */
function countingBundler(): { calls: string[]; bundle(workflowsPath: string): Promise<string> } {
  const calls: string[] = [];
  return {
    calls,
    async bundle(workflowsPath: string) {
      calls.push(workflowsPath);
      return `bundle ${calls.length} of ${workflowsPath}`;
    },
  };
}

describe('workflow bundle cache', () => {
  test('the key changes when a file changes, is added, removed or renamed, and not for other files', () => {
    const root = codeRoot();
    const first = bundleKey(root);
    assert.equal(bundleKey(root), first, 'the same code gives the same key');
    writeFileSync(join(root, 'notes.md'), 'not code');
    writeFileSync(join(root, 'plan.js.map'), '{}');
    assert.equal(bundleKey(root), first, 'files that are not .js are not part of the bundle');

    writeFileSync(join(root, 'plan.js'), 'exports.plan = () => "v2";\n');
    const changed = bundleKey(root);
    assert.notEqual(changed, first, 'a changed byte in an imported module');
    writeFileSync(join(root, 'workflows', 'extra.js'), '');
    const added = bundleKey(root);
    assert.notEqual(added, changed, 'an added file, even empty');
    renameSync(join(root, 'workflows', 'extra.js'), join(root, 'extra.js'));
    const renamed = bundleKey(root);
    assert.notEqual(renamed, added, 'a file moved to another folder');
    rmSync(join(root, 'extra.js'));
    assert.equal(bundleKey(root), changed, 'the same files again: the same key');
  });

  test('bundled once per code: reused from the cache, made again after a change, the old one removed', async () => {
    const root = codeRoot();
    const cacheDir = join(work, 'cache-a');
    const bundler = countingBundler();
    const source = { workflowsPath: join(root, 'workflows'), codeRoot: root, cacheDir, bundle: bundler.bundle };

    const first = await cachedBundle(source);
    assert.equal(bundler.calls.length, 1);
    assert.deepEqual(await cachedBundle(source), first, 'the second worker reads the saved bundle');
    assert.equal(bundler.calls.length, 1, 'and does not bundle');
    assert.equal(readdirSync(cacheDir).length, 1, 'one whole bundle, no temporary file left');

    writeFileSync(join(root, 'plan.js'), 'exports.plan = () => "v2";\n');
    const after = await cachedBundle(source);
    assert.equal(bundler.calls.length, 2, 'changed code is bundled again');
    assert.notDeepEqual(after, first, 'and the new bundle runs, not the old one');
    assert.deepEqual(readdirSync(cacheDir), [`workflows-${bundleKey(root)}.js`], 'the old bundle is removed');
  });

  test('code that changes while it is bundled: the bundle is used once and not kept under either version', async () => {
    const root = codeRoot();
    const cacheDir = join(work, 'cache-b');
    const bundler = countingBundler();
    const rebuilding = async (workflowsPath: string) => {
      writeFileSync(join(root, 'plan.js'), 'exports.plan = () => "rebuilt";\n');
      return bundler.bundle(workflowsPath);
    };
    const source = { workflowsPath: join(root, 'workflows'), codeRoot: root, cacheDir, bundle: rebuilding };
    assert.equal((await cachedBundle(source)).code, `bundle 1 of ${join(root, 'workflows')}`);
    assert.ok(!existsSync(cacheDir) || readdirSync(cacheDir).length === 0, 'nothing saved');
    await cachedBundle({ ...source, bundle: bundler.bundle });
    assert.equal(bundler.calls.length, 2, 'the rebuilt code is bundled on its own');
    assert.deepEqual(readdirSync(cacheDir), [`workflows-${bundleKey(root)}.js`]);
  });

  test('a cache that cannot be written: every call bundles, and each still gets its bundle', async () => {
    const root = codeRoot();
    const blocked = join(work, 'a-file');
    writeFileSync(blocked, 'not a folder');
    const bundler = countingBundler();
    const source = { workflowsPath: join(root, 'workflows'), codeRoot: root, cacheDir: join(blocked, 'cache'), bundle: bundler.bundle };
    assert.equal((await cachedBundle(source)).code, `bundle 1 of ${join(root, 'workflows')}`);
    assert.equal((await cachedBundle(source)).code, `bundle 2 of ${join(root, 'workflows')}`);
  });

  test('a bundle that cannot be saved leaves no temporary file behind', async () => {
    const root = codeRoot();
    const cacheDir = join(work, 'cache-c');
    // A folder where the bundle would go: the rename onto it fails after the bundle was written.
    mkdirSync(join(cacheDir, `workflows-${bundleKey(root)}.js`, 'in-the-way'), { recursive: true });
    const bundler = countingBundler();
    const source = { workflowsPath: join(root, 'workflows'), codeRoot: root, cacheDir, bundle: bundler.bundle };
    assert.equal((await cachedBundle(source)).code, `bundle 1 of ${join(root, 'workflows')}`);
    assert.deepEqual(readdirSync(cacheDir), [`workflows-${bundleKey(root)}.js`], 'only the folder in the way');
  });

  test("this build's bundle: made by the SDK's bundler, saved beside the compiled code and shared in the process", async () => {
    const bundle = await workflowBundle();
    assert.match(bundle.code, /__TEMPORAL__/, 'a bundle of the workflows, as the SDK makes it');
    assert.equal(await workflowBundle(), bundle, 'one bundle per process');
    const cacheDir = join(__dirname, '..', '..', 'workflow-bundles');
    assert.ok(existsSync(cacheDir), `${cacheDir} holds it`);
    assert.deepEqual(readdirSync(cacheDir).filter((f) => f.startsWith('workflows-')), [`workflows-${bundleKey(join(__dirname, '..', '..', 'src'))}.js`]);
  });
});
