/**
 * `npm run chaos [-- --seed N --path aws|local|both --kills N --fault-rate F]`: a chaos run.
 * The AWS path (moto behind a fault-injecting proxy, bench/chaos/aws.ts) and the local path
 * (PostgreSQL source, local Spark, bench/chaos/local.ts) each run three cycles while the worker
 * (and locally the load runner) is killed with SIGKILL at seeded moments. Prints the figures,
 * writes bench/results/chaos.json, and exits 1 when a table was lost, loaded twice or differs
 * from its source. The seed is printed; `--seed N` replays the same faults and kill moments.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../src/toolchain';
import { runAwsChaos } from './chaos/aws';
import { runLocalChaos } from './chaos/local';
import { type PathFigures, summary } from './chaos/report';

interface Options {
  seed: number;
  path: 'aws' | 'local' | 'both';
  kills: number;
  faultRate: number;
  cycles: number;
  awsTables: number;
}

export function parseOptions(argv: string[]): Options {
  const options: Options = { seed: Math.floor(Math.random() * 2 ** 31), path: 'both', kills: 10, faultRate: 0.2, cycles: 3, awsTables: 20 };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i]!.split('=', 2) as [string, string | undefined];
    const value = () => inline ?? argv[++i] ?? '';
    const number = (name: string, min: number, max: number) => {
      const v = Number(value());
      if (!Number.isFinite(v) || v < min || v > max) throw new Error(`${name} must be a number from ${min} to ${max}`);
      return v;
    };
    if (flag === '--seed') options.seed = Math.trunc(number('--seed', 0, 2 ** 32 - 1));
    else if (flag === '--path') {
      const p = value();
      if (p !== 'aws' && p !== 'local' && p !== 'both') throw new Error(`--path must be aws, local or both, not "${p}"`);
      options.path = p;
    } else if (flag === '--kills') options.kills = Math.trunc(number('--kills', 0, 100));
    else if (flag === '--fault-rate') options.faultRate = number('--fault-rate', 0, 1);
    else if (flag === '--cycles') options.cycles = Math.trunc(number('--cycles', 1, 10));
    else if (flag === '--tables') options.awsTables = Math.trunc(number('--tables', 1, 200));
    else throw new Error(`unknown option ${argv[i]}: use --seed N, --path aws|local|both, --kills N, --fault-rate F, --cycles N, --tables N`);
  }
  return options;
}

async function main(): Promise<number> {
  const options = parseOptions(process.argv.slice(2));
  const started = Date.now();
  const log = (line: string) => console.log(`${((Date.now() - started) / 1000).toFixed(1).padStart(6)} s  ${line}`);
  console.log(`chaos seed ${options.seed} (replay: npm run chaos -- --seed ${options.seed} --path ${options.path} --kills ${options.kills} --fault-rate ${options.faultRate})`);
  const common = { seed: options.seed, kills: options.kills, faultRate: options.faultRate, cycles: options.cycles, cycleTimeoutMs: 15 * 60_000, log };
  const paths: PathFigures[] = [];
  if (options.path !== 'local') paths.push(await runAwsChaos({ ...common, tables: options.awsTables }));
  if (options.path !== 'aws') paths.push(await runLocalChaos({ ...common, tables: 5 }));
  const result = {
    benchmark: 'chaos',
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, node: process.version },
    seed: options.seed,
    options,
    replay: `npm run chaos -- --seed ${options.seed} --path ${options.path} --kills ${options.kills} --fault-rate ${options.faultRate}`,
    wallSeconds: Math.round((Date.now() - started) / 100) / 10,
    ok: paths.every((p) => p.ok),
    paths,
  };
  const out = join(repoRoot(), 'bench', 'results');
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'chaos.json'), `${JSON.stringify(result, null, 2)}\n`);
  console.log(`\nchaos seed ${options.seed}, ${result.wallSeconds} s`);
  for (const p of paths) console.log(summary(p));
  console.log('bench/results/chaos.json written');
  return result.ok ? 0 : 1;
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
