/** Activities of the cycle's first phases: settings, snapshot, export, discover, plan, lake set-up. */
import { PARTITION_OF } from '../catalog-queries';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { keptStart } from '../payload-text';
import type { CostTotals, CycleSettings, DiscoveredExport, DiscoverySummary, ExportRef, ExportStatus, JsonRef, LoadAction, LoadItem, PlanEntry, PlanSummary, SnapshotRef, SnapshotStatus, TableName, TableOutcome } from '../model';
import type { ExportRequest, Ports, SnapshotRequest } from '../ports';
import { lakeTableName, selectTable } from '../config/tables';
import { type ExportScope, excludedPartitionReason, exportScope, type ExportScopeEntries, ExportScopeRefused, exportScopeKey, exportOnlyProblem, inScope, type KnownTables, mergeKnownTables, namedTables, SOURCE_TABLES_KEY, unknownPartitionWarning, wholeSnapshotWarning } from '../export-scope';
import { cycleManifestKeys, exportIdFor } from '../ids';
import { exportSkippedOutcomes } from '../export-skipped';
import { type DynamoPlanInput, type PlanOptions, nullableCursorWarnings, planTables, readsDirectly } from '../plan';
import { directExtract, directNotATableReason } from '../config/direct';
import type { SourceConfig } from '../config/schema';
import { type ActivityDeps, FAILURE_CHARACTERS, findManifest, keptLogged, sourceOf, step } from './deps';
import { readStored, storedIfLarge } from './stored-parts';
import { withPartsChecked } from './export-parts';
import type { ConfigExcludedTable } from '../workflows/ledger';
import { costBasis, unsizedExport } from './load';
import { costTotals, tableCost } from '../cost/ledger';
import type { DiscoveredTable, LakeCommit } from '../model';
import { isPortError } from '../errors';

/** Glue's longest wait of a FLEX run for spare capacity before it starts or fails (AWS Glue job run statuses). */
export const FLEX_WAIT_SECONDS = 20 * 60;

/**
 * How long a load run may wait in Glue before it starts or ends unstarted: a queued STANDARD run
 * waits up to the job timeout (then EXPIRED), a FLEX run up to FLEX_WAIT_SECONDS. None elsewhere.
 */
function loadQueue(s: SourceConfig): Pick<CycleSettings, 'loadQueueSeconds'> {
  const glue = s.backend === 'aws' ? s.aws?.glue : undefined;
  if (!glue) return {};
  if (glue.executionClass === 'FLEX') return { loadQueueSeconds: FLEX_WAIT_SECONDS };
  return glue.jobRunQueuing ? { loadQueueSeconds: glue.timeoutMinutes * 60 } : {};
}

