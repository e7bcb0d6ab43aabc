/**
 * The lake type of each exported column, asked of the load job's own module
 * (glue/lakesync_glue/pgtypes.py) with Python, so the preview and the job never disagree:
 * the mapping is not written down twice. Pure Python, no Spark: the toolchain's Python, else python3.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { ColumnMapping } from '../model';
import { toolchain } from '../toolchain';
import { RuntimeFailure } from './errors';
import { repoRoot } from './paths';

export interface JobColumnType {
  /** Spark SQL type of the lake column, e.g. `int`, `decimal(10,2)`, `timestamp_ntz`, `array<int>`. */
  lakeType: string;
  /** The job's kind of the PostgreSQL type, e.g. `numeric`, `array`, `text`. */
  kind: string;
  /** A bounded numeric without a known scale: the job takes it from the lake table or the data. */
  scaleUnknown: boolean;
}

const SCRIPT = `
import json, sys
from lakesync_glue import pgtypes as t
out = []
for entry in json.load(sys.stdin):
    m = t.ColumnMapping.from_json(entry)
    name = m.column_name.lower()
    plan = t.plan_column(m, name, t.exported_spark_type(m.expected_exported_type))
    lake = plan.lake_type
    if plan.kind == "array" and hasattr(t, "array_plan"):
        udt = getattr(m, "udt_name", None)
        element = udt[1:] if udt and udt.startswith("_") else None
        lake = t.array_plan(m, name, "__lakesync_parsed", element, "fail").lake_type
    out.append({"lakeType": lake, "kind": plan.kind, "scaleUnknown": bool(plan.scale_unknown)})
print(json.dumps(out))
`;

function python(): string {
  try {
    const fromToolchain = toolchain().python;
    if (existsSync(fromToolchain)) return fromToolchain;
  } catch {
    // No bootstrapped toolchain here: the module needs no package beyond the standard library.
  }
  return 'python3';
}

/** The job's lake type of each mapping, in order. */
export function jobColumnTypes(mappings: readonly ColumnMapping[]): JobColumnType[] {
  if (mappings.length === 0) return [];
  const glue = join(repoRoot(), 'glue');
  try {
    const stdout = execFileSync(python(), ['-c', SCRIPT], {
      cwd: glue,
      input: JSON.stringify(mappings),
      encoding: 'utf8',
      env: { ...process.env, PYTHONPATH: glue },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    return JSON.parse(stdout) as JobColumnType[];
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr?.trim().split('\n').slice(-1)[0];
    throw new RuntimeFailure(`cannot ask the load job's type mapping (glue/lakesync_glue/pgtypes.py) with Python 3.11: ${stderr || (err as Error).message}; run scripts/bootstrap.sh or put python3 on the PATH`);
  }
}
