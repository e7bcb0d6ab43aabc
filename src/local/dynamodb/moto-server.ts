/**
 * The embedded DynamoDB: moto server (the AWS emulator, installed in the toolchain's Python venv
 * by `npm run bootstrap`) on a loopback port. Its tables live in memory and end with it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { setTimeout as delay } from 'node:timers/promises';
import { hasEnded, stopChild } from '../../child-process';
import { freePort } from '../../devserver';
import { toolchain } from '../../toolchain';

export interface EmbeddedDynamo {
  /** `http://127.0.0.1:<port>`: the source's `endpoint`. */
  endpoint: string;
  port: number;
  stop(): Promise<void>;
}

export interface EmbeddedDynamoOptions {
  /** Loopback port; a free one when absent. */
  port?: number;
  /** Python with moto installed (default: the toolchain's). */
  python?: string;
  /** How long moto may take to answer (default 60 s). */
  readyTimeoutMs?: number;
  log?: (line: string) => void;
  /** What the server is, in messages (default: the embedded DynamoDB). */
  name?: string;
}

export async function startEmbeddedDynamo(options: EmbeddedDynamoOptions = {}): Promise<EmbeddedDynamo> {
  const port = options.port ?? (await freePort());
  const endpoint = `http://127.0.0.1:${port}`;
  const output: string[] = [];
  const child: ChildProcess = spawn(options.python ?? toolchain().python, ['-m', 'moto.server', '-H', '127.0.0.1', '-p', String(port)], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, PYTHONUNBUFFERED: '1' },
  });
  const keep = (buf: Buffer) => {
    output.push(buf.toString());
    if (output.length > 200) output.shift();
    options.log?.(buf.toString());
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));
  const name = `${options.name ?? 'the embedded DynamoDB'} (moto server)`;

  const stop = async () => {
    await stopChild(child, { killAfterMs: 5_000 });
  };

  try {
    await Promise.race([
      waitReady(name, endpoint, child, output, options.readyTimeoutMs ?? 60_000),
      spawnError.then((err) => {
        throw new Error(`${name} could not start: ${err.message}; run "npm run bootstrap" to install the toolchain`);
      }),
    ]);
  } catch (err) {
    await stop();
    throw err;
  }
  return { endpoint, port, stop };
}

async function waitReady(name: string, endpoint: string, child: ChildProcess, output: string[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (hasEnded(child)) {
      const how = child.signalCode ? `was ended by ${child.signalCode}` : `exited with code ${child.exitCode}`;
      throw new Error(`${name} ${how}: ${output.join('').slice(-2000)}\nIs moto installed in the toolchain's Python? Run "npm run bootstrap".`);
    }
    try {
      const res = await fetch(`${endpoint}/moto-api/data.json`);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await delay(200);
  }
  throw new Error(`${name} at ${endpoint} was not ready after ${Math.round(timeoutMs / 1000)} s: ${output.join('').slice(-2000)}`);
}