export function cycleActivities(deps: ActivityDeps) {
  return {
    /** The tables of these that the worker's config excludes now, each with its rule: their rerun would load nothing. */
    async excludedTables(source: string, tables: TableName[]): Promise<ConfigExcludedTable[]> {
      const { settings } = sourceOf(deps, source);
      return tables.flatMap((table) => {
        const selection = selectTable(settings, table);
        return selection.included ? [] : [{ table, rule: selection.rule }];
      });
    },
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
        verifyChecks: mostChecksPerTable(s.verify.checks),
        grants: s.grants.length > 0,
        searchAttributes: deps.searchAttributes ?? false,
        retry: s.retry,
        timeouts: s.timeouts,
        cost: s.cost,
        costBasis: costBasis(s),
        // Only where the backend can run packs: elsewhere every table keeps a run of its own.
        ...(s.packing && sourceOf(deps, source).ports.load.packs ? { packing: s.packing } : {}),
        ...loadQueue(s),
      };
    },

    async startSnapshot(req: SnapshotRequest): Promise<SnapshotRef> {
      const { ports } = sourceOf(deps, req.source);
      return step('snapshot', `source ${req.source}`, () => ports.snapshot.startSnapshot(req));
    },

    async snapshotStatus(source: string, snapshotId: string): Promise<SnapshotStatus> {
      const { ports } = sourceOf(deps, source);
      const status = await step('snapshot status', `snapshot ${snapshotId}`, () => ports.snapshot.describeSnapshot(snapshotId));
      return status.message === undefined ? status : { ...status, message: keptReason(status.message, 'snapshot status', snapshotId) };
    },

    /**
     * What this cycle's export may take (RDS `ExportOnly`), from include/exclude, before any
     * snapshot or export: excluded tables never leave the database. The table list comes from the
     * source's catalog where the backend reads it without a side effect, else from the previous
     * exports. The scope is recorded so that discover can keep that list current.
     */
    async exportScope(source: string, cycleId: string, requested?: TableName[], options: { payloadInlineBytes?: number } = {}): Promise<ExportScopeSummary> {
      const { settings, ports } = sourceOf(deps, source);
      const sized = (summary: ExportScopeSummary) => excludedInlineOrStored(ports, cycleId, summary, options.payloadInlineBytes);
      // A DynamoDB source has no RDS export: each table is exported on its own by the batch.
      if (isDynamoSource(settings, ports)) return step('export scope', `source ${source}`, async () => sized(await dynamoScope(settings, ports, requested)));
      return step('export scope', `source ${source}`, async () => {
        const known = requested ? undefined : await knownTables(ports);
        const direct = await readDirectly(settings, ports);
        // RDS exports a partitioned table with its partitions' rows: where the catalog lists them, an excluded partition keeps its table out.
        const partitions = settings.exclude.length > 0 && ports.export.listSourcePartitions ? await ports.export.listSourcePartitions() : undefined;
        let scope: ExportScope;
        try {
          scope = exportScope(settings, known?.tables, requested, direct, partitions);
        } catch (err) {
          if (!(err instanceof ExportScopeRefused)) throw err;
          throw ApplicationFailure.create({ message: `export of source ${source} refused: ${err.message}`, type: 'ExportScopeRefused', nonRetryable: true });
        }
        const { wholeDatabase, schemas, tables } = scope;
        const refusal = settings.source.kind === 'rds' ? exportOnlyProblem(settings.database, scope) : undefined;
        if (refusal) throw ApplicationFailure.create({ message: `export of source ${source} refused: ${refusal}`, type: 'ExportScopeRefused', nonRetryable: true });
        await ports.manifests.put(exportScopeKey(cycleId), { wholeDatabase, schemas, tables } satisfies ExportScopeEntries);
        const wholeSnapshot = settings.source.kind === 'rds' ? wholeSnapshotWarning(settings.database, scope) : undefined;
        // RDS exports partitions with their table: without the catalog's partitions, a rule matching nothing may name one.
        // A table-limited sync too: a requested table may be partitioned, with a partition a rule excludes.
        const tablesForWarning = requested ? [...new Set([...((await knownTables(ports))?.tables ?? []), ...requested])] : known?.tables;
        const partitionWarning = settings.source.kind === 'rds' && partitions === undefined ? unknownPartitionWarning(settings, tablesForWarning) : undefined;
        if (partitionWarning) scope.warnings.push(partitionWarning);
        // One per partitioned table with foreign partitions: last, as there may be thousands.
        const foreign = settings.source.kind === 'rds' && !scope.nothingToExport ? await foreignPartitionWarnings(settings, ports, scope, partitions) : [];
        return sized({
          wholeDatabase,
          schemas,
          tables,
          excluded: scope.excluded.map((e) => ({ ...e, lakeTable: lakeTableName(settings, e.table) })),
          warnings: keptWarnings([...scope.warnings, ...(wholeSnapshot ? [wholeSnapshot] : []), ...foreign], 'export scope warning'),
          ...(known ? { tablesFrom: known.from } : {}),
          ...(scope.direct.length > 0 ? { direct: scope.direct } : {}),
          ...(scope.nothingToExport ? { nothingToExport: true as const } : {}),
        });
      });
    },

    async startExport(req: ExportRequest): Promise<ExportRef> {
      const { ports } = sourceOf(deps, req.source);
      return step('export', `snapshot ${req.snapshot.snapshotId}`, async () => {
        const ref = await ports.export.startExport(req);
        // Should the cycle die before its discovery records the export, its recovery finds it here, for its cost.
        if (req.cycleId) await ports.manifests.put(cycleManifestKeys.startedExport(req.cycleId), ref);
        return ref;
      });
    },

    async exportStatus(source: string, exportId: string): Promise<ExportStatus> {
      const { ports } = sourceOf(deps, source);
      const status = await step('export status', `export ${exportId}`, () => ports.export.describeExport(exportId));
      return status.failureCause === undefined ? status : { ...status, failureCause: keptReason(status.failureCause, 'export failure cause', exportId) };
    },

    /** Stops the export of a cancelled cycle; false where the backend cannot stop one (it runs to its end). */
    async cancelExport(source: string, exportId: string): Promise<boolean> {
      const { ports } = sourceOf(deps, source);
      const cancel = ports.export.cancelExport?.bind(ports.export);
      if (!cancel) return false;
      await step('export cancel', `export ${exportId}`, () => cancel(exportId));
      return true;
    },

    async exportAvailable(source: string, ref: ExportRef): Promise<boolean> {
      const { ports } = sourceOf(deps, source);
      return step('export check', `export ${ref.exportId}`, () => ports.discover.exportAvailable(ref));
    },

    /**
     * Reads the export's table list and, for the tables read directly (extract: direct), the
     * source's catalog; stores both as manifests and hands back how many there are. Without an export
     * (every table is read directly) the catalog alone.
     */
    async discoverTables(source: string, cycleId: string, ref: ExportRef | undefined, requested?: TableName[], options: { payloadInlineBytes?: number } = {}): Promise<DiscoverySummary> {
      const { settings, ports } = sourceOf(deps, source);
      const direct = await step('discover', `the source catalog of source ${source}`, () => directCatalog(settings, ports, requested));
      const directManifest = direct.tables.length > 0 ? await step('discover', `source ${source}`, () => ports.manifests.put(directManifestKey(cycleId), direct.tables)) : undefined;
      const withDirect = (found: Omit<DiscoverySummary, 'tableCount'>, exported: TableName[]): DiscoverySummary => {
        const names = new Set([...exported, ...direct.tables.map((t) => t.table)]);
        const summary = direct.notRead?.length ? { ...found, notRead: direct.notRead } : found;
        if (!directManifest) return { ...summary, tableCount: names.size, warnings: keptWarnings(summary.warnings, 'discovery warning') };
        return { ...summary, directManifest, tableCount: names.size, warnings: keptWarnings([...summary.warnings, ...direct.warnings], 'discovery warning') };
      };
      if (!ref) {
        return step('discover', `source ${source}`, async () => {
          const manifest = await ports.manifests.put(cycleManifestKeys.discovery(cycleId), []);
          return withDirect({ manifest, database: settings.database, skipped: [], warnings: [] }, []);
        });
      }
      return step('discover', `export ${ref.exportId}`, async () => {
        const found = await withPartsChecked(ports, source, cycleId, ref, await ports.discover.discover(ref));
        // This cycle's own export updates the table list the next export scope starts from.
        if (ref.exportId === exportIdFor(source, cycleId)) await recordTables(ports, cycleId, ref.exportId, found);
        const manifest = await ports.manifests.put(cycleManifestKeys.discovery(cycleId), found.tables);
        // The export this cycle loads from, for reading its outcomes back should the cycle die.
        await ports.manifests.put(cycleManifestKeys.export(cycleId), ref);
        const tables = found.tables.map((t) => t.table);
        const excluded = tables.filter((t) => !selectTable(settings, t).included).length;
        const summary = withDirect({
          manifest,
          database: found.database,
          // Excluded tables never load, so one the export skipped is no failure.
          skipped: found.skipped.filter((s) => selectTable(settings, s.table).included),
          warnings: excluded > 0 ? [...found.warnings, `${excluded} table(s) excluded by include/exclude rules`] : found.warnings,
        }, tables);
        // Thousands of skipped tables (each still an outcome of the cycle) go by reference.
        const skippedRef = await storedIfLarge(ports, cycleManifestKeys.skippedTables(cycleId), summary.skipped, options.payloadInlineBytes, summary);
        return skippedRef ? { ...summary, skipped: [], skippedRef } : summary;
      });
    },

    /** Decides each table's action; the full plan goes to the manifest store. No side effect on the lake. */
    async planCycle(source: string, cycleId: string, discovery: DiscoverySummary, options: CyclePlanOptions = {}): Promise<PlanSummary> {
      const { settings, ports } = sourceOf(deps, source);
      return step('plan', `source ${source}`, async () => {
        const discovered = await ports.manifests.get<DiscoveredTable[]>(discovery.manifest);
        const catalog = discovery.directManifest ? await ports.manifests.get<DiscoveredTable[]>(discovery.directManifest) : [];
        const lakeTables = new Set<string>();
        // One listing of the namespace where the backend has one, instead of a call per table.
        const listed = ports.lake.listTables ? new Set(await ports.lake.listTables(settings.target.namespace)) : undefined;
        for (const t of [...discovered, ...catalog]) {
          const lake = lakeTableName(settings, t.table);
          if (lakeTables.has(lake)) continue;
          if (listed ? listed.has(lake) : await ports.lake.tableExists(settings.target.namespace, lake)) lakeTables.add(lake);
        }
        const { exportTime, payloadInlineBytes, ...planOptions } = options;
        const dynamo = isDynamoSource(settings, ports);
        const withDynamo = dynamo ? { ...planOptions, dynamodb: await dynamoPlanInputs(source, settings, ports, catalog, lakeTables, exportTime) } : planOptions;
        const planned = planTables(settings, discovered, lakeTables, withDynamo, catalog);
        // A table the export skipped is reported by the cycle with the export's reason: it is no table missing from the export.
        const skipped = discovery.skippedRef ? await readStored<DiscoverySummary['skipped']>(ports, source, discovery.skippedRef) : discovery.skipped;
        const skippedByExport = new Set(skipped.map((s) => s.table));
        // A direct table with an excluded partition is not read (its rows would leave with the partition's): skipped, saying why.
        const notRead = (discovery.notRead ?? []).map((n): TableOutcome => ({ table: n.table, lakeTable: lakeTableName(settings, n.table), action: 'skip', extract: 'direct', status: 'skipped', reason: `excluded (${n.reason})` }));
        const absent = (t: TableName) => !discovered.some((d) => d.table === t) && !catalog.some((d) => d.table === t) && !skippedByExport.has(t) && !notRead.some((n) => n.table === t);
        const missing = (options.requested ?? []).filter(absent);
        // A view, materialized view or foreign table the config or the rerun names is in no export: said so, where the catalog tells it.
        const unlisted = options.requested ? missing : [...new Set(namedTables(settings))].filter((t) => absent(t) && selectTable(settings, t).included);
        const notTables = !dynamo && unlisted.length > 0 && ports.export.listSourceNotTables ? await ports.export.listSourceNotTables() : {};
        const configuredNotTables = options.requested
          ? []
          : unlisted.flatMap((table): TableOutcome[] => (notTables[table] ? [{ table, lakeTable: lakeTableName(settings, table), action: 'skip', status: 'skipped', reason: notATableReason(settings, table, notTables[table]) }] : []));
        const notInExport = missing.map((table): TableOutcome => {
          // An excluded table is not exported at all: asking for it skips it, it does not fail.
          const selection = selectTable(settings, table);
          if (!selection.included) return { table, lakeTable: lakeTableName(settings, table), action: 'skip', status: 'skipped', reason: `excluded (${selection.rule})` };
          if (notTables[table]) {
            return { table, lakeTable: '', action: 'skip', status: 'failed', error: { phase: 'discover', message: notATableReason(settings, table, notTables[table]), type: 'NotATable', retryable: false } };
          }
          if (dynamo) {
            return {
              table,
              lakeTable: '',
              action: 'skip',
              extract: 'dynamodb',
              status: 'failed',
              error: { phase: 'discover', message: `${table} is not a table of the source's DynamoDB (ListTables does not list it): check the name (dynamodb.<TableName>, case-sensitive) and the region`, type: 'TableNotExported', retryable: false },
            };
          }
          if (directExtract(settings.tables[table])) {
            return {
              table,
              lakeTable: '',
              action: 'skip',
              extract: 'direct',
              status: 'failed',
              error: { phase: 'discover', message: `${table} has extract: direct but the source's catalog does not list it: check the table name (schema.table) and that the source still has it`, type: 'TableNotExported', retryable: false },
            };
          }
          return {
            table,
            lakeTable: '',
            action: 'skip',
            status: 'failed',
            error: { phase: 'discover', message: `${table} is not in this cycle's export: check the table name (schema.table), or run a new sync if the table is new`, type: 'TableNotExported', retryable: false },
          };
        });
        const planRef = await ports.manifests.put(cycleManifestKeys.plan(cycleId), planned.entries);
        const refused = await refusedExportCost(ports, settings, source, cycleId, discovered, planned.notLoaded);
        const items: PlanItems = {
          load: planned.entries.flatMap((e): LoadItem[] => (e.action === 'skip' ? [] : [loadItem(e, e.action, settings)])),
          notLoaded: [...refused, ...notInExport, ...notRead, ...configuredNotTables],
        };
        // Should the cycle die, its recovery reports them from here: the plan holds the loaded tables only.
        // The tables the export skipped too: the cycle reports them apart from the plan's.
        const failed = [...items.notLoaded, ...exportSkippedOutcomes(skipped, options.requested)].filter((t) => t.status === 'failed');
        if (failed.length > 0) await ports.manifests.put(cycleManifestKeys.refused(cycleId), failed);
        const itemsRef = await storedIfLarge(ports, cycleManifestKeys.planItems(cycleId), items, payloadInlineBytes);
        return itemsRef ? { planRef, load: [], notLoaded: [], itemsRef } : { planRef, ...items };
      });
    },

    /**
     * The cost of this cycle's own RDS export, for a cycle that failed as a whole after it (no table
     * outcome carries it): the tables' sizes in the export's listing, as discovery stored them or
     * read again (see exportTotals: sizes the listing lacks make it partial). Undefined for a reused
     * export (the cycle that took it paid for it).
     */
    async failedCycleExportCost(source: string, cycleId: string, ref: ExportRef): Promise<CostTotals | undefined> {
      const { settings, ports } = sourceOf(deps, source);
      if (ref.exportId !== exportIdFor(source, cycleId)) return undefined;
      return step('cost', `export ${ref.exportId}`, async () => {
        const discovered = (await findManifest<DiscoveredTable[]>(ports, cycleManifestKeys.discovery(cycleId))) ?? (await ports.discover.discover(ref)).tables;
        return exportTotals(settings, discovered, ref.exportId);
      });
    },

    async prepareLake(source: string): Promise<void> {
      const { settings, ports } = sourceOf(deps, source);
      await step('namespace', `namespace ${settings.target.namespace}`, () => ports.lake.ensureNamespace(settings.target.namespace));
    },
  };
}

