/**
 * `npm run demo` (scripts/demo.sh builds, then runs this):
 *   node dist/src/demo/main.js [--config examples/demo.yaml] [--ui-port 8233] [--keep] [--report file.json]
 * Exits 0 only when every cycle ended as expected and every verification passed.
 */
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Command } from 'commander';
import { repoRoot } from '../toolchain';
import { type DemoReport, runDemo } from './run';

function printPhases(report: DemoReport, log: (line: string) => void): void {
  log('');
  log('time per phase:');
  for (const p of report.phases) log(`  ${p.phase.padEnd(48)} ${p.seconds.toFixed(1).padStart(6)} s`);
  log(`  ${'total'.padEnd(48)} ${report.totalSeconds.toFixed(1).padStart(6)} s`);
}

async function waitForInterrupt(url: string | undefined, log: (line: string) => void): Promise<void> {
  log('');
  log(`the demo is done; Temporal and its Web UI keep running at ${url}: press Ctrl-C to stop them`);
  await new Promise<void>((resolveStop) => process.once('SIGINT', () => resolveStop()));
}

async function main(): Promise<number> {
  const program = new Command('demo')
    .option('--config <file>', 'the demo config', 'examples/demo.yaml')
    .option('--ui-port <port>', 'port of the Temporal Web UI (default 8233, or a free one)')
    .option('--keep', 'keep Temporal and its Web UI running after the demo, until Ctrl-C')
    .option('--report <file>', 'also write the report as JSON to this file')
    .parse(process.argv);
  const opts = program.opts<{ config: string; uiPort?: string; keep?: boolean; report?: string }>();
  const root = repoRoot();
  const log = (line: string) => process.stdout.write(`${line}\n`);
  const report = await runDemo({
    root,
    configFile: resolve(root, opts.config),
    ...(opts.uiPort ? { uiPort: Number(opts.uiPort) } : {}),
    log,
    ...(opts.keep ? { beforeShutdown: (r: DemoReport) => waitForInterrupt(r.uiUrl, log) } : {}),
  });
  printPhases(report, log);
  if (opts.report) writeFileSync(resolve(root, opts.report), JSON.stringify(report, null, 2));
  log('');
  if (report.ok) {
    log('demo passed: every cycle ended as expected, every verification passed, and every lake table equals its source table');
    return 0;
  }
  log('demo FAILED:');
  for (const p of report.problems) log(`  - ${p}`);
  return 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`demo failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
