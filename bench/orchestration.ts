/**
 * Orchestration benchmark: one cycle of 5,000 tables (BENCH_TABLES) with instant fake ports on a
 * local Temporal dev server that suggests continue-as-new early, so the source carries its state
 * over once. Reports wall time, the largest history, the largest payload in any history (and
 * which one it is), the status query's answers, the worker's peak RSS, and writes
 * bench/results/orchestration.json.
 * Targets at 5,000 tables: <= 120 s, <= 20,000 events in any history, no payload over 512 KB, <= 1 GiB RSS.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { parseConfig } from '../src/config/load';
import { startDevServer } from '../src/devserver';
import { FakeBackend } from '../src/fake/ports';
import { sourceWorkflowId } from '../src/ids';
import { connectClient, temporalTarget } from '../src/temporal';
import { repoRoot } from '../src/toolchain';
import { readSourceStatus } from '../src/status-pages';
import { createWorker } from '../src/worker';
import { SOURCE_WORKFLOW_TYPE, type StatusPage, statusPageQuery, statusQuery } from '../src/workflows/messages';
import { SEARCH_ATTRIBUTE_TYPES } from '../src/workflows/search';
import { historyEvents, historyPayloadSizes, type PayloadSize } from '../test/helpers/payload-sizes';

const TABLES = Number(process.env.BENCH_TABLES ?? 5000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 50);
const TARGETS = { wallSeconds: 120, maxHistoryEvents: 20_000, maxPayloadBytes: 512 * 1024, peakRssMiB: 1024 };
const jsonBytes = (v: unknown): number => Buffer.byteLength(JSON.stringify(v));

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const dir = mkdtempSync(join(tmpdir(), 'lakesync-bench-'));
  // The source continues as new after its cycle: the carried state is measured too.
  const server = await startDevServer({
    dbFile: join(dir, 'temporal.db'),
    searchAttributes: SEARCH_ATTRIBUTE_TYPES,
    extraArgs: ['--dynamic-config-value', 'limit.historyCount.suggestContinueAsNew=20'],
  });
  process.env.TEMPORAL_ADDRESS = server.address;
  try {
    const config = parseConfig({
      temporal: { taskQueue: 'bench-orchestration' },
      sources: {
        bench: {
          database: 'bench',
          source: { kind: 'fake', tables: TABLES },
          target: { namespace: 'bench' },
          concurrency: CONCURRENCY,
          retry: { initialIntervalSeconds: 1, maximumIntervalSeconds: 1, maximumAttempts: 3 },
          timeouts: { heartbeatSeconds: 10, pollInitialSeconds: 1, pollMaximumSeconds: 1 },
        },
      },
    });
    const backend = new FakeBackend({ tables: TABLES });
    const { worker, close } = await createWorker({ config, ports: { bench: backend.ports() } });
    const running = worker.run();
    const client = await connectClient(temporalTarget(config));

    const started = performance.now();
    const handle = await client.workflow.start(SOURCE_WORKFLOW_TYPE, { workflowId: sourceWorkflowId('bench'), taskQueue: 'bench-orchestration', args: [{ source: 'bench' }] });
    let status = await readSourceStatus(handle);
    while (status.recentCycles.length === 0) {
      await new Promise((r) => setTimeout(r, 250));
      status = await handle.query(statusQuery).catch(() => status);
    }
    const wallSeconds = (performance.now() - started) / 1000;
    const cycle = status.recentCycles[0]!;
    console.error(`cycle of ${TABLES} tables ${cycle.status} in ${wallSeconds.toFixed(1)} s; measuring the histories`);
    // Wait for the continued run, then read the status whole through its pages.
    const firstRunId = handle.firstExecutionRunId;
    for (let i = 0; i < 240 && (await client.workflow.getHandle(handle.workflowId).describe()).runId === firstRunId; i++) await new Promise((r) => setTimeout(r, 250));
    const continued = (await client.workflow.getHandle(handle.workflowId).describe()).runId !== firstRunId;
    const whole = await readSourceStatus(client.workflow.getHandle(handle.workflowId));
    const statusAnswerBytes = jsonBytes(await client.workflow.getHandle(handle.workflowId).query(statusQuery));
    let largestStatusPageBytes = 0;
    for (const part of ['ledger', 'failed', 'lastCycleTables'] as const) {
      for (let offset: number | undefined = 0; offset !== undefined; ) {
        const page: StatusPage = await client.workflow.getHandle(handle.workflowId).query(statusPageQuery, { part, offset });
        largestStatusPageBytes = Math.max(largestStatusPageBytes, jsonBytes(page));
        offset = page.next;
      }
    }
    const payloads = await historyPayloadSizes(client, 'lakesync/bench');
    const largestPayload = payloads[0]!;
    // The payload bytes each history holds (Temporal warns at 10 MB per history, fails at 50 MB).
    const historyBytes = new Map<string, number>();
    for (const p of payloads) historyBytes.set(`${p.workflowId}~${p.runId}`, (historyBytes.get(`${p.workflowId}~${p.runId}`) ?? 0) + p.bytes);
    const [largestHistoryRun, largestHistoryBytes] = [...historyBytes.entries()].sort((a, b) => b[1] - a[1])[0]!;

    let histories = 0;
    let maxHistoryEvents = 0;
    let largest = '';
    for await (const wf of client.workflow.list({ query: `WorkflowId STARTS_WITH "lakesync/bench"` })) {
      const events = (await historyEvents(client, wf.workflowId, wf.runId)).length;
      histories++;
      if (events > maxHistoryEvents) {
        maxHistoryEvents = events;
        largest = wf.workflowId;
      }
    }
    worker.shutdown();
    await running;
    await close();
    await client.connection.close();
    const peakRssMiB = Math.round(process.resourceUsage().maxRSS / 1024);

    const maxPayloadBytes = Math.max(largestPayload.bytes, statusAnswerBytes, largestStatusPageBytes);
    const result = {
      tables: TABLES,
      concurrency: CONCURRENCY,
      cycleStatus: cycle.status,
      committed: cycle.counts.committed,
      wallSeconds: Number(wallSeconds.toFixed(2)),
      histories,
      maxHistoryEvents,
      largestHistory: largest,
      continuedAsNew: continued,
      ledgerEntries: Object.keys(whole.ledger).length,
      lastCycleTables: whole.lastCycle?.tables.length ?? 0,
      maxPayloadBytes,
      largestPayload: { bytes: largestPayload.bytes, where: largestPayload.where, workflowId: largestPayload.workflowId, eventId: largestPayload.eventId },
      // The largest of each kind (event, activity and field), largest first.
      largestPayloadsByKind: largestByKind(payloads, 12),
      payloadsMeasured: payloads.length,
      largestHistoryPayloadBytes: { bytes: largestHistoryBytes, run: largestHistoryRun },
      statusAnswerBytes,
      largestStatusPageBytes,
      peakRssMiB,
      targets: TARGETS,
      met: {
        wallSeconds: wallSeconds <= TARGETS.wallSeconds,
        maxHistoryEvents: maxHistoryEvents <= TARGETS.maxHistoryEvents,
        maxPayloadBytes: maxPayloadBytes <= TARGETS.maxPayloadBytes,
        peakRssMiB: peakRssMiB <= TARGETS.peakRssMiB,
      },
      loadRuns: backend.count('load.start'),
      measuredAt: new Date().toISOString(),
    };
    const out = join(repoRoot(), 'bench', 'results');
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, 'orchestration.json'), `${JSON.stringify(result, null, 2)}\n`);
    console.log(JSON.stringify(result, null, 2));
    if (cycle.status !== 'succeeded' || cycle.counts.committed !== TABLES) throw new Error(`the cycle did not load every table: ${JSON.stringify(cycle)}`);
    if (!continued || Object.keys(whole.ledger).length !== TABLES) throw new Error(`the source did not carry its ${TABLES} watermarks over continue-as-new (continued: ${continued}, ledger: ${Object.keys(whole.ledger).length})`);
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

function largestByKind(payloads: PayloadSize[], count: number): { bytes: number; where: string; workflowId: string }[] {
  const seen = new Set<string>();
  const out: { bytes: number; where: string; workflowId: string }[] = [];
  for (const p of payloads) {
    if (seen.has(p.where)) continue;
    seen.add(p.where);
    out.push({ bytes: p.bytes, where: p.where, workflowId: p.workflowId });
    if (out.length >= count) break;
  }
  return out;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