/**
 * Why a view, materialized view or foreign table named as a table is not loaded, and what to do. A
 * skipped outcome's reason starts "not a table:" (the ledger keeps such names out of the source's tables).
 */
function notATableReason(settings: SourceConfig, table: TableName, kind: string): string {
  const remove = settings.tables[table] || !settings.include.includes(table) ? `remove tables."${table}" from the config` : `remove include entry "${table}" from the config`;
  const direct = settings.tables[table]?.extract === 'direct';
  if (kind.startsWith(PARTITION_OF)) {
    const parent = kind.slice(PARTITION_OF.length);
    const holds = direct ? `a direct read of ${parent} holds its rows` : `an export holds its rows in ${parent}`;
    return `not a table: ${table} is a ${kind}: ${holds}, so it is not loaded on its own: set tables."${parent}" instead, or ${remove}`;
  }
  if (direct) return directNotATableReason(table, kind, remove);
  const instead =
    kind === 'foreign table'
      ? "sync the table on the server it reads from (its rows are not in this database's snapshot)"
      : `sync the tables it reads from${kind === 'materialized view' ? ' (its rows are computed from them)' : ''}`;
  return `not a table: ${table} is a ${kind}, and an export holds tables only (RDS snapshot exports copy no ${kind}), so it is not loaded: ${instead}, or ${remove}`;
}

