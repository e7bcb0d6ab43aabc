/** What verification holds the lake's row count against, and the Parquet footer reader (no server). */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { describe, test } from 'node:test';
import parquet from '@dsnp/parquetjs';
import { rowCountCheckFor as chooseCheck, dynamoRowCountCheck, publishActivities } from '../../src/activities/publish';
import { FakeBackend } from '../../src/fake/ports';
import { fakeDynamoConfig } from '../helpers/dynamodb-source';
import { PortError } from '../../src/errors';
import { footerRowCount, isDataFile, isTablePart, sumRows, withTail } from '../../src/export-rows';
import type { RowCountCheck } from '../../src/model';
import { repoRoot } from '../../src/toolchain';
import { type LakeRowCounts, rowCountCheck } from '../../src/verify-rows';

const load = (action: 'create' | 'merge' | 'replace' | 'incremental' | 'none', inserted = 0, committed = true) => ({ action, inserted, committed, rowCountAfter: 999, snapshotId: '7' });

describe('the figure the lake is held against', () => {
  test('create, merge and replace: the export rows, never the job-reported count', () => {
    for (const action of ['create', 'merge', 'replace'] as const) {
      assert.deepEqual(chooseCheck(action, load(action), 120), { kind: 'total', rows: 120 });
    }
    // An unchanged table still holds exactly the export's rows.
    assert.deepEqual(chooseCheck('merge', load('none', 0, false), 120), { kind: 'total', rows: 120 });
  });

  test('incremental: the rows the snapshot added, at most the export rows', () => {
    assert.deepEqual(chooseCheck('incremental', load('incremental', 5), 120), { kind: 'appended', rows: 5, atMost: 120, since: 'parent' });
    assert.deepEqual(chooseCheck('incremental', load('none', 0, false), 120), { kind: 'appended', rows: 0, atMost: 120, since: 'snapshot' });
    // A schema change without rows reports the action but no commit.
    assert.deepEqual(chooseCheck('incremental', load('incremental', 0, false), 120), { kind: 'appended', rows: 0, atMost: 120, since: 'snapshot' });
  });

  test('the action the job took decides: a missing incremental table is created from the whole export', () => {
    assert.deepEqual(chooseCheck('incremental', load('create', 120), 120), { kind: 'total', rows: 120 });
    assert.deepEqual(chooseCheck('create', load('incremental', 3), 120), { kind: 'appended', rows: 3, atMost: 120, since: 'parent' });
  });
});

describe('the figure a DynamoDB load is held against', () => {
  const at = (type: 'FULL' | 'INCREMENTAL', itemCount: number, i = 0) => ({ exportId: `lse-${i}`, window: { type, ...(type === 'INCREMENTAL' ? { from: `2026-01-0${i + 1}T00:00:00Z` } : {}), to: `2026-01-0${i + 2}T00:00:00Z` }, itemCount });
  const ddbLoad = (inserted: number, deleted: number, committed = true) => ({ action: 'merge' as const, inserted, deleted, committed, rowCountAfter: 999, snapshotId: '3' });

  test("FULL: the export's item count, never the job's count", () => {
    assert.deepEqual(dynamoRowCountCheck([at('FULL', 130)], { ...ddbLoad(130, 0), action: 'create' }), { kind: 'total', rows: 130 });
    assert.deepEqual(dynamoRowCountCheck([at('FULL', 0)], { ...ddbLoad(0, 12), action: 'replace' }), { kind: 'total', rows: 0 });
  });

  test("INCREMENTAL: the lake's count moves by inserted - deleted, at most the windows' change records together", () => {
    assert.deepEqual(dynamoRowCountCheck([at('INCREMENTAL', 20, 0), at('INCREMENTAL', 25, 1)], ddbLoad(40, 10)), { kind: 'changed', inserted: 40, deleted: 10, atMost: 45, since: 'parent' });
    assert.deepEqual(dynamoRowCountCheck([at('INCREMENTAL', 3)], { ...ddbLoad(0, 0, false), action: 'none' as never }), { kind: 'changed', inserted: 0, deleted: 0, atMost: 3, since: 'snapshot' });
  });

  test('a row count that fails says to rebuild the table: a rerun would only export the changes since the export time the load committed', async () => {
    const backend = new FakeBackend({ tables: ['dynamodb.orders'], dynamodb: true, rowsPerTable: 10 });
    // The load committed 9 rows of a FULL export of 10 items.
    backend.store.update((s) => {
      s.lake['shop.orders'] = { rows: 9, snapshot: 1 };
    });
    const acts = publishActivities({ config: fakeDynamoConfig('unused', 'ddb'), portsFor: () => backend.ports() });
    const failure = await acts
      .verifyTable({ source: 'ddb', table: 'dynamodb.orders', lakeTable: 'orders', action: 'create', extract: 'dynamodb', tableExports: [at('FULL', 10)], load: { ...ddbLoad(9, 0), action: 'create', snapshotId: '1' } })
      .then(() => assert.fail('expected a failed verification'), (err: unknown) => err as Error);
    assert.match(failure.message, /verification of dynamodb\.orders \(shop\.orders\) failed: row count/);
    assert.match(failure.message, /the load lost or duplicated items; rebuild the table from a new FULL export \(lakesync rerun ddb --rebuild dynamodb\.orders\)/);
    assert.doesNotMatch(failure.message, /--tables/);
  });
});

