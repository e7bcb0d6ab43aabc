/**
 * What `lakesync plan` shows, computed without side effects: no snapshot, no export, no load,
 * nothing written. Where the table list comes from:
 *  1. the last export's manifest, when the source workflow exposes its last export (read with
 *     `ports.discover.discover`, the only port `plan` may call: it reads files and changes nothing);
 *  2. else the backend's own list when it has one without side effects (fake: the configured tables);
 *  3. else the config's `tables` plus every table the source's ledger has seen.
 * Whether a lake table exists comes from the source's ledger (a committed load made it).
 */
import type { SourceConfig } from '../config/schema';
import { lakeTableName, selectTable } from '../config/tables';
import { fakeTableNames } from '../fake/ports';
import type { DiscoveredTable, PlannedAction } from '../model';
import { planTables } from '../plan';
import type { Ports } from '../ports';
import type { SourceStatus } from '../workflows/messages';

export interface PlanRow {
  table: string;
  /** `<namespace>.<lake table>`. */
  lakeTable: string;
  action: PlannedAction;
  why: string;
  primaryKey: string[];
  /** configured (lakesync.yaml), source (from discovery) or unknown (decided at discover). */
  keyFrom: 'configured' | 'source' | 'unknown';
  cursorColumn?: string;
  /** The include/exclude rule that decided, when the table is not loaded because of it. */
  excludedBy?: string;
  error?: string;
}

export interface PlanReport {
  source: string;
  namespace: string;
  tablesFrom: string;
  lakeStateFrom: string;
  rows: PlanRow[];
  notes: string[];
}

export interface PlanInputs {
  name: string;
  source: SourceConfig;
  /** The source workflow's status; undefined when none runs or Temporal is unreachable. */
  status: SourceStatus | undefined;
  statusNote?: string;
  /** Opens the source's ports; called only when a last export can be read. */
  ports?: () => Promise<Ports>;
}

export async function buildPlan(inputs: PlanInputs): Promise<PlanReport> {
  const { name, source, status } = inputs;
  const notes: string[] = inputs.statusNote ? [inputs.statusNote] : [];
  const { tables, tablesFrom } = await discoveredTables(inputs, notes);

  const ledger = Object.keys(status?.ledger ?? {});
  const lakeTables = new Set(ledger.map((t) => lakeTableName(source, t)));
  const lakeStateFrom = status ? `the ledger of workflow lakesync/${name} (${ledger.length} table(s) loaded)` : 'unknown (no source workflow): every table is planned as new';

  const planned = planTables(source, tables, lakeTables);
  const known = new Map(tables.map((t) => [t.table, t]));
  const ns = source.target.namespace;
  const rows: PlanRow[] = planned.entries.map((e) => {
    const configured = Boolean(source.tables[e.table]?.primaryKey);
    const fromSource = Boolean(known.get(e.table)?.primaryKey?.length);
    const keyFrom = configured ? 'configured' : fromSource ? 'source' : 'unknown';
    const why = keyFrom === 'unknown' && e.action === 'replace' && e.reason === 'no primary key' ? 'no primary key configured; a primary key found in the source at discover makes this a merge' : e.reason;
    return { table: e.table, lakeTable: `${ns}.${e.lakeTable}`, action: e.action, why, primaryKey: e.primaryKey, keyFrom, ...(e.cursorColumn ? { cursorColumn: e.cursorColumn } : {}) };
  });
  for (const n of planned.notLoaded) {
    const selection = selectTable(source, n.table);
    rows.push({
      table: n.table,
      lakeTable: `${ns}.${n.lakeTable}`,
      action: 'skip',
      why: n.reason ?? n.error?.message ?? 'not loaded',
      primaryKey: [],
      keyFrom: 'unknown',
      ...(!selection.included ? { excludedBy: selection.rule } : {}),
      ...(n.error ? { error: n.error.message } : {}),
    });
  }
  rows.sort((a, b) => a.table.localeCompare(b.table));
  return { source: name, namespace: ns, tablesFrom, lakeStateFrom, rows, notes };
}

async function discoveredTables(inputs: PlanInputs, notes: string[]): Promise<{ tables: DiscoveredTable[]; tablesFrom: string }> {
  const { source, status } = inputs;
  const lastExport = status?.lastExport?.export;
  if (lastExport && inputs.ports) {
    const ports = await inputs.ports();
    try {
      if (await ports.discover.exportAvailable(lastExport)) {
        const found = await ports.discover.discover(lastExport);
        for (const s of found.skipped) notes.push(`${s.table} was not exported: ${s.reason}`);
        return { tables: found.tables, tablesFrom: `the last export ${lastExport.exportId}` };
      }
      notes.push(`the last export ${lastExport.exportId} cannot be read from here (deleted, or kept in the worker's memory by the fake backend); listing tables from the config`);
    } finally {
      await ports.close?.();
    }
  }
  const toTable = (table: string): DiscoveredTable => ({ table, target: `${source.database}.${table}`, columns: [] });
  if (source.source.kind === 'fake') {
    return { tables: fakeTableNames(source.source.tables).map(toTable), tablesFrom: 'the fake backend\'s configured tables' };
  }
  const seen = new Set([...Object.keys(source.tables), ...Object.keys(status?.ledger ?? {}), ...Object.keys(status?.failed ?? {}), ...(status?.lastCycle?.tables ?? []).map((t) => t.table)]);
  notes.push('tables not listed in the config and never synced appear after the first sync (the export lists them)');
  return { tables: [...seen].sort().map(toTable), tablesFrom: status ? 'the config\'s tables and the tables the source has synced' : 'the config\'s tables' };
}