/** The plan options of a cycle: the export time T it fixed at its start (DynamoDB sources export every table as of T). */
export type CyclePlanOptions = PlanOptions & {
  /** ISO-8601, whole seconds; set by cycles that know it (a DynamoDB source's plan needs it). */
  exportTime?: string;
  /** The workflow's inline payload limit: a load list larger than it is stored and returned by reference. */
  payloadInlineBytes?: number;
};

/** What the cycle loads and what it reports as not loaded (inline, or behind `PlanSummary.itemsRef`). */
export type PlanItems = Pick<PlanSummary, 'load' | 'notLoaded'>;

/** A known table the rules leave out of the export. */
export interface ExcludedTable {
  table: TableName;
  lakeTable: string;
  rule: string;
}

/**
 * The tables refused at plan, each with the cost of its part of this cycle's own RDS export: the
 * export took it before the plan refused it, and RDS billed its GB. A reused export (a rerun) cost
 * nothing this cycle; a table without a size in the export's listing has its GB left out, and its
 * cost says so (partial) where the export was billed.
 */
async function refusedExportCost(ports: Ports, settings: SourceConfig, source: string, cycleId: string, discovered: DiscoveredTable[], notLoaded: TableOutcome[]): Promise<TableOutcome[]> {
  if (!notLoaded.some((t) => t.status === 'failed' && !t.extract)) return notLoaded;
  const exported = await findManifest<ExportRef>(ports, cycleManifestKeys.export(cycleId));
  if (exported?.exportId !== exportIdFor(source, cycleId)) return notLoaded;
  const sizes = new Map(discovered.map((t) => [t.table, t.sizeGB]));
  const basis = costBasis(settings);
  return notLoaded.map((t) => {
    if (t.status !== 'failed' || t.extract || t.cost || !sizes.has(t.table)) return t;
    const gb = sizes.get(t.table);
    if (gb !== undefined) return { ...t, cost: tableCost(basis, undefined, [{ kind: 'rds', gb }], settings.cost) };
    // The export took it all the same: its cost says its GB are left out.
    return basis === 'glue' ? { ...t, cost: { basis, partial: unsizedExport(t.table, exported.exportId) } } : t;
  });
}