/** A lake of snapshots 1 -> 2 -> 3 with these row counts and Iceberg operations (append unless named); snapshot 3 is current. */
function lake(rows: Record<string, number> = { '1': 100, '2': 100, '3': 130 }, operations: Record<string, string> = {}): LakeRowCounts & { asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    async countAt(id) {
      asked.push(`count ${id}`);
      return rows[id ?? '3']!;
    },
    async parentOf(id) {
      asked.push(`parent ${id}`);
      return { parent: id === '1' ? null : String(Number(id) - 1), operation: operations[id] ?? 'append' };
    },
  };
}

describe('the row-count check against the lake', () => {
  test('total: the count at the snapshot equals the figure', async () => {
    assert.deepEqual(await rowCountCheck({ kind: 'total', rows: 130 }, '3', lake()), { name: 'row count at snapshot 3', expected: '130', actual: '130', passed: true });
    assert.deepEqual(await rowCountCheck({ kind: 'total', rows: 131 }, '3', lake()), { name: 'row count at snapshot 3', expected: '131', actual: '130', passed: false });
    assert.equal((await rowCountCheck({ kind: 'total', rows: 130 }, null, lake())).name, 'row count');
  });

  test('appended since the parent: the lake counts both snapshots', async () => {
    const l = lake();
    const check: RowCountCheck = { kind: 'appended', rows: 30, atMost: 500, since: 'parent' };
    assert.deepEqual(await rowCountCheck(check, '3', l), { name: 'rows snapshot 3 added to snapshot 2', expected: '30', actual: '30', passed: true });
    assert.deepEqual(l.asked, ['parent 3', 'count 3', 'count 2']);
    assert.equal((await rowCountCheck({ ...check, rows: 31 }, '3', lake())).passed, false, 'the load reports 31, the lake gained 30');
    assert.deepEqual(await rowCountCheck({ ...check, rows: 100 }, '1', lake()), { name: 'rows snapshot 1 added to an empty table', expected: '100', actual: '100', passed: true });
  });

  test("a compaction committed on the load's snapshot before the load read it back: the rows are counted from the load's own commit", async () => {
    // 1 -> 2 (the load appended 30) -> 3 (S3 Tables compacted: same rows), and the load reported 3, the table's current snapshot.
    const compacted = lake({ '1': 100, '2': 130, '3': 130 }, { '3': 'replace' });
    const appended = await rowCountCheck({ kind: 'appended', rows: 30, atMost: 500, since: 'parent' }, '3', compacted);
    assert.deepEqual(appended, { name: 'rows snapshot 2 added to snapshot 1 (snapshot 3 after it only rewrote files)', expected: '30', actual: '30', passed: true });
    assert.deepEqual(compacted.asked, ['parent 3', 'parent 2', 'count 3', 'count 1']);
    const merged = await rowCountCheck({ kind: 'changed', inserted: 40, deleted: 10, atMost: 60, since: 'parent' }, '3', lake({ '1': 100, '2': 130, '3': 130 }, { '3': 'replace' }));
    assert.deepEqual({ actual: merged.actual, passed: merged.passed }, { actual: '30', passed: true });
    // Still held against the rows: a load that lost rows before the compaction fails.
    assert.equal((await rowCountCheck({ kind: 'appended', rows: 31, atMost: 500, since: 'parent' }, '3', lake({ '1': 100, '2': 130, '3': 130 }, { '3': 'replace' }))).passed, false);
  });

  test('appended since the snapshot, when the load committed nothing: the table gained nothing after it', async () => {
    const check: RowCountCheck = { kind: 'appended', rows: 0, atMost: 500, since: 'snapshot' };
    assert.deepEqual(await rowCountCheck(check, '3', lake()), { name: 'rows added after snapshot 3', expected: '0', actual: '0', passed: true });
    assert.deepEqual(await rowCountCheck(check, '2', lake()), { name: 'rows added after snapshot 2', expected: '0', actual: '30', passed: false });
  });

  test('changed since the parent (a DynamoDB merge): the lake moved by exactly inserted - deleted', async () => {
    const check: RowCountCheck = { kind: 'changed', inserted: 40, deleted: 10, atMost: 60, since: 'parent' };
    assert.deepEqual(await rowCountCheck(check, '3', lake()), { name: 'rows snapshot 3 added less rows it deleted, from snapshot 2', expected: '30', actual: '30', passed: true });
    assert.equal((await rowCountCheck({ ...check, deleted: 9 }, '3', lake())).passed, false, 'the load reports a net 31, the lake moved 30');
    const lost = await rowCountCheck({ ...check, inserted: 30, deleted: 0 }, '3', lake({ '1': 100, '2': 100, '3': 100 }));
    assert.deepEqual({ expected: lost.expected, actual: lost.actual, passed: lost.passed }, { expected: '30', actual: '0', passed: false });
  });

  test('changed: more keys inserted or deleted than the change records fail, even when the count agrees', async () => {
    const check: RowCountCheck = { kind: 'changed', inserted: 40, deleted: 10, atMost: 49, since: 'parent' };
    assert.deepEqual(await rowCountCheck(check, '3', lake()), { name: 'rows snapshot 3 added less rows it deleted, from snapshot 2', expected: "30, but at most 49 keys inserted or deleted (the exports' change records)", actual: '30', passed: false });
  });

  test('changed since the snapshot, when the load committed nothing: the table did not move after it', async () => {
    const check: RowCountCheck = { kind: 'changed', inserted: 0, deleted: 0, atMost: 5, since: 'snapshot' };
    assert.equal((await rowCountCheck(check, '3', lake())).passed, true);
    assert.deepEqual(await rowCountCheck(check, '2', lake()), { name: 'rows changed after snapshot 2', expected: '0', actual: '30', passed: false });
  });

  test('more rows than the export holds fail, even when the lake agrees with the load', async () => {
    const check: RowCountCheck = { kind: 'appended', rows: 30, atMost: 20, since: 'parent' };
    assert.deepEqual(await rowCountCheck(check, '3', lake()), { name: 'rows snapshot 3 added to snapshot 2', expected: "30, but at most 20 (the export's rows)", actual: '30', passed: false });
  });
});

