/**
 * The thread that encodes Parquet: parquet-wasm (arrow-rs's Parquet writer) runs on the thread
 * that calls it, so it gets one of its own and the readers keep parsing while it compresses.
 * It receives each row group as Arrow IPC bytes and answers every request once it is done.
 */
import { createWriteStream, openAsBlob } from 'node:fs';
import { Writable } from 'node:stream';
import { parentPort } from 'node:worker_threads';
import * as parquet from 'parquet-wasm';
import { PARQUET_COMPRESSION } from './types';

export type ThreadRequest =
  | { op: 'open'; call: number; file: number; path: string; maxRowGroupRows: number }
  | { op: 'batch'; call: number; file: number; ipc: ArrayBuffer }
  | { op: 'close'; call: number; file: number }
  | { op: 'abandon'; call: number; file: number };

export interface ThreadReply {
  call: number;
  error?: string;
}

function writerProperties(maxRowGroupRows: number): parquet.WriterProperties {
  return (
    new parquet.WriterPropertiesBuilder()
      .setCompression(parquet.Compression[PARQUET_COMPRESSION])
      // Each batch handed over is one row group, flushed as soon as it is full.
      .setMaxRowGroupSize(maxRowGroupRows)
      // Export files are read once, whole, by the load: dictionaries cost time (and, compressed,
      // size on this data) and statistics are never used.
      .setDictionaryEnabled(false)
      .setStatisticsEnabled(parquet.EnabledStatistics.None)
      .build()
  );
}

/**
 * One Parquet file. parquet-wasm's streaming writer pulls batches from a stream: it asks for the
 * next one only once the previous is encoded (and, when it filled a row group, handed to the
 * file), so each write waits for that request.
 */
class StreamedFile {
  private controller!: ReadableStreamDefaultController<unknown>;
  /** Resolves when the Parquet writer asks for the next batch. */
  private wanted: Promise<void>;
  private markWanted: () => void = () => undefined;
  /** The whole file written (or its failure). */
  private readonly done: Promise<void>;
  private readonly file: ReturnType<typeof createWriteStream>;
  private rows = 0;

  constructor(
    private readonly path: string,
    maxRowGroupRows: number,
  ) {
    this.wanted = this.nextWant();
    const input = new ReadableStream<unknown>(
      {
        start: (controller) => {
          this.controller = controller;
        },
        pull: () => this.markWanted(),
      },
      { highWaterMark: 0 },
    );
    this.file = createWriteStream(path);
    const output = Writable.toWeb(this.file);
    // The writer starts on the first batch; it ends the output once the input is closed.
    this.done = parquet.transformParquetStream(input, writerProperties(maxRowGroupRows)).then((stream: ReadableStream) => stream.pipeTo(output));
    this.done.catch(() => undefined);
  }

  /** Hands one batch (Arrow IPC stream bytes) to the Parquet writer and waits until it asks for the next. */
  async write(ipc: Uint8Array): Promise<void> {
    await this.untilWanted();
    const table = parquet.Table.fromIPCStream(ipc);
    const batch = table.recordBatch(0);
    table.free();
    if (!batch) throw new Error(`no record batch in the data for ${this.path}`);
    this.rows += batch.numRows;
    this.wanted = this.nextWant();
    this.controller.enqueue(batch);
    await this.untilWanted();
  }

  async close(): Promise<void> {
    this.controller.close();
    await this.done;
    await this.checkRows();
  }

  /** Stops the writer without a footer (after a failure; the caller removes the file). */
  async abandon(): Promise<void> {
    try {
      this.controller.error(new Error('the export of this file was abandoned'));
    } catch {
      // Already closed.
    }
    await this.done.catch(() => undefined);
    this.file.destroy();
  }

  private nextWant(): Promise<void> {
    return new Promise((resolve) => {
      this.markWanted = resolve;
    });
  }

  /** The writer's request for a batch, or its failure (it must not end while batches are coming). */
  private untilWanted(): Promise<void> {
    return Promise.race([
      this.wanted,
      this.done.then(() => {
        throw new Error(`the Parquet writer of ${this.path} ended before its last row group`);
      }),
    ]);
  }

  /** parquet-wasm's streaming writer drops a batch it fails to encode: the footer must count every row. */
  private async checkRows(): Promise<void> {
    const file = await parquet.ParquetFile.fromFile(await openAsBlob(this.path));
    try {
      const written = file.metadata().fileMetadata().numRows();
      if (written !== this.rows) throw new Error(`the Parquet file ${this.path} holds ${written} rows, not the ${this.rows} written to it`);
    } finally {
      file.free();
    }
  }
}

const files = new Map<number, StreamedFile>();

async function handle(request: ThreadRequest): Promise<void> {
  if (request.op === 'open') {
    files.set(request.file, new StreamedFile(request.path, request.maxRowGroupRows));
    return;
  }
  const file = files.get(request.file);
  if (!file) throw new Error(`no Parquet file ${request.file} is open in the writer thread`);
  if (request.op === 'batch') return file.write(new Uint8Array(request.ipc));
  files.delete(request.file);
  return request.op === 'close' ? file.close() : file.abandon();
}

parentPort?.on('message', (request: ThreadRequest) => {
  handle(request).then(
    () => parentPort!.postMessage({ call: request.call } satisfies ThreadReply),
    (err: unknown) => parentPort!.postMessage({ call: request.call, error: err instanceof Error ? err.message : String(err) } satisfies ThreadReply),
  );
});
