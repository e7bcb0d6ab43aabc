/**
 * A Temporal dev server started with extra arguments (dynamic config), which startDevServer does
 * not take: e.g. a low limit.historyCount.suggestContinueAsNew so that a source continues as new.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { setTimeout as delay } from 'node:timers/promises';
import { Connection } from '@temporalio/client';
import { freePort } from '../../src/devserver';
import { toolchain } from '../../src/toolchain';
import { SEARCH_ATTRIBUTE_TYPES } from '../../src/workflows/search';

export interface ArgsServer {
  address: string;
  stop(): Promise<void>;
}

export async function startServerWithArgs(dbFile: string, extraArgs: string[]): Promise<ArgsServer> {
  const port = await freePort();
  const address = `127.0.0.1:${port}`;
  const attributes = Object.entries(SEARCH_ATTRIBUTE_TYPES).flatMap(([name, type]) => ['--search-attribute', `${name}=${type}`]);
  const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(port), '--db-filename', dbFile, '--log-level', 'error', '--headless', ...attributes, ...extraArgs];
  const child: ChildProcess = spawn(toolchain().temporal, args, { stdio: 'ignore' });
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  };
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`temporal ${args.join(' ')} exited with ${child.exitCode}`);
    try {
      const conn = await Connection.connect({ address, connectTimeout: 1_000 });
      await conn.workflowService.getSystemInfo({});
      await conn.close();
      return { address, stop };
    } catch (err) {
      if (Date.now() > deadline) {
        await stop();
        throw err;
      }
      await delay(250);
    }
  }
}
