/** Runs bash scripts over scripts/lib for the tests of the test lanes. */
import { execFileSync, spawn } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from '../../src/toolchain';

export const ROOT = repoRoot();

export interface BashRun {
  stdout: string;
  stderr: string;
}

/** `source` lines for these files of scripts/lib. */
export function sourceLibs(...files: string[]): string {
  return files.map((f) => `source ${JSON.stringify(join(ROOT, 'scripts', 'lib', f))}`).join('\n');
}

/**
 * Runs a bash script in the repo and resolves once its output closes, which a leaked process holding
 * that output would prevent: then it fails after `limitMs` instead of hanging.
 */
export function runBash(script: string, limitMs: number, env: Record<string, string> = {}): Promise<BashRun> {
  // Without NODE_TEST_CONTEXT, which would make a node runner inside report to this one instead of its files.
  const { NODE_TEST_CONTEXT: _, ...outer } = process.env;
  const child = spawn('bash', ['-c', script], { cwd: ROOT, env: { ...outer, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the script's output was still open after ${limitMs} ms; stdout: ${stdout}; stderr: ${stderr}`)), limitMs);
    child.on('close', () => {
      clearTimeout(timer);
      resolve({ stdout, stderr });
    });
  });
}

/** Processes whose command line holds `marker`. */
export function running(marker: string): string[] {
  try {
    return execFileSync('pgrep', ['-f', marker], { encoding: 'utf8' }).trim().split('\n').filter(Boolean);
  } catch {
    return []; // pgrep exits 1 when nothing matches
  }
}
