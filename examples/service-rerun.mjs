// A service that asks lakesync to reload tables, without the lakesync command: it sends the
// `requestRerun` signal by signal-with-start, so it works whether or not the source workflow
// `lakesync/<source>` is running at that moment. Payload types: src/workflows/messages.ts
// (RerunRequest) and docs/messages.schema.json (#/$defs/RerunRequest).
//
//   TEMPORAL_ADDRESS=localhost:7233 node examples/service-rerun.mjs shop failed
//   TEMPORAL_ADDRESS=localhost:7233 node examples/service-rerun.mjs shop public.orders,public.customers
//
// Prints the request id; `lakesync status shop --json` lists it in recentCycles[].requestIds
// once the cycle that served it has finished.
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';

const [source, tablesArg = 'failed'] = process.argv.slice(2);
if (!source) {
  console.error('usage: node examples/service-rerun.mjs <source> [failed | schema.table,...]');
  process.exit(2);
}
// Read as the lakesync command reads --tables: "public.a, public.b," names two tables.
const tables = tablesArg.trim() === 'failed' ? 'failed' : [...new Set(tablesArg.split(',').map((t) => t.trim()).filter(Boolean))];
if (tables.length === 0) {
  console.error(`no table named in ${JSON.stringify(tablesArg)}: pass "failed" or schema.table names separated by commas`);
  process.exit(2);
}

const connection = await Connection.connect({ address: process.env.TEMPORAL_ADDRESS ?? 'localhost:7233' });
try {
  const client = new Client({ connection, namespace: process.env.TEMPORAL_NAMESPACE ?? 'default' });
  /** @type {import('../src/workflows/messages').RerunRequest} */
  const rerun = {
    tables,
    requestId: `billing-${randomUUID()}`,
    requestedBy: 'billing-service',
  };
  await client.workflow.signalWithStart('sourceWorkflow', {
    workflowId: `lakesync/${source}`,
    taskQueue: process.env.LAKESYNC_TASK_QUEUE ?? 'lakesync',
    // Used only when the source workflow is not running: start it without a sync of its own.
    args: [{ source, syncOnStart: false }],
    signal: 'requestRerun',
    signalArgs: [rerun],
  });
  console.log(rerun.requestId);
} finally {
  await connection.close();
}