/**
 * The cost of a cycle's own RDS export from its tables' sizes in the export's listing, as a
 * cycle-level figure (no table outcome holds it). The GB of the tables whose size is known, marked
 * partial when some are not (RDS billed those too); when no size is known, a partial figure with no
 * GB where AWS billed the export, else undefined.
 */
export function exportTotals(settings: SourceConfig, discovered: DiscoveredTable[], exportId?: string): CostTotals | undefined {
  const sized = discovered.filter((t) => t.sizeGB !== undefined);
  const partial = () => ({ partial: 1, partialReason: unsizedReason(discovered, exportId) });
  if (sized.length === 0) return discovered.length > 0 && costBasis(settings) === 'glue' ? { basis: 'glue', tables: 0, ...partial() } : undefined;
  const cost = tableCost(costBasis(settings), undefined, sized.map((t) => ({ kind: 'rds' as const, gb: t.sizeGB })), settings.cost);
  const totals = costTotals([cost]);
  if (!totals || totals.exportGB === undefined) return undefined;
  return { ...totals, tables: 0, ...(sized.length < discovered.length ? partial() : {}) };
}

/** Names at most this many unsized tables in a reason; the count says how many there are. */
const UNSIZED_NAMED = 10;

/** Why an export's cost is partial: the tables its listing gives no size (RDS billed their GB all the same). */
function unsizedReason(discovered: DiscoveredTable[], exportId: string | undefined): string {
  const unsized = discovered.filter((t) => t.sizeGB === undefined).map((t) => t.table);
  const named = unsized.slice(0, UNSIZED_NAMED).join(', ') + (unsized.length > UNSIZED_NAMED ? `, and ${unsized.length - UNSIZED_NAMED} more` : '');
  return `${exportId ? `export ${exportId}` : 'the export'}: its listing gives no size for ${unsized.length} of its ${discovered.length} table(s) (${named}): their GB are left out, though RDS billed them`;
}

/** What the batch needs of a plan entry: a DynamoDB table carries its export windows. */
function loadItem(e: PlanEntry, action: LoadAction, settings: SourceConfig): LoadItem {
  const base = { table: e.table, lakeTable: e.lakeTable, action };
  if (e.extract?.kind === 'dynamodb') return { ...base, extract: 'dynamodb', exports: e.extract.exports };
  if (e.extract) return { ...base, extract: 'direct' };
  // Its size in the export: the cost of its part of the export when its load reports none (it timed out).
  const sized = e.sizeGB !== undefined ? { ...base, sizeGB: e.sizeGB } : base;
  // What packing needs too, only when it is on.
  if (!settings.packing) return sized;
  return { ...sized, ...(settings.tables[e.table]?.glueWorkers !== undefined ? { pinned: true } : {}) };
}

