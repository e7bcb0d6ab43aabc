/** The COPY text parser on its own: fields, escapes, NULLs, rows cut across chunks and malformed rows. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { copyTextInto } from '../../src/local/export/copy-text';
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
  let [i, t, d, b] = [0, 0, 0, 0];
  for (let r = 0; r < ints.count; r++) {
    const int = ints.defined[r] ? ints.values.buf.readInt32LE(4 * i++) : null;
    let text: string | null = null;
    if (texts.defined[r]) {
      const length = texts.values.buf.readUInt32LE(t);
      text = texts.values.buf.toString('utf8', t + 4, t + 4 + length);
      t += 4 + length;
    }
    const double = doubles.defined[r] ? doubles.values.buf.readDoubleLE(8 * d++) : null;
    const bool = bools.defined[r] ? Boolean(bools.values.buf[b >> 3]! & (1 << (b++ & 7))) : null;
    rows.push([int, text, double, bool]);
  }
  return rows;
}

describe('COPY text parser', () => {
  test('reads plain fields, NULLs, escapes and an escaped backslash ending a field, across chunk boundaries', async () => {
    const data = '1\tplain\t0.14285714285714285\tt\n\\N\t\\N\t\\N\t\\N\n-7\ttab\\there\\nnew \\\\ slash\tNaN\tf\n8\t\t-Infinity\tt\n9\tends with \\\\\t1e+300\tf\n';
    // Cut at every position: rows and escapes split across chunks read the same.
    for (let cut = 1; cut < data.length; cut += 7) {
      const rows = await parse([data.slice(0, cut), data.slice(cut)]);
      assert.deepEqual(rows, [
        [1, 'plain', 0.14285714285714285, true],
        [null, null, null, null],
        [-7, 'tab\there\nnew \\ slash', Number.NaN, false],
        [8, '', Number.NEGATIVE_INFINITY, true],
        [9, 'ends with \\', 1e300, false],
      ], `cut at ${cut}`);
    }
  });

  test('a row with too many or too few fields, a bad number and a cut-off last row are refused', async () => {
    await assert.rejects(parse(['1\ta\t1\tt\textra\n']), /COPY row 1 has more than 4 fields/);
    await assert.rejects(parse(['1\ta\t1\tt\n2\tb\t2\n']), /COPY row 2 has 3 fields, not 4/);
    await assert.rejects(parse(['1\ta\tnope\tt\n']), /not a floating-point value: "nope"/);
    await assert.rejects(parse(['x\ta\t1\tt\n']), /not an integer: "x"/);
    await assert.rejects(parse(['1\ta\t1\tt']), /the COPY data ended in the middle of a row/);
  });
});
