/**
 * A thread serving export readers (threaded-reader.ts starts it), one after the other: for each, it
 * opens a connection of its own, joins the export's snapshot, reads the ranges it is sent and
 * answers each request once it is done. Rows in flight are counted in the memory of the thread
 * that started it.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { PortError } from '../../errors';
import { connectPostgres } from '../source/postgres';
import { rowsInFlight } from './parts';
import { type ExportReader, joinSnapshot, type RangeRead, type RangeWritten } from './snapshot-reader';

export interface ReaderThreadData {
  rowsInFlight: SharedArrayBuffer;
}

export type ReaderRequest =
  /** Opens a connection to `url` (it may carry the password; never printed) and joins `snapshot`. */
  | { op: 'join'; call: number; url: string; snapshot: string }
  | { op: 'read'; call: number; range: RangeRead }
  | { op: 'commit'; call: number }
  /** Ends the connection; the thread waits for its next reader. */
  | { op: 'close'; call: number }
  | { op: 'stop' };

/** An error as it crosses threads: a PortError keeps its kind and code. */
export interface ThreadError {
  message: string;
  port?: { kind: PortError['kind']; code: string };
}

export interface ReaderReply {
  call: number;
  written?: RangeWritten;
  error?: ThreadError;
}

export function threadError(err: unknown): ThreadError {
  const message = err instanceof Error ? err.message : String(err);
  return err instanceof PortError ? { message, port: { kind: err.kind, code: err.code } } : { message };
}

/** The reader this thread serves now (one at a time). */
let reader: ExportReader | undefined;

async function handle(request: Exclude<ReaderRequest, { op: 'stop' }>): Promise<RangeWritten | void> {
  if (request.op === 'join') {
    if (reader) throw new Error('this export reader thread already serves a reader');
    reader = await joinSnapshot(await connectPostgres(request.url), request.snapshot);
    return;
  }
  if (request.op === 'close') {
    const closing = reader;
    reader = undefined;
    return closing?.close();
  }
  if (!reader) throw new Error(`no reader joined this export reader thread (${request.op})`);
  return request.op === 'read' ? reader.read(request.range) : reader.commit();
}

if (parentPort) {
  const port = parentPort;
  rowsInFlight.adopt((workerData as ReaderThreadData).rowsInFlight);
  port.on('message', (request: ReaderRequest) => {
    if (request.op === 'stop') return reader?.stop();
    handle(request).then(
      (written) => port.postMessage({ call: request.call, ...(written ? { written } : {}) } satisfies ReaderReply),
      (err: unknown) => port.postMessage({ call: request.call, error: threadError(err) } satisfies ReaderReply),
    );
  });
}