/** Whether the source is DynamoDB: its tables are exported one by one, never through an RDS snapshot. */
export function isDynamoSource(settings: SourceConfig, ports: Ports): boolean {
  return ports.tableExport !== undefined || settings.source.kind === 'dynamodb';
}

/** The source's DynamoDB tables (dynamodb.<TableName>), as the backend lists them. */
async function dynamoTables(ports: Ports): Promise<TableName[]> {
  if (ports.discover.listTables) return ports.discover.listTables();
  if (ports.export.listSourceTables) return ports.export.listSourceTables();
  throw new Error('the backend cannot list the DynamoDB tables of the source (ListTables)');
}

/** A DynamoDB source's scope: no RDS export at all; tables the rules leave out are reported as excluded. */
async function dynamoScope(settings: SourceConfig, ports: Ports, requested: TableName[] | undefined): Promise<ExportScopeSummary> {
  const listed = requested ?? (await dynamoTables(ports));
  const excluded = listed.flatMap((table) => {
    const selection = selectTable(settings, table);
    return selection.included ? [] : [{ table, lakeTable: lakeTableName(settings, table), rule: selection.rule }];
  });
  return { wholeDatabase: false, schemas: [], tables: [], excluded, warnings: [], tablesFrom: "the source's DynamoDB (ListTables)", nothingToExport: true };
}

/**
 * What the plan of a DynamoDB source needs besides the tables: the cycle's export time, the
 * backend's window limits, and per table with a lake table the export time it reached (its last
 * commit's lineage, only when this source made it).
 */
async function dynamoPlanInputs(
  source: string,
  settings: SourceConfig,
  ports: Ports,
  catalog: DiscoveredTable[],
  lakeTables: ReadonlySet<string>,
  exportTime: string | undefined,
): Promise<DynamoPlanInput> {
  if (!exportTime) {
    throw ApplicationFailure.create({
      message: `the plan of DynamoDB source ${source} needs the cycle's export time, and this cycle gave none (it was started by an earlier lakesync version): run a new sync`,
      type: 'PlanMismatch',
      nonRetryable: true,
    });
  }
  if (!ports.tableExport) throw new Error(`source ${source} is a DynamoDB source but its backend has no DynamoDB exports`);
  // Without the lake's lineage no table could merge: each would be replaced by a FULL export every cycle.
  const lastCommit = ports.lake.lastCommit?.bind(ports.lake);
  if (!lastCommit) throw new Error(`the lake of source ${source} cannot read a table's last commit (its lineage): DynamoDB tables need it to know the export time they reached`);
  const reached: Record<TableName, string> = {};
  const otherSource: Record<TableName, string> = {};
  const lineageUnread: Record<TableName, string> = {};
  for (const t of catalog) {
    const lake = lakeTableName(settings, t.table);
    if (!lakeTables.has(lake)) continue;
    let commit: LakeCommit | undefined;
    try {
      commit = await lastCommit(settings.target.namespace, lake);
    } catch (err) {
      // A refusal of this lake table alone (a permission on it) fails this table, not the others' plans.
      if (!isPortError(err) || err.retryable) throw err;
      lineageUnread[t.table] = err.message;
      continue;
    }
    if (commit?.source === source && commit.snapshotTime) reached[t.table] = commit.snapshotTime;
    // Another source's rows: the load refuses them (OtherSource), so no export is planned (and paid for) every cycle.
    else if (commit?.source !== undefined && commit.source !== source) otherSource[t.table] = otherSourceMessage(source, settings.target.namespace, lake, t.table, commit);
  }
  return {
    exportTime,
    windowLimits: ports.tableExport.windowLimits,
    ...(ports.tableExport.restorableMarginSeconds !== undefined ? { restorableMarginSeconds: ports.tableExport.restorableMarginSeconds } : {}),
    reached,
    ...(Object.keys(otherSource).length > 0 ? { otherSource } : {}),
    ...(Object.keys(lineageUnread).length > 0 ? { lineageUnread } : {}),
  };
}

/** Why a table whose lake table holds another source's rows is not loaded, and what to do (as the load's OtherSource says it). */
function otherSourceMessage(source: string, namespace: string, lake: string, table: TableName, commit: LakeCommit): string {
  const origin = commit.exportId ? `export ${commit.exportId}` : 'a direct load';
  return (
    `lake table ${namespace}.${lake} holds the rows of source ${commit.source} (${origin}, cycle ${commit.cycleId ?? '(unknown)'}), not of source ${source}: ` +
    `loading it would overwrite or delete that source's rows, so nothing is exported. Give one of the two sources another target (target.namespace or target.tableName, or the table's lakeName); ` +
    `if source ${commit.source} was renamed ${source}, take the table over with: lakesync rerun ${source} --rebuild ${table}`
  );
}

/**
 * The excluded tables inline, or, when they would make the summary larger than the workflow's
 * inline limit (thousands of excluded tables), as text parts the workflow reads back.
 */
