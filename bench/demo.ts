/**
 * `npm run bench:demo` (after the build): the demo's wall time per phase, cold and warm, written to
 * bench/results/demo.json. Each run is a fresh process with fresh demo data, so Spark's JVM, PGlite
 * and the Temporal dev server all start from nothing; "cold" is the first run after the build,
 * "warm" the same run repeated at once (the operating system's file cache then holds the jars and
 * the WebAssembly). The bootstrap check (everything already installed) is timed separately.
 * Target: the cold demo within 120 s on 2 cores.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { cpus, totalmem } from 'node:os';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DemoReport } from '../src/demo/run';
import { repoRoot } from '../src/toolchain';

const TARGET_SECONDS = 120;

interface RunFigures {
  ok: boolean;
  wallSeconds: number;
  demoSeconds: number;
  phases: { phase: string; seconds: number }[];
  problems: string[];
}

function runDemoOnce(root: string, label: string): RunFigures {
  const reportFile = join(root, '.lakesync', `bench-demo-${label}.json`);
  rmSync(reportFile, { force: true });
  const started = Date.now();
  // The demo compiled next to this benchmark (dist/src/demo/main.js after npm run build).
  const demo = join(__dirname, '..', 'src', 'demo', 'main.js');
  const run = spawnSync(process.execPath, [demo, '--report', reportFile], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
  const wallSeconds = (Date.now() - started) / 1000;
  let report: DemoReport | undefined;
  try {
    report = JSON.parse(readFileSync(reportFile, 'utf8')) as DemoReport;
  } catch {
    report = undefined;
  }
  rmSync(reportFile, { force: true });
  return {
    ok: run.status === 0 && Boolean(report?.ok),
    wallSeconds,
    demoSeconds: report?.totalSeconds ?? wallSeconds,
    phases: report?.phases ?? [],
    problems: report?.problems ?? [`the demo exited with ${run.status ?? run.signal} and wrote no report`],
  };
}

function main(): number {
  const root = repoRoot();
  const bootstrapStarted = Date.now();
  execFileSync('bash', [join(root, 'scripts', 'bootstrap.sh')], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
  const bootstrapSeconds = (Date.now() - bootstrapStarted) / 1000;

  const cold = runDemoOnce(root, 'cold');
  const warm = runDemoOnce(root, 'warm');
  const result = {
    benchmark: 'demo',
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version },
    targetSeconds: TARGET_SECONDS,
    bootstrapCheckSeconds: bootstrapSeconds,
    cold,
    warm,
    withinTarget: cold.ok && cold.wallSeconds <= TARGET_SECONDS,
  };
  mkdirSync(join(root, 'bench', 'results'), { recursive: true });
  writeFileSync(join(root, 'bench', 'results', 'demo.json'), `${JSON.stringify(result, null, 2)}\n`);
  console.log(`demo: cold ${cold.wallSeconds.toFixed(1)} s, warm ${warm.wallSeconds.toFixed(1)} s (target ${TARGET_SECONDS} s cold); bootstrap check ${bootstrapSeconds.toFixed(1)} s`);
  console.log('bench/results/demo.json written');
  if (!cold.ok || !warm.ok) {
    console.error(`the demo failed: ${[...cold.problems, ...warm.problems].join('; ')}`);
    return 1;
  }
  return 0;
}

process.exitCode = main();