describe('the Parquet footer reader', () => {
  async function parquetBytes(rows: number): Promise<Buffer> {
    const dir = mkdtempSync(join(tmpdir(), 'lakesync-footer-'));
    try {
      const file = join(dir, 'p.parquet');
      const writer = await parquet.ParquetWriter.openFile(new parquet.ParquetSchema({ id: { type: 'INT64' } }), file, { rowGroupSize: 10 });
      for (let i = 0; i < rows; i++) await writer.appendRow({ id: i });
      await writer.close();
      return readFileSync(file);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  test('reads num_rows from the footer, through one tail read', async () => {
    const bytes = await parquetBytes(37);
    const reads: [number, number][] = [];
    const read = async (offset: number, length: number) => (reads.push([offset, length]), bytes.subarray(offset, offset + length));
    assert.equal(await footerRowCount(withTail(read, bytes.length), bytes.length, 'p.parquet'), 37);
    assert.deepEqual(reads, [[0, bytes.length]], 'a small file is read once, from its tail');
  });

  test('a footer beyond the tail is read where it is', async () => {
    const bytes = await parquetBytes(37);
    const reads: [number, number][] = [];
    const read = async (offset: number, length: number) => (reads.push([offset, length]), bytes.subarray(offset, offset + length));
    assert.equal(await footerRowCount(withTail(read, bytes.length, 8), bytes.length, 'p.parquet'), 37);
    assert.equal(reads.length, 2);
    assert.deepEqual(reads[0], [bytes.length - 8, 8], 'the trailer: footer length and magic');
  });

  test('a file that is not Parquet, or too small, names the file and the fix', async () => {
    const junk = Buffer.from('this is not a parquet file, just text');
    const read = async (o: number, l: number) => junk.subarray(o, o + l);
    await assert.rejects(footerRowCount(read, junk.length, 's3://b/e/part-1.parquet'), (err: PortError) => {
      assert.equal(err.code, 'UnreadableExportPart');
      assert.equal(err.retryable, false);
      assert.equal(err.message, 'export part file s3://b/e/part-1.parquet is not a readable Parquet file (not a valid parquet file): the export is damaged or was changed after it completed; run a new sync to export the snapshot again');
      return true;
    });
    await assert.rejects(footerRowCount(read, 4, 'tiny.parquet'), /tiny\.parquet is not a readable Parquet file \(4 bytes, too small for a Parquet footer\)/);
  });

  test('a read failure of the backend passes through unchanged (it may be retryable)', async () => {
    const throttled = new PortError('throttled', 'SlowDown', 'S3 GetObject throttled');
    await assert.rejects(footerRowCount(async () => Promise.reject(throttled), 100, 'p.parquet'), (err) => err === throttled);
  });

  test('parts as the load job counts them', () => {
    assert.ok(isDataFile('e/shop/public.t/1/part-00000-a.gz.parquet'));
    assert.ok(isDataFile('e/shop/public.t/part-00003-b.parquet'));
    for (const name of ['e/shop/public.t/1/_SUCCESS', 'e/shop/public.t/1/.part-1.parquet.crc', 'e/shop/public.t/1/_common_metadata.parquet', 'e/shop/public.t/1/.hidden.parquet', 'e/x.json']) {
      assert.ok(!isDataFile(name), name);
    }
  });

  test('sums concurrent counts exactly, whatever order they finish in', async () => {
    const files = Array.from({ length: 40 }, (_, i) => i + 1);
    const total = await sumRows(files, async (n) => (await delay((n * 7) % 13), n), 8);
    assert.equal(total, (40 * 41) / 2);
    assert.equal(await sumRows([], async () => 1), 0);
  });
});

test("a table's part files are those the load job reads: in its folder or a batch folder, no marker, hidden file or deeper file", () => {
  // The same cases glue/tests/test_export.py holds the load job's rule to.
  const cases = JSON.parse(readFileSync(join(repoRoot(), 'test', 'fixtures', 'export-part-paths.json'), 'utf8')) as { parts: string[]; notParts: string[] };
  for (const path of cases.parts) assert.equal(isTablePart(path), true, path);
  for (const path of cases.notParts) assert.equal(isTablePart(path), false, path);
});
