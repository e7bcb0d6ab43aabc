/** `lakesync query <source> "<SQL>"`: read-only SQL on the lake (Athena on AWS, Spark SQL locally). */
import type { Command } from 'commander';
import { PortError } from '../../errors';
import { type CommandKit, type CommonOptions, withConfig, withJson } from '../command';
import { loadSource } from '../context';
import { UsageError } from '../errors';
import { columns } from '../format';
import { printLine } from '../io';
import { wholeNumberOption } from '../whole-number';
import { athenaUrl } from '../links';
import { backendName, withSourcePorts } from '../source-ports';

export function registerQuery(program: Command, kit: CommandKit): void {
  const cmd = program
    .command('query <source> <sql>')
    .description('run one read-only statement (SELECT, WITH ... SELECT, SHOW, DESCRIBE, EXPLAIN) on the source\'s lake tables (named <namespace>.<table>) and print the rows; anything else is refused (exit 2)')
    .option('--max-rows <n>', `print at most this many rows (1-${MAX_ROWS}); the rest are never read`, String(DEFAULT_MAX_ROWS));
  withJson(withConfig(cmd)).action(
    kit.action(async (name: string, sql: string, opts: QueryOptions) => {
      const { io } = kit.env;
      const maxRows = maxRowsOption(opts.maxRows);
      const { config, source } = loadSource(io, opts, name);
      if (!sql.trim()) throw new UsageError('give the SQL to run, e.g. lakesync query shop "select count(*) from shop.orders"');
      const rows = await withSourcePorts(kit.env, name, source, config, async (ports) => {
        const query = ports.lake.query?.bind(ports.lake);
        if (!query) throw new UsageError(`the ${backendName(source)} backend of source ${name} cannot run queries: query needs the local or aws backend`);
        try {
          // One row past the cap tells whether the answer has more.
          return await query(sql, { maxRows: maxRows + 1 });
        } catch (err) {
          // A statement that is not a read is the caller's to fix: a usage error (exit 2).
          if (err instanceof PortError && err.code === 'ReadOnlyQuery') throw new UsageError(err.message);
          throw err;
        }
      });
      const cut = rows.length > maxRows;
      const shown = cut ? rows.slice(0, maxRows) : rows;
      const more = `the query answers more than ${maxRows} row${maxRows === 1 ? '' : 's'}: narrow it (WHERE, LIMIT, an aggregate) or raise --max-rows (at most ${MAX_ROWS})`;
      if (opts.json) {
        io.stdout.write(`${rowsJson(shown)}\n`);
        if (cut) printLine(io.stderr, `lakesync: ${more}`);
        return;
      }
      const header = [...new Set(shown.flatMap((r) => Object.keys(r)))];
      const cell = (v: unknown) => (v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v));
      for (const line of columns(header, shown.map((r) => header.map((h) => cell(r[h]))))) printLine(io.stdout, line);
      printLine(io.stdout, cut ? `(first ${maxRows} rows shown; ${more})` : `(${shown.length} row${shown.length === 1 ? '' : 's'})`);
      const console = athenaUrl(source);
      if (console) printLine(io.stdout, `athena: ${console}`);
    }),
  );
}

/** Rows printed when --max-rows is not given, and the most it takes: the answer is held in memory to print. */
export const DEFAULT_MAX_ROWS = 1_000;
export const MAX_ROWS = 100_000;

interface QueryOptions extends CommonOptions {
  maxRows: string;
}

/** `--max-rows`, before any query. */
function maxRowsOption(raw: string): number {
  return wholeNumberOption('--max-rows', raw, { min: 1, max: MAX_ROWS, why: 'the answer is held in memory to print' });
}

/**
 * Rows as JSON, except that a non-finite float is written `NaN`, `Infinity` or `-Infinity` (as
 * Python's json and Spark read them; JSON.parse refuses them) where JSON.stringify would write
 * null: a NaN in the lake is not a missing value, nor the text "NaN".
 */
export function rowsJson(rows: unknown, indent = 2): string {
  const marker = `\u0000lakesync-non-finite-${process.pid}-${Date.now()}:`;
  const text = JSON.stringify(rows, (_key, value: unknown) => (typeof value === 'number' && !Number.isFinite(value) ? `${marker}${String(value)}` : value), indent);
  const quoted = new RegExp(`"${JSON.stringify(marker).slice(1, -1).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(NaN|Infinity|-Infinity)"`, 'g');
  return text.replace(quoted, '$1');
}