async function excludedInlineOrStored(ports: Ports, cycleId: string, summary: ExportScopeSummary, limit: number | undefined): Promise<ExportScopeSummary> {
  const excludedRef = await storedIfLarge(ports, cycleManifestKeys.excludedTables(cycleId), summary.excluded, limit, summary);
  return excludedRef ? { ...summary, excluded: [], excludedRef } : summary;
}

/** The export scope as the cycle workflow gets it. */
export interface ExportScopeSummary extends ExportScopeEntries {
  /** Known tables the rules leave out: reported as skipped, never exported. */
  excluded: ExcludedTable[];
  /** `excluded` stored by reference (empty here) when too large for a payload. */
  excludedRef?: JsonRef;
  warnings: string[];
  /** Where the table list came from; absent for a table-limited sync. */
  tablesFrom?: string;
  /** Included tables this cycle reads directly (extract: direct), left out of the export. */
  direct?: TableName[];
  /** Every included table is read directly: no snapshot and no export are taken. */
  nothingToExport?: true;
}

/** Manifest key of the direct tables as the source's catalog describes them. */
const directManifestKey = (cycleId: string) => `${cycleId}/direct-tables.json`;

/** The configured direct tables, as `schema.table`. */
function directTablesOf(settings: SourceConfig): TableName[] {
  return Object.keys(settings.tables).filter((t) => directExtract(settings.tables[t]) !== undefined);
}

/**
 * The tables this cycle reads directly: extract direct, included, and either with a lake table
 * or created directly (direct.firstLoad direct). One whose first load comes from the export is
 * exported like any table until its lake table exists.
 */
async function readDirectly(settings: SourceConfig, ports: Ports): Promise<TableName[]> {
  const out: TableName[] = [];
  for (const table of directTablesOf(settings)) {
    if (!selectTable(settings, table).included) continue;
    if (readsDirectly(settings, table, false)) out.push(table);
    else if (await ports.lake.tableExists(settings.target.namespace, lakeTableName(settings, table))) out.push(table);
  }
  return out;
}

/**
 * The direct tables (included, and requested when the cycle names tables) as the source's
 * catalog describes them. A backend that cannot describe them lists their names (keys then come
 * from the config only), else the config's names are taken as they are.
 */
async function directCatalog(
  settings: SourceConfig,
  ports: Ports,
  requested: TableName[] | undefined,
): Promise<{ tables: DiscoveredTable[]; warnings: string[]; notRead?: { table: TableName; reason: string }[] }> {
  const wanted = requested ? new Set(requested) : undefined;
  // Every table of a DynamoDB source is read without an RDS export.
  const dynamo = isDynamoSource(settings, ports);
  const candidates = dynamo ? await dynamoTables(ports) : directTablesOf(settings);
  const names = candidates.filter((t) => selectTable(settings, t).included && (!wanted || wanted.has(t)));
  if (dynamo) {
    if (names.length === 0) return { tables: [], warnings: [] };
    if (!ports.discover.sourceTables) throw new Error("the backend cannot describe the source's DynamoDB tables (DescribeTable)");
    const described = await ports.discover.sourceTables(names);
    // A listed table DynamoDB did not describe (e.g. a name in source.tables it lacks) goes to the plan bare: the plan fails it, saying what to check.
    const undescribed = names.filter((t) => !described.some((d) => d.table === t)).map((table): DiscoveredTable => ({ table, target: `${settings.database}.${table}`, columns: [] }));
    return { tables: [...described, ...undescribed], warnings: [] };
  }
  if (names.length === 0) return { tables: [], warnings: [] };
  // A read of a partitioned table holds its partitions' rows: one with an excluded partition is not read at all.
  const partitions = settings.exclude.length > 0 && ports.export.listSourcePartitions ? await ports.export.listSourcePartitions() : undefined;
  const notRead = names.flatMap((table) => {
    const reason = excludedPartitionReason(settings, table, partitions?.[table], 'direct');
    return reason === undefined ? [] : [{ table, reason }];
  });
  // The partitions checked travel to the load: a partition attached since (maybe an excluded one) is never read.
  const checked = (found: { tables: DiscoveredTable[]; warnings: string[] }) =>
    partitions === undefined ? found : { ...found, tables: found.tables.map((t) => ({ ...t, partitions: partitions[t.table] ?? [] })) };
  if (notRead.length > 0) {
    const read = names.filter((t) => !notRead.some((n) => n.table === t));
    return { ...(read.length > 0 ? checked(await describeDirect(settings, ports, read)) : { tables: [], warnings: [] }), notRead };
  }
  return checked(await describeDirect(settings, ports, names));
}

/**
 * The direct tables named, as the source's catalog describes them (or by name only, with a warning);
 * a cursor column that may hold NULL is warned of (rows written with a NULL cursor after the create are never read).
 */
