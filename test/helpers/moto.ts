/**
 * moto server (the AWS emulator) for the AWS adapter tests: started from the bootstrap venv on a
 * free loopback port, with helpers for its state manager and Athena's queued results.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { setTimeout as delay } from 'node:timers/promises';
import { stopChild } from '../../src/child-process';
import { freePort } from '../../src/devserver';
import { toolchain } from '../../src/toolchain';

export const MOTO_ACCOUNT_ID = '123456789012';

export interface MotoServer {
  endpoint: string;
  port: number;
  /** Forgets every resource (between tests). */
  reset(): Promise<void>;
  /** Paces a model's state changes, e.g. `glue::job_run` with `{ progression: 'manual', times: 2 }`. */
  setTransition(modelName: string, transition: Record<string, unknown>): Promise<void>;
  /** Queues results that the next Athena queries of that region return, in order. */
  queueAthenaResults(region: string, results: { rows: string[][]; columns: string[] }[]): Promise<void>;
  stop(): Promise<void>;
}

/** The default credential chain reads these; moto accepts any. */
export function useTestCredentials(): void {
  process.env.AWS_ACCESS_KEY_ID = 'testing';
  process.env.AWS_SECRET_ACCESS_KEY = 'testing';
  process.env.AWS_SESSION_TOKEN = 'testing';
  delete process.env.AWS_PROFILE;
}

export async function startMoto(): Promise<MotoServer> {
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const output: string[] = [];
  const child: ChildProcess = spawn(toolchain().python, ['-m', 'moto.server', '-H', '127.0.0.1', '-p', String(port)], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, PYTHONUNBUFFERED: '1' },
  });
  const keep = (buf: Buffer) => {
    output.push(buf.toString());
    if (output.length > 200) output.shift();
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);

  const stop = async () => {
    await stopChild(child, { killAfterMs: 5_000 });
  };

  try {
    await waitReady(endpoint, child, output);
  } catch (err) {
    await stop();
    throw err;
  }

  const post = async (path: string, body: unknown) => {
    const res = await fetch(`${endpoint}${path}`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
    if (!res.ok) throw new Error(`moto ${path} answered ${res.status}: ${await res.text()}`);
  };
  return {
    endpoint,
    port,
    reset: () => post('/moto-api/reset', {}),
    setTransition: (modelName, transition) => post('/moto-api/state-manager/set-transition', { model_name: modelName, transition }),
    queueAthenaResults: (region, results) =>
      post('/moto-api/static/athena/query-results', {
        account_id: MOTO_ACCOUNT_ID,
        region,
        results: results.map((r) => ({
          // Athena repeats the column names as the first row of a SELECT's results.
          rows: [r.columns, ...r.rows].map((row) => ({ Data: row.map((v) => ({ VarCharValue: v })) })),
          column_info: r.columns.map((name) => ({ Name: name, Label: name, Type: 'varchar', Nullable: 'UNKNOWN', CatalogName: 'hive', SchemaName: '', TableName: '' })),
        })),
      }),
    stop,
  };
}

async function waitReady(endpoint: string, child: ChildProcess, output: string[]): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`moto server exited with code ${child.exitCode}: ${output.join('').slice(-2000)}`);
    try {
      const res = await fetch(`${endpoint}/moto-api/data.json`);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await delay(200);
  }
  throw new Error(`moto server at ${endpoint} was not ready after 60 s: ${output.join('').slice(-2000)}`);
}
