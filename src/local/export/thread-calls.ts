/**
 * Requests to a worker thread, each answered by a reply that carries its number. When the thread
 * throws or exits, every request still waiting fails with why, and so does every later one.
 */
import type { Worker } from 'node:worker_threads';

/** A request as the caller writes it: the call number is added on the way. */
export type Unnumbered<T> = T extends unknown ? Omit<T, 'call'> : never;

export interface ThreadCallsOptions<Reply> {
  /** The error a reply reports, or undefined when the request succeeded. */
  failure(reply: Reply): Error | undefined;
  /** Why the thread is gone: it threw `error`, or exited with `code`. */
  gone(end: { error: Error } | { code: number }): Error;
  /** Keep the process alive only while a request is waiting (the thread is unref'd otherwise). */
  refOnlyWhileBusy?: boolean;
}

export class ThreadCalls<Request extends { call: number }, Reply extends { call: number }> {
  private readonly pending = new Map<number, { resolve: (reply: Reply) => void; reject: (err: Error) => void }>();
  private nextCall = 0;
  private endedWith: Error | undefined;
  /** Resolves with the exit code once the thread is gone. */
  readonly exited: Promise<number>;

  constructor(
    readonly worker: Worker,
    private readonly options: ThreadCallsOptions<Reply>,
  ) {
    worker.on('message', (reply: Reply) => {
      const call = this.pending.get(reply.call);
      if (!call) return;
      this.settled(reply.call);
      const failure = options.failure(reply);
      if (failure) call.reject(failure);
      else call.resolve(reply);
    });
    worker.on('error', (error) => this.end(options.gone({ error })));
    this.exited = new Promise((resolve) =>
      worker.on('exit', (code) => {
        this.end(options.gone({ code }));
        resolve(code);
      }),
    );
    // After the listeners: adding a 'message' listener refs the thread again.
    if (options.refOnlyWhileBusy) worker.unref();
  }

  /** Why the thread can take no more requests, once it cannot. */
  get ended(): Error | undefined {
    return this.endedWith;
  }

  call(request: Unnumbered<Request>, transfer: ArrayBuffer[] = []): Promise<Reply> {
    if (this.endedWith) return Promise.reject(this.endedWith);
    const call = this.nextCall++;
    if (this.options.refOnlyWhileBusy && this.pending.size === 0) this.worker.ref();
    const reply = new Promise<Reply>((resolve, reject) => this.pending.set(call, { resolve, reject }));
    this.worker.postMessage({ ...request, call }, transfer);
    return reply;
  }

  /** No request is sent from now on; those still waiting fail with `reason` (the first reason given stays). */
  end(reason: Error): void {
    this.endedWith ??= reason;
    for (const [call, { reject }] of [...this.pending]) {
      this.settled(call);
      reject(this.endedWith);
    }
  }

  private settled(call: number): void {
    this.pending.delete(call);
    if (this.options.refOnlyWhileBusy && this.pending.size === 0) this.worker.unref();
  }
}
