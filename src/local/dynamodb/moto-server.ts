/**
 * The embedded DynamoDB: moto server (the AWS emulator, installed in the toolchain's Python venv
 * by `npm run bootstrap`) on a loopback port. Its tables live in memory and end with it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { setTimeout as delay } from 'node:timers/promises';
import { hasEnded, stopChild } from '../../child-process';
import { toolchain } from '../../toolchain';

export interface EmbeddedDynamo {
  /** `http://127.0.0.1:<port>`: the source's `endpoint`. */
  endpoint: string;
  port: number;
  stop(): Promise<void>;
}

export interface EmbeddedDynamoOptions {
  /** Loopback port; one the system picks when absent. */
  port?: number;
  /** Python with moto installed (default: the toolchain's). */
  python?: string;
  /** How long moto may take to answer (default 60 s). */
  readyTimeoutMs?: number;
  log?: (line: string) => void;
  /** What the server is, in messages (default: the embedded DynamoDB). */
  name?: string;
}

/** The line the server writes once it has bound its port (werkzeug's), with the port it bound. */
const BOUND = /Running on http:\/\/127\.0\.0\.1:(\d+)/;

export async function startEmbeddedDynamo(options: EmbeddedDynamoOptions = {}): Promise<EmbeddedDynamo> {
  // Port 0 lets the server bind a free port itself: a port chosen here and bound later could be
  // taken meanwhile by another process starting at the same moment.
  const child: ChildProcess = spawn(options.python ?? toolchain().python, ['-m', 'moto.server', '-H', '127.0.0.1', '-p', String(options.port ?? 0)], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, PYTHONUNBUFFERED: '1' },
  });
  const output: string[] = [];
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
    const port = await Promise.race([
      waitReady(name, child, output, options.readyTimeoutMs ?? 60_000),
      spawnError.then((err): never => {
        throw new Error(`${name} could not start: ${err.message}; run "npm run bootstrap" to install the toolchain`);
      }),
    ]);
    return { endpoint: `http://127.0.0.1:${port}`, port, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/**
 * Waits until this server has bound its port and answers there; resolves with the port. Only the
 * server's own line proves the port is its own: another server on a taken port would answer too.
 */
async function waitReady(name: string, child: ChildProcess, output: string[], timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let port: string | undefined;
  while (Date.now() < deadline) {
    if (hasEnded(child)) {
      const how = child.signalCode ? `was ended by ${child.signalCode}` : `exited with code ${child.exitCode}`;
      throw new Error(`${name} ${how}: ${output.join('').slice(-2000)}\nIs moto installed in the toolchain's Python? Run "npm run bootstrap".`);
    }
    port ??= BOUND.exec(output.join(''))?.[1];
    if (port) {
      try {
        const res = await fetch(`http://127.0.0.1:${port}/moto-api/data.json`);
        if (res.ok) return Number(port);
      } catch {
        // not answering yet
      }
    }
    await delay(200);
  }
  throw new Error(`${name} was not ready after ${Math.round(timeoutMs / 1000)} s: ${output.join('').slice(-2000)}`);
}
