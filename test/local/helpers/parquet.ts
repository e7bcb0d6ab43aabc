/** Reads Parquet files back with pyarrow (the toolchain's Python), so tests check files as other readers see them. */
import { execFileSync } from 'node:child_process';
import { toolchain } from '../../../src/toolchain';

export interface ParquetContents {
  /** Column name -> Arrow type name, e.g. int64, string, binary, float, double, bool. */
  schema: Record<string, string>;
  compression: string[];
  rows: Record<string, unknown>[];
}

const READER = `
import json, math, sys
import pyarrow.parquet as pq

def plain(v):
    # JSON cannot carry bytes, NaN/Infinity or integers beyond 2^53: spell those as strings.
    if isinstance(v, bytes):
        return v.hex()
    if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
        return str(v)
    if isinstance(v, int) and not isinstance(v, bool) and abs(v) > 2**53:
        return str(v)
    return v

files = sys.argv[1:]
schema, rows, codecs = {}, [], set()
for f in files:
    pf = pq.ParquetFile(f)
    for i in range(pf.metadata.num_row_groups):
        rg = pf.metadata.row_group(i)
        for c in range(rg.num_columns):
            codecs.add(rg.column(c).compression)
    table = pf.read()
    for field in table.schema:
        schema[field.name] = str(field.type)
    for row in table.to_pylist():
        rows.append({k: plain(v) for k, v in row.items()})
print(json.dumps({"schema": schema, "compression": sorted(codecs), "rows": rows}))
`;

export function readParquet(files: string[]): ParquetContents {
  const out = execFileSync(toolchain().python, ['-c', READER, ...files], { encoding: 'utf8', maxBuffer: 512 * 1024 * 1024 });
  return JSON.parse(out) as ParquetContents;
}
