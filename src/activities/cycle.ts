/** Activities of the cycle's first phases: settings, snapshot, export, discover, plan, lake set-up. */
import type { CycleSettings, DiscoverySummary, ExportRef, ExportStatus, PlanSummary, SnapshotRef, SnapshotStatus } from '../model';
import type { ExportRequest, SnapshotRequest } from '../ports';
import { lakeTableName, selectTable } from '../config/tables';
import { type PlanOptions, planTables } from '../plan';
import { type ActivityDeps, sourceOf, step } from './deps';
import type { DiscoveredTable } from '../model';

export function cycleActivities(deps: ActivityDeps) {
  return {
    async cycleSettings(source: string): Promise<CycleSettings> {
      const { settings: s } = sourceOf(deps, source);
      return {
        database: s.database,
        namespace: s.target.namespace,
        concurrency: s.concurrency,
        batchSize: s.batchSize,
        snapshotMode: s.snapshot.mode,
        ...(s.snapshot.id ? { existingSnapshotId: s.snapshot.id } : {}),
        verify: s.verify.enabled,
        grants: s.grants.length > 0,
        searchAttributes: deps.searchAttributes ?? false,
        retry: s.retry,
        timeouts: s.timeouts,
      };
    },

    async startSnapshot(req: SnapshotRequest): Promise<SnapshotRef> {
      const { ports } = sourceOf(deps, req.source);
      return step('snapshot', `source ${req.source}`, () => ports.snapshot.startSnapshot(req));
    },

    async snapshotStatus(source: string, snapshotId: string): Promise<SnapshotStatus> {
      const { ports } = sourceOf(deps, source);
      return step('snapshot status', `snapshot ${snapshotId}`, () => ports.snapshot.describeSnapshot(snapshotId));
    },

    async startExport(req: ExportRequest): Promise<ExportRef> {
      const { ports } = sourceOf(deps, req.source);
      return step('export', `snapshot ${req.snapshot.snapshotId}`, () => ports.export.startExport(req));
    },

    async exportStatus(source: string, exportId: string): Promise<ExportStatus> {
      const { ports } = sourceOf(deps, source);
      return step('export status', `export ${exportId}`, () => ports.export.describeExport(exportId));
    },

    async exportAvailable(source: string, ref: ExportRef): Promise<boolean> {
      const { ports } = sourceOf(deps, source);
      return step('export check', `export ${ref.exportId}`, () => ports.discover.exportAvailable(ref));
    },

    /** Reads the export's table list, stores it as a manifest and hands back the names only. */
    async discoverTables(source: string, cycleId: string, ref: ExportRef): Promise<DiscoverySummary> {
      const { settings, ports } = sourceOf(deps, source);
      return step('discover', `export ${ref.exportId}`, async () => {
        const found = await ports.discover.discover(ref);
        const manifest = await ports.manifests.put(`${cycleId}/discovery.json`, found.tables);
        const tables = found.tables.map((t) => t.table);
        const excluded = tables.filter((t) => !selectTable(settings, t).included).length;
        return {
          manifest,
          database: found.database,
          tables,
          skipped: found.skipped,
          warnings: excluded > 0 ? [...found.warnings, `${excluded} table(s) excluded by include/exclude rules`] : found.warnings,
        };
      });
    },

    /** Decides each table's action; the full plan goes to the manifest store. No side effect on the lake. */
    async planCycle(source: string, cycleId: string, discovery: DiscoverySummary, options: PlanOptions = {}): Promise<PlanSummary> {
      const { settings, ports } = sourceOf(deps, source);
      return step('plan', `source ${source}`, async () => {
        const discovered = await ports.manifests.get<DiscoveredTable[]>(discovery.manifest);
        const lakeTables = new Set<string>();
        for (const t of discovered) {
          const lake = lakeTableName(settings, t.table);
          if (await ports.lake.tableExists(settings.target.namespace, lake)) lakeTables.add(lake);
        }
        const planned = planTables(settings, discovered, lakeTables, options);
        const missing = (options.requested ?? []).filter((t) => !discovered.some((d) => d.table === t));
        const notInExport = missing.map((table) => ({
          table,
          lakeTable: '',
          action: 'skip' as const,
          status: 'failed' as const,
          error: { phase: 'discover' as const, message: `${table} is not in this cycle's export: check the table name (schema.table), or run a new sync if the table is new`, type: 'TableNotExported', retryable: false },
        }));
        const planRef = await ports.manifests.put(`${cycleId}/plan.json`, planned.entries);
        const load = planned.entries.flatMap((e) => (e.action === 'skip' ? [] : [{ table: e.table, lakeTable: e.lakeTable, action: e.action }]));
        return { planRef, load, notLoaded: [...planned.notLoaded, ...notInExport] };
      });
    },

    async prepareLake(source: string): Promise<void> {
      const { settings, ports } = sourceOf(deps, source);
      await step('namespace', `namespace ${settings.target.namespace}`, () => ports.lake.ensureNamespace(settings.target.namespace));
    },
  };
}
