/**
 * A lakesync worker in a process of its own (worker-child.ts), for tests that kill it like a
 * crash (SIGKILL) and start another, and the result of the cycle that resumed across the kill.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { lakesync } from '../../../src/demo/cli';
import type { CycleResult } from '../../../src/model';
import { pollFor } from '../../helpers/within';

/** The worker processes a test starts (each resolved once it polls), killed at its end. */
export class WorkerChildren {
  private readonly started: ChildProcess[] = [];

  async start(configFile: string, dataRoot: string): Promise<ChildProcess> {
    const child = spawn(process.execPath, [join(__dirname, 'worker-child.js'), configFile, dataRoot], { stdio: ['ignore', 'pipe', 'inherit'] });
    this.started.push(child);
    await new Promise<void>((resolveReady, reject) => {
      child.once('exit', (code) => reject(new Error(`the worker exited with ${code} before it was ready`)));
      child.stdout!.on('data', (buf: Buffer) => buf.toString().includes('ready') && resolveReady());
    });
    return child;
  }

  killAll(): void {
    for (const child of this.started) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}

/** The result of the cycle that served `requestId`, once `lakesync status` lists it. */
export async function cycleServing(client: Client, source: string, configFile: string, requestId: string): Promise<CycleResult> {
  const workflowId = await pollFor(
    `the cycle of request ${requestId} to finish`,
    async () => {
      // Right after a kill, queries can time out until another worker takes over the workflow.
      const status = await lakesync(['status', source, '--json', '--config', configFile]);
      const view = status.stdout.trim() ? (JSON.parse(status.stdout) as { status?: { recentCycles: { requestIds: string[]; workflowId: string }[] } }) : undefined;
      return view?.status?.recentCycles.find((c) => c.requestIds.includes(requestId))?.workflowId;
    },
    600_000,
    1000,
  );
  return (await client.workflow.getHandle(workflowId).result()) as CycleResult;
}
