/**
 * The workflow code a worker runs, bundled by the SDK's bundler (webpack), which takes seconds
 * on every worker start. The bundle is kept on disk beside the compiled code and reused by every
 * worker started from the same build. Its name is a hash of every compiled file and of the SDK's
 * versions: any change to the code gives a new name, so an old bundle is never run.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { bundleWorkflowCode, Runtime } from '@temporalio/worker';

export interface BundleSource {
  /** The module that exports the workflows. */
  workflowsPath: string;
  /** Every compiled file the bundle may include lives under it (the key hashes them all). */
  codeRoot: string;
  /** Where bundles are kept. */
  cacheDir: string;
  /** Bundles the workflows (the SDK's bundler unless a test counts the calls). */
  bundle?: (workflowsPath: string) => Promise<string>;
}

/** The bundler and the workflow library it bundles (their dependencies move with them). */
const SDK_VERSIONS = ['@temporalio/worker', '@temporalio/workflow'].map((name) => `${name} ${(require(`${name}/package.json`) as { version: string }).version}`).join(', ');

/** The bundle of this build's workflows, made once per build and once per process. */
let current: Promise<{ code: string }> | undefined;

export function workflowBundle(): Promise<{ code: string }> {
  current ??= cachedBundle({ workflowsPath: require.resolve('./workflows'), codeRoot: __dirname, cacheDir: join(__dirname, '..', 'workflow-bundles') }).catch((err: unknown) => {
    current = undefined;
    throw err;
  });
  return current;
}

/** The bundle for the code under `codeRoot` as it is now: read from the cache, else bundled and saved there. */
export async function cachedBundle(source: BundleSource): Promise<{ code: string }> {
  const key = bundleKey(source.codeRoot);
  const name = `workflows-${key}.js`;
  try {
    return { code: readFileSync(join(source.cacheDir, name), 'utf8') };
  } catch {
    // Not bundled yet for this code.
  }
  const code = await (source.bundle ?? sdkBundle)(source.workflowsPath);
  // Code rebuilt while it was bundled: the bundle may hold either version, so it is not kept under this name.
  if (bundleKey(source.codeRoot) !== key) return { code };
  try {
    save(source.cacheDir, name, code);
  } catch {
    // A read-only install: every worker start bundles, as the SDK does by default.
  }
  return { code };
}

/** A hash of the SDK's versions and of every .js file under `codeRoot` (its path and its bytes). */
export function bundleKey(codeRoot: string): string {
  const hash = createHash('sha256').update(`${SDK_VERSIONS}\0`);
  for (const file of jsFiles(codeRoot).sort()) hash.update(`${relative(codeRoot, file)}\0`).update(readFileSync(file)).update('\0');
  return hash.digest('hex').slice(0, 32);
}

function jsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return jsFiles(path);
    return entry.name.endsWith('.js') ? [path] : [];
  });
}

/** Writes the bundle under a temporary name, then renames it: a reader sees a whole bundle or none. Older bundles are removed. */
function save(cacheDir: string, name: string, code: string): void {
  mkdirSync(cacheDir, { recursive: true });
  const temporary = join(cacheDir, `.${name}.${process.pid}.tmp`);
  try {
    writeFileSync(temporary, code);
    renameSync(temporary, join(cacheDir, name));
  } finally {
    // A write that failed (a full disk) leaves no part of a bundle behind.
    rmSync(temporary, { force: true });
  }
  for (const old of readdirSync(cacheDir)) if (old !== name && old.startsWith('workflows-')) rmSync(join(cacheDir, old), { force: true });
}

async function sdkBundle(workflowsPath: string): Promise<string> {
  return (await bundleWorkflowCode({ workflowsPath, logger: Runtime.instance().logger })).code;
}
