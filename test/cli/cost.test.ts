/**
 * The text of the cost ledger: `lakesync cost` (cycles, totals, per table, prices and bases),
 * its --cycles check, the status's last-cycle cost line, and the watermarks' cost cell.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { costReportLines, cyclesOption } from '../../src/cli/commands/cost';
import { UsageError } from '../../src/cli/errors';
import { runCli } from '../../src/cli/main';
import { statusReport } from '../../src/cli/render-status';
import { DEFAULT_PRICES, costTotals, tableCost } from '../../src/cost/ledger';
import { type CostReport, costText, usdText } from '../../src/cost/report';
import type { CycleSummary } from '../../src/workflows/messages';

const glue = tableCost('glue', 7200, [{ kind: 'rds', gb: 12.5 }], DEFAULT_PRICES);
const glueOnly = tableCost('glue', 1800, [], DEFAULT_PRICES);

function report(): CostReport {
  return {
    source: 'shop',
    cycles: [
      { cycleId: '3', kind: 'rerun', status: 'succeeded', finishedAt: '2026-01-03T00:00:00Z', cost: costTotals([glueOnly])! },
      { cycleId: '2', kind: 'sync', status: 'partial', finishedAt: '2026-01-02T00:00:00Z', cost: costTotals([glue, glue])! },
      { cycleId: '1', kind: 'sync', status: 'succeeded', finishedAt: '2026-01-01T00:00:00Z' },
    ],
    total: { basis: 'glue', tables: 3, dpuSeconds: 16200, glueUsd: 1.98, exportGB: 25, exportUsd: 0.25, usd: 2.23 },
    lastCycle: { cycleId: '3', tables: [{ table: 'public.orders', status: 'committed', cost: glueOnly }, { table: 'public.items', status: 'skipped' }] },
    lastCommits: { 'public.orders': glueOnly },
  };
}

describe('lakesync cost text', () => {
  it('lists the cycles newest first with a total line, the last cycle per table, the prices and what the basis means', () => {
    const lines = costReportLines(report(), DEFAULT_PRICES);
    assert.equal(lines[0], 'shop: estimated cost of the last 3 cycle(s), newest first');
    const text = lines.join('\n');
    assert.match(text, /^CYCLE\s+KIND\s+STATUS\s+FINISHED\s+TABLES\s+DPU-S\s+GLUE\s+EXPORT GB\s+EXPORT\s+TOTAL\s+BASIS$/m);
    assert.match(text, /^3\s+rerun\s+succeeded\s+2026-01-03T00:00:00Z\s+1\s+1800\s+\$0\.2200\s+\$0\.2200\s+glue$/m);
    assert.match(text, /^2\s+sync\s+partial\s+2026-01-02T00:00:00Z\s+2\s+14400\s+\$1\.76\s+25\s+\$0\.2500\s+\$2\.01\s+glue$/m);
    // A cycle without a cost says so, in its row and below.
    assert.match(text, /^1\s+sync\s+succeeded\s+2026-01-01T00:00:00Z\s+-$/m);
    assert.match(text, /1 cycle\(s\) without a cost: they ran no load, or ran before the cost ledger/);
    assert.match(text, /^TOTAL\s+3\s+16200\s+\$1\.98\s+25\s+\$0\.2500\s+\$2\.23\s+glue$/m);
    assert.match(text, /^cycle 3, per table:$/m);
    assert.match(text, /^public\.orders\s+committed\s+1800\s+\$0\.2200\s+\$0\.2200\s+glue$/m);
    assert.doesNotMatch(text, /public\.items/, 'a table without a cost is left out of the text');
    assert.match(text, /prices now in sources\.shop\.cost: Glue \$0\.44\/DPU-hour \(FLEX \$0\.29\), RDS export \$0\.01\/GB, DynamoDB export \$0\.1\/GB full, \$0\.1\/GB incremental/);
    assert.match(text, /^glue: Glue's DPU-seconds and the export services' sizes, at the configured prices$/m);
  });

  it('an embedded-mode cycle shows its figures without dollars; a source without cycles says so', () => {
    const none = tableCost('none', undefined, [{ kind: 'rds', gb: 0.5 }], DEFAULT_PRICES);
    const lines = costReportLines({ source: 'demo', cycles: [{ cycleId: '1', kind: 'sync', status: 'succeeded', finishedAt: 't', cost: costTotals([none])! }], total: costTotals([none])!, lastCommits: {} }, DEFAULT_PRICES);
    const text = lines.join('\n');
    assert.match(text, /^1\s+sync\s+succeeded\s+t\s+1\s+0\.500\s+none$/m);
    assert.match(text, /^none: embedded mode: no Glue run and no export bill, nothing priced$/m);
    assert.deepEqual(costReportLines({ source: 'demo', cycles: [], lastCommits: {} }, DEFAULT_PRICES), ['demo: no cycle has finished yet']);
  });

  it('--cycles takes 1 to 20 and refuses anything else with exit 2, before reading the config', async () => {
    assert.equal(cyclesOption('5'), 5);
    // Number() would take hexadecimal, binary, exponents and padding: only decimal digits are a count.
    for (const bad of ['0', '21', '2.5', 'all', '0x3', '0b11', '1e1', ' 4 ', '', '+5']) assert.throws(() => cyclesOption(bad), (err: unknown) => err instanceof UsageError && /--cycles must be a whole number from 1 to 20/.test(err.message), bad);
    let stderr = '';
    const code = await runCli(['cost', 'shop', '--cycles', '0', '--config', '/nonexistent/lakesync.yaml'], { stdout: { write: () => undefined }, stderr: { write: (s: string) => (stderr += s) }, env: {}, cwd: '/' });
    assert.equal(code, 2);
    assert.match(stderr, /--cycles must be a whole number from 1 to 20 \(the status keeps the newest 20 cycles\), got "0"/);
  });
});

describe('cost in status and watermarks', () => {
  it('status shows the last cycle cost, and nothing for a cycle without one', () => {
    const last: CycleSummary & { tables: [] } = { cycleId: '2', workflowId: 'w', kind: 'sync', status: 'succeeded', requestIds: [], counts: { committed: 2, failed: 0, skipped: 0 }, startedAt: 'a', finishedAt: 'b', cost: costTotals([glue, glue])!, tables: [] };
    const status = { source: 'shop', phase: 'idle' as const, queue: [], lastCycle: last, recentCycles: [last], failed: {}, ledger: {}, ignoredRequests: [], droppedTables: [] };
    const view = { source: 'shop', workflowId: 'lakesync/shop', phase: 'idle' as const, tables: [], queued: 0, status };
    assert.ok(statusReport(view, {}).includes('last cycle cost: 14400 DPU-s $1.76, export 25 GB $0.2500 = $2.01 (glue) ("lakesync cost shop" for more)'));
    const { cost: _, ...without } = last;
    assert.ok(!statusReport({ ...view, status: { ...status, lastCycle: { ...without, tables: [] } } }, {}).some((l) => l.startsWith('last cycle cost')));
  });

  it('a failed cycle (stopped or died) says its figures can leave out loads it billed', () => {
    const r = report();
    r.cycles = [{ cycleId: '4', kind: 'sync', status: 'failed', finishedAt: '2026-01-04T00:00:00Z' }, ...r.cycles];
    const text = costReportLines(r, DEFAULT_PRICES).join('\n');
    assert.match(text, /1 failed cycle\(s\) \(4\): a cycle that stopped or died counts only the loads whose results it recorded/, text);
    assert.match(text, /2 cycle\(s\) without a cost/);
    assert.doesNotMatch(costReportLines(report(), DEFAULT_PRICES).join('\n'), /failed cycle/);
  });

  it('partial figures are marked in their rows, the total, and with their reasons below the tables', () => {
    const short = { ...glueOnly, partial: 'run jr_9 (RUNNING) was still going when the dead cycle was read back: its DPU-seconds are left out' };
    const r = report();
    r.cycles = [{ cycleId: '4', kind: 'sync', status: 'failed', finishedAt: '2026-01-04T00:00:00Z', cost: costTotals([short])! }, ...r.cycles];
    r.total = { ...r.total!, partial: 1 };
    r.lastCycle = { cycleId: '4', tables: [{ table: 'public.orders', status: 'failed', cost: short }] };
    const text = costReportLines(r, DEFAULT_PRICES).join('\n');
    assert.match(text, /^4\s+sync\s+failed\s+2026-01-04T00:00:00Z\s+1\s+1800\s+\$0\.2200\s+\$0\.2200\s+glue, partial$/m, text);
    assert.match(text, /^TOTAL\s+3\s+16200\s+\$1\.98\s+25\s+\$0\.2500\s+\$2\.23\s+glue, partial$/m, text);
    assert.match(text, /^public\.orders\s+failed\s+1800\s+\$0\.2200\s+\$0\.2200\s+glue, partial$/m, text);
    assert.match(text, /^  public\.orders: at least this: run jr_9 \(RUNNING\) was still going/m, text);
    assert.match(text, /1 partial figure\(s\) in these cycles: their totals are a lower bound/, text);
  });

  it('a table name or reason holding control characters is shown escaped, one line each, in the per-table notes and the cycle notes', () => {
    const evil = 'public.evil\u001b[2J\nTOTAL  9  $0.00';
    const short = { ...glueOnly, partial: `${evil} has no size in the table list of export e1: its export GB are left out` };
    const r = report();
    r.cycles = [{ cycleId: '4', kind: 'sync', status: 'partial', finishedAt: '2026-01-04T00:00:00Z', cost: { ...costTotals([short])!, partialReason: `export e1: its listing gives no size for 1 of its 1 table(s) (${evil})` } }, ...r.cycles];
    r.lastCycle = { cycleId: '4', tables: [{ table: evil, status: 'committed', cost: short }] };
    const lines = costReportLines(r, DEFAULT_PRICES);
    for (const line of lines) assert.doesNotMatch(line, /[\u0000-\u001f\u007f-\u009f]/, `a line holds a control character: ${JSON.stringify(line)}`);
    assert.ok(lines.includes('  public.evil\\x1b[2J\\nTOTAL  9  $0.00: at least this: public.evil\\x1b[2J\\nTOTAL  9  $0.00 has no size in the table list of export e1: its export GB are left out'), lines.join('\n'));
    assert.ok(lines.includes('  cycle 4: at least this: export e1: its listing gives no size for 1 of its 1 table(s) (public.evil\\x1b[2J\\nTOTAL  9  $0.00)'), lines.join('\n'));
  });

  it('dollars: cents from a dollar up, else four decimals, decided on the rounded amount', () => {
    assert.equal(usdText(0.99996), '$1.00');
    assert.equal(usdText(0.99994), '$0.9999');
    assert.equal(usdText(1.005), '$1.01');
    assert.equal(usdText(0.00005), '$0.0001');
    assert.equal(usdText(12.345), '$12.35');
  });

  it('a watermark cost cell reads the same way', () => {
    assert.equal(costText(glue), '7200 DPU-s $0.8800, export 12.500 GB $0.1250 = $1.01 (glue)');
    assert.equal(costText({ basis: 'none' }), 'no figures (none)');
  });
});
