/**
 * Runs one export in its own process and prints its figures as JSON, so a test can measure the
 * exporter's own memory: peak resident set size and peak JS heap while it streams.
 * Usage: node export-child.js <postgres url> <out dir> <database> [rowsPerPart]
 */
import { exportSnapshot } from '../../../src/local/export/exporter';
import { openPostgres } from '../../../src/local/source/postgres';

async function main(): Promise<void> {
  const [url, outDir, database, rowsPerPart] = process.argv.slice(2);
  if (!url || !outDir || !database) throw new Error('usage: export-child.js <postgres url> <out dir> <database> [rowsPerPart]');
  const db = openPostgres(url);
  await db.query('SELECT 1');
  const baselineRssMb = process.memoryUsage().rss / 1e6;
  let peakHeapMb = 0;
  const sampler = setInterval(() => (peakHeapMb = Math.max(peakHeapMb, process.memoryUsage().heapUsed / 1e6)), 20);
  const started = Date.now();
  const summary = await exportSnapshot(db, {
    exportId: 'ls-memory-1',
    database,
    snapshot: { snapshotId: 'memory', createdAt: new Date().toISOString(), adopted: false },
    outDir,
    ...(rowsPerPart ? { rowsPerPart: Number(rowsPerPart) } : {}),
  });
  clearInterval(sampler);
  await db.close();
  console.log(
    JSON.stringify({
      seconds: (Date.now() - started) / 1000,
      baselineRssMb,
      peakRssMb: process.resourceUsage().maxRSS / 1024,
      peakHeapMb,
      tables: summary.tables.map((t) => ({ table: t.table, rows: t.rows, parts: t.files.length, bytes: t.bytes })),
    }),
  );
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.stack : err);
  process.exit(1);
});
