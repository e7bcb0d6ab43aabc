/** `lakesync query <source> "<SQL>"`: read-only SQL on the lake (Athena on AWS, Spark SQL locally). */
import type { Command } from 'commander';
import { PortError } from '../../errors';
import { type CommandKit, type CommonOptions, withConfig, withJson } from '../command';
import { loadSource } from '../context';
import { UsageError } from '../errors';
import { columns } from '../format';
import { printLine } from '../io';
import { athenaUrl } from '../links';
import { backendName, withSourcePorts } from '../source-ports';

export function registerQuery(program: Command, kit: CommandKit): void {
  const cmd = program
    .command('query <source> <sql>')
    .description('run one read-only statement (SELECT, WITH ... SELECT, SHOW, DESCRIBE, EXPLAIN) on the source\'s lake tables (named <namespace>.<table>) and print the rows; anything else is refused (exit 2)');
  withJson(withConfig(cmd)).action(
    kit.action(async (name: string, sql: string, opts: CommonOptions) => {
      const { io } = kit.env;
      const { config, source } = loadSource(io, opts, name);
      if (!sql.trim()) throw new UsageError('give the SQL to run, e.g. lakesync query shop "select count(*) from shop.orders"');
      const rows = await withSourcePorts(kit.env, name, source, config, async (ports) => {
        const query = ports.lake.query?.bind(ports.lake);
        if (!query) throw new UsageError(`the ${backendName(source)} backend of source ${name} cannot run queries: query needs the local or aws backend`);
        try {
          return await query(sql);
        } catch (err) {
          // A statement that is not a read is the caller's to fix: a usage error (exit 2).
          if (err instanceof PortError && err.code === 'ReadOnlyQuery') throw new UsageError(err.message);
          throw err;
        }
      });
      if (opts.json) {
        io.stdout.write(`${rowsJson(rows)}\n`);
        return;
      }
      const header = [...new Set(rows.flatMap((r) => Object.keys(r)))];
      const cell = (v: unknown) => (v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v));
      for (const line of columns(header, rows.map((r) => header.map((h) => cell(r[h]))))) printLine(io.stdout, line);
      printLine(io.stdout, `(${rows.length} row${rows.length === 1 ? '' : 's'})`);
      const console = athenaUrl(source);
      if (console) printLine(io.stdout, `athena: ${console}`);
    }),
  );
}

/**
 * Rows as JSON, except that a non-finite float is written `NaN`, `Infinity` or `-Infinity` (as
 * JavaScript, Python's json and Spark read them) where JSON.stringify would write null: a NaN in
 * the lake is not a missing value.
 */
export function rowsJson(rows: unknown, indent = 2): string {
  const marker = `\u0000lakesync-non-finite-${process.pid}-${Date.now()}:`;
  const text = JSON.stringify(rows, (_key, value: unknown) => (typeof value === 'number' && !Number.isFinite(value) ? `${marker}${String(value)}` : value), indent);
  const quoted = new RegExp(`"${JSON.stringify(marker).slice(1, -1).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(NaN|Infinity|-Infinity)"`, 'g');
  return text.replace(quoted, '$1');
}
