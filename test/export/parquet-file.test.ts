/** The Parquet part writer: column buffers in, RDS's Parquet types out, row group by row group (read back with pyarrow). */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { ColumnChunkBuilder, type ParquetColumn, ParquetFileWriter } from '../../src/local/export/parquet-file';
import { readParquet } from '../local/helpers/parquet';

const COLUMNS: ParquetColumn[] = [
  { name: 's', type: 'INT_16' },
  { name: 'i', type: 'INT32' },
  { name: 'l', type: 'INT64' },
  { name: 'f', type: 'FLOAT' },
  { name: 'd', type: 'DOUBLE' },
  { name: 'b', type: 'BOOLEAN' },
  { name: 'y', type: 'BYTE_ARRAY' },
  { name: 'u', type: 'UTF8' },
];

const ROW = [-3, -7, -9007199254740993n, 1.5, -2.25, true, Buffer.from([0, 1, 255]), 'héllo'];
const EDGE = [32767, 2147483647, 9223372036854775807n, Number.NaN, Number.POSITIVE_INFINITY, false, Buffer.alloc(0), ''];

describe('Parquet part writer', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lakesync-parquet-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('writes every exported type, nullable, over several row groups', async () => {
    const file = join(dir, 'types.parquet');
    const writer = await ParquetFileWriter.create(file, COLUMNS, 3);
    const builders = COLUMNS.map((c) => new ColumnChunkBuilder(c.name, c.type, 3));
    for (let group = 0; group < 2; group++) {
      // Row 0: one null, in a different column per group; row 1: all null; row 2: edge values.
      builders.forEach((b, i) => (i === group ? b.pushNull() : b.pushValue(ROW[i])));
      for (const b of builders) b.pushNull();
      builders.forEach((b, i) => b.pushValue(EDGE[i]));
      await writer.writeRowGroup(builders, 3);
      for (const b of builders) b.reset();
    }
    await writer.close();

    const { schema, compression, rows } = readParquet([file]);
    assert.deepEqual(schema, { s: 'int16', i: 'int32', l: 'int64', f: 'float', d: 'double', b: 'bool', y: 'binary', u: 'string' });
    assert.deepEqual(compression, ['SNAPPY']);
    assert.equal(rows.length, 6);
    assert.deepEqual(rows[0], { s: null, i: -7, l: '-9007199254740993', f: 1.5, d: -2.25, b: true, y: '0001ff', u: 'héllo' });
    assert.deepEqual(rows[3], { s: -3, i: null, l: '-9007199254740993', f: 1.5, d: -2.25, b: true, y: '0001ff', u: 'héllo' });
    for (const r of [rows[1], rows[4]]) assert.ok(Object.values(r!).every((v) => v === null));
    assert.deepEqual(rows[2], { s: 32767, i: 2147483647, l: '9223372036854775807', f: 'nan', d: 'inf', b: false, y: '', u: '' });
  });

  test('a file of no rows still carries the schema', async () => {
    const file = join(dir, 'empty.parquet');
    const writer = await ParquetFileWriter.create(file, COLUMNS, 10);
    await writer.close();
    const { schema, rows } = readParquet([file]);
    assert.equal(Object.keys(schema).length, COLUMNS.length);
    assert.equal(rows.length, 0);
  });

  test('a file that cannot be created fails its writing, naming the path', async () => {
    const file = join(dir, 'missing', 'part.parquet');
    const writer = await ParquetFileWriter.create(file, COLUMNS.slice(0, 1), 10);
    const builder = new ColumnChunkBuilder('s', 'INT_16', 1);
    builder.pushValue(1);
    // The open fails asynchronously: the row group or, at the latest, the close reports it.
    const write = async () => {
      await writer.writeRowGroup([builder], 1);
      await writer.close();
    };
    await assert.rejects(write(), (err: Error) => err.message.includes(file));
    await writer.abandon();
  });
});
