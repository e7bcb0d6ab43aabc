/** The worker process of a chaos run: started, killed with SIGKILL and started again, by its pid only. */
import { type ChildProcess, fork } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { stopChild } from '../../src/child-process';

export class WorkerProcess {
  private child: ChildProcess | undefined;
  private starting: Promise<void> | undefined;
  restarts = 0;

  constructor(
    private readonly configFile: string,
    private readonly dataRoot: string,
    private readonly log: (line: string) => void,
  ) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get alive(): boolean {
    return Boolean(this.child && this.child.exitCode === null && this.child.signalCode === null);
  }

  start(): Promise<void> {
    this.starting ??= this.spawn().finally(() => (this.starting = undefined));
    return this.starting;
  }

  private async spawn(): Promise<void> {
    // Node's own warnings (the AWS SDK's Node version notice) would repeat at every restart.
    const child = fork(join(__dirname, 'worker.js'), [this.configFile, this.dataRoot], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'], env: { ...process.env, NODE_NO_WARNINGS: '1' } });
    child.stderr?.on('data', (b: Buffer) => {
      const text = b.toString().trim();
      if (text) this.log(`worker ${child.pid}: ${text.slice(0, 400)}`);
    });
    this.child = child;
    await new Promise<void>((resolve, reject) => {
      child.once('message', () => resolve());
      child.once('exit', (code, signal) => reject(new Error(`the worker exited (${code ?? signal}) before it was ready`)));
    });
  }

  /** SIGKILL, then a start again after `pauseMs`; resolves once the new worker polls. */
  async killAndRestart(pauseMs: number): Promise<void> {
    await this.kill();
    await delay(pauseMs);
    this.restarts++;
    await this.start();
  }

  async kill(): Promise<void> {
    if (this.starting) await this.starting.catch(() => undefined);
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (child) await stopChild(child, { killAfterMs: 20_000 });
  }
}
