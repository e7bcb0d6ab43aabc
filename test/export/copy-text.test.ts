/** The COPY text parser on its own: fields, escapes, NULLs, rows cut across chunks and malformed rows. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { copyTextInto, exactDecimal } from '../../src/local/export/copy-text';
import { ColumnChunkBuilder } from '../../src/local/export/parquet-file';
import type { PartWriter } from '../../src/local/export/parts';
import { columnExport, type SourceColumn } from '../../src/local/export/types';

const column = (name: string, dataType: string, udtName: string): SourceColumn => ({
  name,
  dataType,
  udtName,
  charMaxLength: null,
  numericPrecision: null,
  numericScale: null,
  datetimePrecision: null,
});

const COLUMNS = [column('i', 'integer', 'int4'), column('t', 'text', 'text'), column('d', 'double precision', 'float8'), column('b', 'boolean', 'bool')].map((c) => columnExport(c)!);

/** Parses the chunks; returns each column's values as the builders hold them (nulls as null). */
async function parse(chunks: string[]): Promise<unknown[][]> {
  const builders = COLUMNS.map((c) => new ColumnChunkBuilder(c.column.name, c.parquetType, 100));
  const sink = { builders, endRow: () => undefined } as unknown as PartWriter;
  async function* stream() {
    for (const chunk of chunks) yield Buffer.from(chunk, 'utf8');
  }
  await copyTextInto(stream(), sink, COLUMNS);
  const [ints, texts, doubles, bools] = builders as [ColumnChunkBuilder, ColumnChunkBuilder, ColumnChunkBuilder, ColumnChunkBuilder];
  const rows: unknown[][] = [];
  let [i, d, b] = [0, 0, 0];
  for (let r = 0; r < ints.count; r++) {
    const int = ints.defined[r] ? ints.values.buf.readInt32LE(4 * i++) : null;
    let text: string | null = null;
    if (texts.defined[r]) text = texts.values.buf.toString('utf8', texts.offsets[r], texts.offsets[r + 1]);
    else assert.equal(texts.offsets[r + 1], texts.offsets[r], `a NULL text takes no bytes (row ${r + 1})`);
    const double = doubles.defined[r] ? doubles.values.buf.readDoubleLE(8 * d++) : null;
    const bool = bools.defined[r] ? Boolean(bools.values.buf[b >> 3]! & (1 << (b++ & 7))) : null;
    rows.push([int, text, double, bool]);
  }
  return rows;
}

