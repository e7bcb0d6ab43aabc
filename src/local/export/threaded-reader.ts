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
import { ThreadCalls } from './thread-calls';

export const IDLE_THREAD_MS = 60_000;
/** Idle threads kept at most (an export uses at most 4 readers by default). */
const MAX_IDLE_THREADS = 4;

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
    await thread.join(url, snapshot);
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
  private readonly calls: ThreadCalls<Extract<ReaderRequest, { call: number }>, ReaderReply>;
  private idleTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly script: string,
    private readonly idleMs: number,
  ) {
    const worker = new Worker(script, { workerData: { rowsInFlight: rowsInFlight.shared } satisfies ReaderThreadData });
    ReaderThread.running += 1;
    this.calls = new ThreadCalls(worker, {
      failure: (reply) => (reply.error ? fromThread(reply.error) : undefined),
      gone: (end) =>
        'error' in end
          ? new Error(`the export reader thread failed: ${end.error.message}`)
          : new Error(`the export reader thread exited with code ${end.code}`),
    });
    void this.calls.exited.then(() => {
      ReaderThread.running -= 1;
      this.leaveIdle();
    });
  }

  async read(range: RangeRead): Promise<RangeWritten> {
    return (await this.calls.call({ op: 'read', range })).written!;
  }

  async commit(): Promise<void> {
    await this.calls.call({ op: 'commit' });
  }

  stop(): void {
    if (!this.calls.ended) this.calls.worker.postMessage({ op: 'stop' } satisfies ReaderRequest);
  }

  async join(url: string, snapshot: string): Promise<void> {
    await this.calls.call({ op: 'join', url, snapshot });
  }

  /** Ends the connection; the thread waits, idle, for the next export (or ends, when that fails). */
  async close(): Promise<void> {
    if (this.calls.ended) return this.terminate();
    const closed = await this.calls.call({ op: 'close' }).then(
      () => true,
      () => false,
    );
    if (!closed || this.calls.ended || idle.length >= MAX_IDLE_THREADS) return this.terminate();
    this.calls.worker.unref();
    this.idleTimer = setTimeout(() => {
      this.leaveIdle();
      void this.terminate();
    }, this.idleMs).unref();
    idle.push(this);
  }

  wake(): this {
    this.leaveIdle();
    this.calls.worker.ref();
    return this;
  }

  /** Ends the thread (at once: a read under way is not finished) and waits until it is gone. */
  async terminate(): Promise<void> {
    this.calls.end(new Error('the export reader thread was closed'));
    this.leaveIdle();
    await this.calls.worker.terminate();
    await this.calls.exited;
  }

  private leaveIdle(): void {
    clearTimeout(this.idleTimer);
    const at = idle.indexOf(this);
    if (at >= 0) idle.splice(at, 1);
  }
}

function fromThread(error: ThreadError): Error {
  return error.port ? new PortError(error.port.kind, error.port.code, error.message) : new Error(error.message);
}
