/**
 * A PGlite value too large to read (a bytea of a few hundred MB: PGlite reads it whole, as hex
 * text, in this process's memory) fails the export with an error naming the table, the column,
 * the value's size and what to do, not a bare "out of memory".
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { exportSnapshot } from '../../src/local/export/exporter';
import { openPglite } from '../../src/local/source/pglite';

const dir = mkdtempSync(join(tmpdir(), 'lakesync-large-value-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('a bytea value PGlite cannot read fails the export naming the table, the column and the fix', { timeout: 240_000 }, async () => {
  const db = await openPglite(undefined);
  try {
    // 270 MB of bytes: 540 MB as hex, more than PGlite can hand over (a value of 128 MB reads).
    await db.exec(
      "CREATE TABLE public.blobs (id int PRIMARY KEY, note text, payload bytea); INSERT INTO public.blobs VALUES (1, 'small', '\\x00'), (2, 'big', decode(repeat('ab', 270 * 1024 * 1024), 'hex'))",
    );
    await assert.rejects(
      exportSnapshot(db, { exportId: 'e1', database: 'shop', snapshot: { snapshotId: 's1', createdAt: new Date().toISOString() } as never, outDir: join(dir, 'e1') }),
      (err: Error) => {
        assert.match(err.message, /^export of public\.blobs failed: .*column payload holds a value of 270 MB \(540 MB as the hex text PGlite reads\)/s);
        assert.match(err.message, /exclude the table \(exclude: \["public\.blobs"\]/);
        assert.match(err.message, /source\.kind: postgres/);
        assert.doesNotMatch(err.message, /column note/);
        return true;
      },
    );
  } finally {
    await db.close();
  }
});

test('a table whose name holds " FROM " has its own values sized, never those of a table outside the export', { timeout: 240_000 }, async () => {
  const db = await openPglite(undefined);
  try {
    // public.secret is not exported; the exported table's name reads, unquoted, as SQL reading it.
    await db.exec(
      `CREATE TABLE public.secret (id int PRIMARY KEY, payload bytea); INSERT INTO public.secret VALUES (1, decode(repeat('cd', 40 * 1024 * 1024), 'hex'));
       CREATE TABLE public."blobs FROM public.secret --" (id int PRIMARY KEY, payload bytea);
       INSERT INTO public."blobs FROM public.secret --" VALUES (1, '\\x00'), (2, decode(repeat('ab', 270 * 1024 * 1024), 'hex'))`,
    );
    await assert.rejects(
      exportSnapshot(db, {
        exportId: 'e2',
        database: 'shop',
        snapshot: { snapshotId: 's2', createdAt: new Date().toISOString() } as never,
        outDir: join(dir, 'e2'),
        tables: ['public.blobs FROM public.secret --'],
      }),
      (err: Error) => {
        assert.match(err.message, /^export of public\.blobs FROM public\.secret -- failed: .*column payload holds a value of 270 MB/s);
        assert.doesNotMatch(err.message, /\b40 MB/);
        return true;
      },
    );
  } finally {
    await db.close();
  }
});
