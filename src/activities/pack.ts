/**
 * The start of a pack: one run (a Glue job run, or one local runner job) that loads several small
 * tables, each with exactly the request its own run would get. The start is sent at most once: a
 * retried attempt finds the run by the pack token first. Each table then waits for the run in its
 * own loadTable (src/activities/load.ts) and reads its own result. A pack whose cycle is
 * cancelled while it starts has its run stopped (stopPackLoad).
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import type { PackRequest, TableName } from '../model';
import type { LoadPort, PackLoads } from '../ports';
import { type ActivityDeps, failure, sourceOf } from './deps';
import { committedEarlier, exportPartsReader, loadRequestFor, type LoadRequestInput, planEntries, refusalTold, refuseExcluded } from './load';

export interface StartPackInput extends Omit<LoadRequestInput, 'table'> {
  planRef: string;
  /** Deterministic per cycle and pack (packTokenFor). */
  packToken: string;
  /** The tables of the pack, in the order the run loads them. */
  tables: TableName[];
}

export interface PackHeartbeat {
  runId?: string;
  packToken: string;
}

/** A pack whose cycle was cancelled: its run, when the start answered one. */
export interface StopPackInput extends StartPackInput {
  runId?: string;
}

export function packActivities(deps: ActivityDeps) {
  const planEntry = planEntries(deps);
  const exportParts = exportPartsReader(deps);

  /** The request of the pack's run: each table's as its own run would get it. */
  async function packRequest(input: StartPackInput, packs: PackLoads): Promise<PackRequest> {
    const { ports } = sourceOf(deps, input.source);
    const loads = [];
    for (const table of input.tables) {
      const plan = await planEntry(input.source, input.planRef, table);
      loads.push(loadRequestFor(ports.load, { ...input, table }, plan, await exportParts({ ...input, table }, plan)));
    }
    return { source: input.source, cycleId: input.cycleId, packToken: input.packToken, loads, summaryLocation: packs.summaryLocation(input.source, input.cycleId, input.packToken) };
  }

  return {
    async startPackLoad(input: StartPackInput): Promise<{ runId: string }> {
      const { ports } = sourceOf(deps, input.source);
      const packs = ports.load.packs;
      const subject = `pack ${input.packToken} (${input.tables.join(', ')})`;
      if (!packs) {
        throw ApplicationFailure.create({ message: `${subject}: the backend of source ${input.source} cannot load tables in packs; each table runs alone`, type: 'PacksUnsupported', nonRetryable: true });
      }
      const ctx = Context.current();
      const previous = ctx.info.heartbeatDetails as PackHeartbeat | undefined;
      // Until the run is known, a slow start must not look like a dead worker (a second attempt would start a second run).
      const beating = setInterval(() => ctx.heartbeat({ packToken: input.packToken }), Math.max(500, Math.floor((ctx.info.heartbeatTimeoutMs ?? 60_000) / 3)));
      try {
        const req = await packRequest(input, packs);
        // A table the worker's config excludes now is loaded by no run: the pack's tables run alone, and it is refused there.
        // A run an earlier attempt started (before the config changed) is stopped first, and what it already loaded is told.
        try {
          for (const load of req.loads) refuseExcluded(input.source, sourceOf(deps, input.source).settings, load.plan);
        } catch (refusal) {
          throw await stopRefusedPack(ports.load, packs, req, previous?.runId, refusal);
        }
        const found = previous?.runId ?? (await packs.findPackByToken(req));
        // A cancelled cycle starts no run: nothing would load for it.
        if (!found && ctx.cancellationDetails?.cancelRequested) throw new CancelledFailure(`${subject} was not started: its cycle was cancelled`);
        const runId = found ?? (await startWhenFree(ports.load, packs, req, subject));
        ctx.heartbeat({ runId, packToken: input.packToken } satisfies PackHeartbeat);
        ctx.log.info('pack run', { packToken: input.packToken, runId, tables: input.tables.length });
        return { runId };
      } catch (err) {
        if (err instanceof CancelledFailure) throw err;
        throw failure('pack start', subject, err);
      } finally {
        clearInterval(beating);
      }
    },

    /**
     * Stops the run of a pack whose cycle was cancelled while the pack started: the run the start
     * answered, else the one its token finds (a start whose answer never came may have made it).
     * Its tables not loaded yet write no result and commit nothing.
     */
    async stopPackLoad(input: StopPackInput): Promise<{ runId?: string }> {
      const { ports } = sourceOf(deps, input.source);
      const packs = ports.load.packs;
      if (!packs) return {};
      const subject = `pack ${input.packToken} (${input.tables.join(', ')})`;
      try {
        const runId = input.runId ?? (await packs.findPackByToken(await packRequest(input, packs)));
        if (!runId) return {};
        await ports.load.stopRun(runId);
        Context.current().log.info('stopped pack run: its cycle was cancelled', { packToken: input.packToken, runId });
        return { runId };
      } catch (err) {
        throw failure('pack stop', subject, err);
      }
    },
  };
}

/**
 * A pack refused because the config excludes one of its tables now: the run an earlier attempt of
 * its start made, if any, is stopped, so that it loads no excluded table; the refusal says so, and
 * names the excluded tables that run had already committed to the lake, with the fix.
 */
async function stopRefusedPack(port: LoadPort, packs: PackLoads, req: PackRequest, known: string | undefined, refusal: unknown): Promise<unknown> {
  if (!(refusal instanceof ApplicationFailure)) return refusal;
  const runId = known ?? (await packs.findPackByToken(req));
  if (!runId) return refusal;
  await port.stopRun(runId);
  const refused = req.loads.filter((l) => refusal.message.startsWith(`load of ${l.plan.table} refused`));
  const loaded: string[] = [];
  for (const load of refused) {
    const table = await committedEarlier(port, load);
    if (table) loaded.push(table);
  }
  return refusalTold(
    refusal,
    loaded.length > 0
      ? `; run ${runId}, which an earlier attempt of this pack's start had started, was stopped, but it had already loaded ${loaded.join(', ')}: drop those rows, or the lake table, if they must not be in the lake`
      : `; run ${runId}, which an earlier attempt of this pack's start had started, was stopped before it committed the table`,
  );
}

/**
 * Starts the pack's run unless another run is live on one of its lake tables (one run per lake
 * table): then the pack is not started and its tables run alone, each stopping the other run and
 * waiting for it as a single load does.
 */
async function startWhenFree(port: LoadPort, packs: PackLoads, req: PackRequest, subject: string): Promise<string> {
  for (const load of req.loads) {
    const live = await port.liveRuns(load.namespace, load.plan.lakeTable);
    if (live.length > 0) {
      throw ApplicationFailure.create({
        message: `${subject} was not started: lake table ${load.namespace}.${load.plan.lakeTable} has a live run (${live.map((r) => r.runId).join(', ')}); the tables of the pack run alone`,
        type: 'LakeTableBusy',
        nonRetryable: true,
      });
    }
  }
  return (await packs.startPack(req)).runId;
}
