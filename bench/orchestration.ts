/**
 * Orchestration benchmark: one 1,000-table cycle with instant fake ports on a local Temporal
 * dev server. Reports wall time, the largest history, the number of histories and the worker's
 * peak RSS, and writes bench/results/orchestration.json.
 * Targets: <= 60 s, <= 20,000 events in any history, <= 1 GiB RSS.
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
import { createWorker } from '../src/worker';
import { SOURCE_WORKFLOW_TYPE, statusQuery } from '../src/workflows/messages';

const TABLES = Number(process.env.BENCH_TABLES ?? 1000);
const TARGETS = { wallSeconds: 60, maxHistoryEvents: 20_000, peakRssMiB: 1024 };

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const dir = mkdtempSync(join(tmpdir(), 'lakesync-bench-'));
  const server = await startDevServer({ dbFile: join(dir, 'temporal.db') });
  process.env.TEMPORAL_ADDRESS = server.address;
  try {
    const config = parseConfig({
      temporal: { taskQueue: 'bench-orchestration' },
      sources: {
        bench: {
          database: 'bench',
          source: { kind: 'fake', tables: TABLES },
          target: { namespace: 'bench' },
          concurrency: 10,
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
    let status = await handle.query(statusQuery);
    while (status.recentCycles.length === 0) {
      await new Promise((r) => setTimeout(r, 250));
      status = await handle.query(statusQuery);
    }
    const wallSeconds = (performance.now() - started) / 1000;
    const cycle = status.recentCycles[0]!;

    let histories = 0;
    let maxHistoryEvents = 0;
    let largest = '';
    for await (const wf of client.workflow.list({ query: `WorkflowId STARTS_WITH "lakesync/bench"` })) {
      const history = await client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory();
      const events = history.events?.length ?? 0;
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

    const result = {
      tables: TABLES,
      cycleStatus: cycle.status,
      committed: cycle.counts.committed,
      wallSeconds: Number(wallSeconds.toFixed(2)),
      histories,
      maxHistoryEvents,
      largestHistory: largest,
      peakRssMiB,
      targets: TARGETS,
      met: {
        wallSeconds: wallSeconds <= TARGETS.wallSeconds,
        maxHistoryEvents: maxHistoryEvents <= TARGETS.maxHistoryEvents,
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
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