describe('COPY text parser', () => {
  test('reads plain fields, NULLs, escapes and an escaped backslash ending a field, across chunk boundaries', async () => {
    const data = '1\tplain\t0.14285714285714285\tt\n\\N\t\\N\t\\N\t\\N\n-7\ttab\\there\\nnew \\\\ slash\tNaN\tf\n8\t\t-Infinity\tt\n9\tends with \\\\\t1e+300\tf\n';
    // Cut at every position, in two and in three: rows and escapes split across chunks read the same.
    for (let cut = 1; cut < data.length; cut++) {
      const third = Math.min(data.length, cut + 3);
      const rows = await parse(cut % 2 ? [data.slice(0, cut), data.slice(cut)] : [data.slice(0, cut), data.slice(cut, third), data.slice(third)]);
      assert.deepEqual(rows, [
        [1, 'plain', 0.14285714285714285, true],
        [null, null, null, null],
        [-7, 'tab\there\nnew \\ slash', Number.NaN, false],
        [8, '', Number.NEGATIVE_INFINITY, true],
        [9, 'ends with \\', 1e300, false],
      ], `cut at ${cut}`);
    }
    // Every character its own chunk.
    assert.equal((await parse([...data])).length, 5);
  });

  test('a row with too many or too few fields, a bad number and a cut-off last row are refused', async () => {
    await assert.rejects(parse(['1\ta\t1\tt\textra\n']), /COPY row 1 has more than 4 fields/);
    await assert.rejects(parse(['1\ta\t1\tt\n2\tb\t2\n']), /COPY row 2 has 3 fields, not 4/);
    await assert.rejects(parse(['1\ta\tnope\tt\n']), /not a floating-point value: "nope"/);
    await assert.rejects(parse(['x\ta\t1\tt\n']), /not an integer: "x"/);
    await assert.rejects(parse(['1\ta\t1\tt']), /the COPY data ended in the middle of a row/);
  });

  test('a row of one 16 MB value, arriving in 64 KB chunks as the server sends it, is put together once, not once per chunk', async () => {
    const text = column('t', 'text', 'text');
    const columns = [columnExport(text)!];
    const builder = new ColumnChunkBuilder('t', 'UTF8', 1);
    const sink = { builders: [builder], endRow: () => undefined } as unknown as PartWriter;
    const CHUNK = 64 * 1024;
    const SIZE = 16 * 1024 * 1024;
    const piece = Buffer.alloc(CHUNK, 'a');
    async function* stream() {
      for (let at = 0; at < SIZE; at += CHUNK) yield piece;
      yield Buffer.from('\n');
    }
    // The bytes of the buffers the parse allocates (Buffer.concat allocates through allocUnsafe).
    let allocated = 0;
    const { alloc, allocUnsafe } = Buffer;
    Buffer.alloc = (size, ...rest) => ((allocated += size), alloc(size, ...rest));
    Buffer.allocUnsafe = (size) => ((allocated += size), allocUnsafe(size));
    try {
      assert.equal(await copyTextInto(stream(), sink, columns), 1);
    } finally {
      Buffer.alloc = alloc;
      Buffer.allocUnsafe = allocUnsafe;
    }
    assert.equal(builder.values.len, SIZE, 'the value whole');
    // Copying the row so far at each chunk allocated it some 130 times over here (a 64 MB row took 15 s, 1 GB
    // about an hour): the row is joined once, and the column's buffer doubles as it grows.
    assert.ok(allocated <= 5 * SIZE, `${(allocated / SIZE).toFixed(1)} times the row's bytes allocated`);
  });

  test('a bytea of 300 MB, whose hex is longer than a JavaScript string can be, is exported whole; a malformed one is refused', async () => {
    const bytea = columnExport(column('b', 'bytea', 'bytea'))!;
    const builder = new ColumnChunkBuilder('b', 'BYTE_ARRAY', 2);
    const sink = { builders: [builder], endRow: () => undefined } as unknown as PartWriter;
    const SIZE = 300 * 1024 * 1024;
    // COPY prints it as \\x and its hex (600 MB), in the chunks the connection reads.
    const hex = Buffer.alloc(64 * 1024, '01fe');
    async function* stream() {
      yield Buffer.from('\\\\x');
      for (let at = 0; at < 2 * SIZE; at += hex.length) yield hex;
      yield Buffer.from('\n\\\\x\n');
    }
    assert.equal(await copyTextInto(stream(), sink, [bytea]), 2);
    assert.equal(builder.offsets[1], SIZE, 'the value whole');
    assert.deepEqual([...builder.values.buf.subarray(SIZE - 4, SIZE)], [0x01, 0xfe, 0x01, 0xfe]);
    assert.equal(builder.offsets[2], SIZE, 'an empty bytea is empty');
    async function* malformed() {
      yield Buffer.from('\\\\x0g\n');
    }
    await assert.rejects(copyTextInto(malformed(), sink, [bytea]), /a bytea value is not \\x and pairs of hex digits at its byte 3/);
  });

  test('floats read straight from their bytes are exactly what Number() reads, and the rest go through Number()', () => {
    const read = (text: string) => {
      const bytes = Buffer.from(`x${text}y`, 'latin1');
      const fast = exactDecimal(bytes, 1, bytes.length - 1);
      return { fast, number: Number(text) };
    };
    let random = 12345;
    const next = () => (random = (random * 1103515245 + 12345) % 2147483648) / 2147483648;
    const texts: string[] = ['0', '-0', '1', '-1', '.5', '1.', '0.1', '0.3', '9007199254740991', '9007199254740992', '9007199254740993', '1e22', '1e23', '1e-22', '1e-23', '123e-20', '0.000001', '1.5E+3', '-2.5e-05', '00000000000000000000001', '1.50000000000000000000'];
    for (let k = 0; k < 20_000; k++) {
      const x = (next() - 0.5) * 10 ** Math.floor(next() * 40 - 20);
      // How PostgreSQL prints float8 (shortest, with e+NN/e-NN beyond 1e15 or below 1e-4), JavaScript's own forms, and short decimals.
      texts.push(String(x), x.toPrecision(1 + Math.floor(next() * 17)), x.toExponential(Math.floor(next() * 17)), (Math.round(x * 100) / 100).toFixed(2), String(Math.fround(x)));
      texts.push(`${Math.floor(next() * 1e8)}.${String(Math.floor(next() * 1e9)).padStart(9, '0')}`, `${Math.floor(next() * 9e15 + 1e15)}`, `${Math.floor(next() * 9e15)}${Math.floor(next() * 10)}`);
    }
    let fast = 0;
    for (const text of texts) {
      const { fast: value, number } = read(text);
      if (value === undefined) continue;
      fast++;
      assert.ok(Object.is(value, number), `${text}: ${value} read straight, ${number} by Number()`);
    }
    assert.ok(fast > texts.length / 3, `only ${fast} of ${texts.length} read straight`);
    for (const text of ['NaN', 'Infinity', '-Infinity', '', '-', '.', 'e5', '1e', '1e+', '1e99999', '+1', ' 1', '1 ', '0x10', '1_0', '1.5.2', '12345678901234567', '1e-400']) {
      assert.equal(read(text).fast, undefined, `${JSON.stringify(text)} is left to Number()`);
    }
  });
});
