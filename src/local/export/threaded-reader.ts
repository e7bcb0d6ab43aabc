/**
 * Export readers in threads of their own (reader-thread.ts), seen from the thread that starts
 * them. A thread outlives its reader and serves the next export's: a new thread costs its start
 * and compiling the parser again, which on an export of a few million rows is most of the gain.
 * Idle threads never keep the process alive, and end after IDLE_THREAD_MS.
 */
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { PortError } from '../../errors';
import { rowsInFlight } from './parts';
import type { ReaderReply, ReaderRequest, ReaderThreadData, ThreadError } from './reader-thread';
import type { ExportReader, RangeRead, RangeWritten } from './snapshot-reader';

export const IDLE_THREAD_MS = 60_000;
/** Idle threads kept at most (an export uses at most 4 readers by default). */
const MAX_IDLE_THREADS = 4;

type Request = ReaderRequest extends infer R ? (R extends { call: number } ? Omit<R, 'call'> : never) : never;

const idle: ReaderThread[] = [];

/** Tests only: the thread's code, and how long it stays idle. */
export interface ReaderThreadOptions {
  script?: string;
  idleMs?: number;
}

/** A reader in a thread (an idle one, or a new one) that has connected to `url` and joined `snapshot`. */
export async function startReaderThread(url: string, snapshot: string, options: ReaderThreadOptions = {}): Promise<ExportReader> {
  const script = options.script ?? join(__dirname, 'reader-thread.js');
  const thread = takeIdle(script) ?? new ReaderThread(script, options.idleMs ?? IDLE_THREAD_MS);
  try {
    await thread.call({ op: 'join', url, snapshot });
  } catch (err) {
    await thread.close();
    throw err;
  }
  return thread;
}

/** Threads started and still running (tests). */
export function readerThreadsRunning(): number {
  return ReaderThread.running;
}

/** Ends every idle thread at once (tests). */
export async function endIdleReaderThreads(): Promise<void> {
  await Promise.all(idle.splice(0).map((t) => t.terminate()));
}

function takeIdle(script: string): ReaderThread | undefined {
  return idle.find((t) => t.script === script)?.wake();
}

class ReaderThread implements ExportReader {
  static running = 0;
  private readonly worker: Worker;
  private readonly pending = new Map<number, { resolve: (reply: ReaderReply) => void; reject: (err: Error) => void }>();
  private nextCall = 0;
  /** Why the thread is gone, once it is. */
  private ended: Error | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  /** Resolves once the thread is gone. */
  private readonly exited: Promise<void>;

  constructor(
    readonly script: string,
    private readonly idleMs: number,
  ) {
    this.worker = new Worker(script, { workerData: { rowsInFlight: rowsInFlight.shared } satisfies ReaderThreadData });
    ReaderThread.running += 1;
    this.worker.on('message', (reply: ReaderReply) => {
      const call = this.pending.get(reply.call);
      if (!call) return;
      this.pending.delete(reply.call);
      if (reply.error) call.reject(fromThread(reply.error));
      else call.resolve(reply);
    });
    this.worker.on('error', (err) => this.end(new Error(`the export reader thread failed: ${err.message}`)));
    this.exited = new Promise((resolve) =>
      this.worker.on('exit', (code) => {
        ReaderThread.running -= 1;
        this.end(new Error(`the export reader thread exited with code ${code}`));
        resolve();
      }),
    );
  }

  async read(range: RangeRead): Promise<RangeWritten> {
    return (await this.call({ op: 'read', range })).written!;
  }

  async commit(): Promise<void> {
    await this.call({ op: 'commit' });
  }

  stop(): void {
    if (!this.ended) this.worker.postMessage({ op: 'stop' } satisfies ReaderRequest);
  }

  /** Ends the connection; the thread waits, idle, for the next export (or ends, when that fails). */
  async close(): Promise<void> {
    if (this.ended) return this.terminate();
    const closed = await this.call({ op: 'close' }).then(
      () => true,
      () => false,
    );
    if (!closed || this.ended || idle.length >= MAX_IDLE_THREADS) return this.terminate();
    this.worker.unref();
    this.idleTimer = setTimeout(() => {
      this.leaveIdle();
      void this.terminate();
    }, this.idleMs).unref();
    idle.push(this);
  }

  wake(): this {
    this.leaveIdle();
    this.worker.ref();
    return this;
  }

  /** Ends the thread (at once: a read under way is not finished) and waits until it is gone. */
  async terminate(): Promise<void> {
    this.ended ??= new Error('the export reader thread was closed');
    clearTimeout(this.idleTimer);
    await this.worker.terminate();
    await this.exited;
  }

  call(request: Request): Promise<ReaderReply> {
    if (this.ended) return Promise.reject(this.ended);
    const call = this.nextCall++;
    const reply = new Promise<ReaderReply>((resolve, reject) => this.pending.set(call, { resolve, reject }));
    this.worker.postMessage({ ...request, call } as ReaderRequest);
    return reply;
  }

  private leaveIdle(): void {
    clearTimeout(this.idleTimer);
    const at = idle.indexOf(this);
    if (at >= 0) idle.splice(at, 1);
  }

  /** The thread is gone: every request still waiting fails with why. */
  private end(reason: Error): void {
    this.ended ??= reason;
    this.leaveIdle();
    for (const [call, { reject }] of [...this.pending]) {
      this.pending.delete(call);
      reject(reason);
    }
  }
}

function fromThread(error: ThreadError): Error {
  return error.port ? new PortError(error.port.kind, error.port.code, error.message) : new Error(error.message);
}