async function describeDirect(settings: SourceConfig, ports: Ports, names: TableName[]): Promise<{ tables: DiscoveredTable[]; warnings: string[] }> {
  if (ports.discover.sourceTables) {
    const tables = await ports.discover.sourceTables(names);
    return { tables, warnings: nullableCursorWarnings(settings, tables) };
  }
  const listed = ports.discover.listTables ? await ports.discover.listTables() : ports.export.listSourceTables ? await ports.export.listSourceTables() : undefined;
  const present = listed ? names.filter((t) => listed.includes(t)) : names;
  return {
    tables: present.map((table) => ({ table, target: `${settings.database}.${table}`, columns: [] })),
    warnings: [`this backend cannot read the columns and keys of the tables read directly (${present.join(', ')}): their keys come from tables.<t>.primaryKey only`],
  };
}

/**
 * A foreign table's rows are on another server: an RDS snapshot holds none of them, so a partitioned
 * table the export takes is loaded without the rows of its foreign partitions. Said for each such
 * table, where the source's catalog tells them; a direct read (a SELECT) reads those rows too.
 */
async function foreignPartitionWarnings(settings: SourceConfig, ports: Ports, scope: ExportScope, known?: Record<TableName, TableName[]>): Promise<string[]> {
  if (!ports.export.listSourceNotTables || !ports.export.listSourcePartitions) return [];
  const notTables = await ports.export.listSourceNotTables();
  const foreign = new Set(Object.keys(notTables).filter((t) => notTables[t] === 'foreign table'));
  if (foreign.size === 0) return [];
  const partitions = known ?? (await ports.export.listSourcePartitions());
  const exported = (table: TableName) =>
    inScope(table, scope) && selectTable(settings, table).included && !scope.direct.includes(table) && !scope.excluded.some((e) => e.table === table);
  return Object.entries(partitions).flatMap(([table, parts]) => {
    const remote = parts.filter((p) => foreign.has(p));
    if (remote.length === 0 || !exported(table)) return [];
    const which = remote.length === 1 ? `its partition ${remote[0]}, a foreign table` : `its partitions ${remote.join(', ')}, foreign tables`;
    return [
      `${table} is exported without the rows of ${which} (rows on another server, which no RDS snapshot holds): ` +
        `read it directly (tables."${table}".extract: direct) to load them, or detach the foreign partition(s)`,
    ];
  });
}

/** The source's tables: its catalog where the backend reads it without a side effect, else what earlier exports listed. */
async function knownTables(ports: Ports): Promise<{ tables: TableName[]; from: string } | undefined> {
  if (ports.export.listSourceTables) return { tables: await ports.export.listSourceTables(), from: "the source's catalog" };
  const saved = await findManifest<KnownTables>(ports, SOURCE_TABLES_KEY);
  return saved ? { tables: saved.tables, from: `the table list of export ${saved.exportId}` } : undefined;
}

/** Keeps the source's table list: inside the scope this cycle recorded, what its export listed. */
async function recordTables(ports: Ports, cycleId: string, exportId: string, found: DiscoveredExport): Promise<void> {
  const previous = await findManifest<KnownTables>(ports, SOURCE_TABLES_KEY);
  const scope = await findManifest<ExportScopeEntries>(ports, exportScopeKey(cycleId));
  // Skipped tables exist in the source too; database-level entries name no table.
  const listed = [...found.tables.map((t) => t.table), ...found.skipped.map((s) => s.table)].filter((t) => t.includes('.'));
  const tables = mergeKnownTables(previous?.tables ?? [], listed, scope);
  await ports.manifests.put(SOURCE_TABLES_KEY, { exportId, tables } satisfies KnownTables);
}

/** The most configured checks of any one table. */
function mostChecksPerTable(checks: { table: string }[]): number {
  const perTable = new Map<string, number>();
  for (const c of checks) perTable.set(c.table, (perTable.get(c.table) ?? 0) + 1);
  return Math.max(0, ...perTable.values());
}

/** A backend's reason (an export's FailureCause), by its start when long: the cycle's error repeats it. The worker's log has it whole. */
function keptReason(text: string, what: string, id: string): string {
  return keptLogged(text, FAILURE_CHARACTERS, "the whole cause is in the worker's log", what, { id });
}

/**
 * How many of a step's warnings the cycle carries, and how much of each: an export's listing may warn
 * of thousands of tables, and a source with thousands of partitioned tables may too.
 */
const WARNINGS_KEPT = 50;
const WARNING_CHARACTERS = 2_000;

/** The first warnings, each by its start, saying how many there are; the worker's log has them all, as `what`. */
function keptWarnings(warnings: string[], what: string): string[] {
  const kept = warnings.slice(0, WARNINGS_KEPT).map((w) => keptStart(w, WARNING_CHARACTERS, "the worker's log has it whole"));
  if (warnings.length <= WARNINGS_KEPT && kept.every((w, i) => w === warnings[i])) return warnings;
  try {
    for (const warning of warnings) Context.current().log.warn(what, { warning });
  } catch {
    // Outside an activity (tests): the kept warnings are all there is.
  }
  if (warnings.length > WARNINGS_KEPT) kept.push(`... ${warnings.length - WARNINGS_KEPT} more (${warnings.length} warnings in all; the worker's log has them all)`);
  return kept;
}
