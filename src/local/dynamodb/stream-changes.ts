/**
 * The changes of one table in a window [from, to), read from its DynamoDB stream: every shard from
 * TRIM_HORIZON, GetRecords page after page until the shard is caught up (an empty page, a closed
 * shard, or a record at or after `to`), keeping the records whose ApproximateCreationDateTime lies
 * in the window, collapsed to one change per key as an incremental export holds it: the image before
 * the window's first change (OldImage) and after its last (NewImage; none when the last change
 * deleted the item).
 */
import { DescribeContinuousBackupsCommand, DescribeTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  type _Record,
  DescribeStreamCommand,
  type DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type Shard,
} from '@aws-sdk/client-dynamodb-streams';
import { PortError } from '../../errors';
import { itemToDynamoJson, type SdkAttributeValue } from './export-files';

type Image = Record<string, SdkAttributeValue>;

/** One key's collapsed change in the window. */
export interface KeyChange {
  keys: Image;
  /** The item before the window's first change; absent when that change created it. */
  oldImage?: Image;
  /** The item after the window's last change; absent when that change deleted it. */
  newImage?: Image;
  /** When the last change was written (milliseconds since the epoch). */
  lastWriteMs: number;
  lastSequence: bigint;
  firstWriteMs: number;
  firstSequence: bigint;
}

/** Records per GetRecords call (the API's maximum is 1000). */
const PAGE = 1000;

export interface StreamReadOptions {
  /** Records per GetRecords call (default 1000; tests make pages small). */
  pageSize?: number;
}

/** The table's stream ARN, or a clear error when it has no stream with both images. */
export async function streamArnOf(ddb: DynamoDBClient, tableName: string): Promise<string> {
  const table = (await ddb.send(new DescribeTableCommand({ TableName: tableName }))).Table;
  const spec = table?.StreamSpecification;
  if (!spec?.StreamEnabled || spec.StreamViewType !== 'NEW_AND_OLD_IMAGES' || !table?.LatestStreamArn) {
    const now = spec?.StreamEnabled ? `a stream of view type ${spec.StreamViewType ?? '(unknown)'}` : 'no stream';
    throw new PortError(
      'validation',
      'StreamNotEnabled',
      `table ${tableName} has ${now}: the embedded mode reads a table's incremental changes from its DynamoDB stream with NEW_AND_OLD_IMAGES. ` +
        `Enable it (aws dynamodb update-table --table-name ${tableName} --stream-specification StreamEnabled=true,StreamViewType=NEW_AND_OLD_IMAGES --endpoint-url <source.endpoint>), ` +
        'then run `lakesync rerun --rebuild` for the table: changes made before the stream existed are in no stream',
    );
  }
  return table.LatestStreamArn;
}

/** Every change record of the window, collapsed per key, in key order of their last write. */
export async function readWindowChanges(
  clients: { dynamodb: DynamoDBClient; streams: DynamoDBStreamsClient },
  tableName: string,
  window: { fromMs: number; toMs: number },
  options: StreamReadOptions = {},
): Promise<KeyChange[]> {
  const streamArn = await streamArnOf(clients.dynamodb, tableName);
  const { shards, createdMs } = await shardsOf(clients.streams, streamArn);
  await checkReachesBack(clients.dynamodb, tableName, window.fromMs, createdMs);
  const byKey = new Map<string, KeyChange>();
  for (const shard of shards) {
    for await (const record of shardRecords(clients.streams, streamArn, shard, window.toMs, options.pageSize ?? PAGE)) {
      const at = record.dynamodb?.ApproximateCreationDateTime?.getTime();
      if (at === undefined || Number.isNaN(at)) {
        throw new PortError('failed', 'StreamRecordUnreadable', `a stream record of table ${tableName} (sequence ${record.dynamodb?.SequenceNumber ?? '?'}) has no ApproximateCreationDateTime: its window cannot be told`);
      }
      if (at < window.fromMs || at >= window.toMs) continue;
      collapse(byKey, record, at);
    }
  }
  return [...byKey.values()].sort((a, b) => a.lastWriteMs - b.lastWriteMs || (a.lastSequence < b.lastSequence ? -1 : a.lastSequence > b.lastSequence ? 1 : 0));
}

/** The incremental export's line for one key: Metadata.WriteTimestampMicros, Keys, OldImage, NewImage. */
export function changeLine(change: KeyChange): Record<string, unknown> {
  return {
    Metadata: { WriteTimestampMicros: { N: String(change.lastWriteMs * 1000) } },
    Keys: itemToDynamoJson(change.keys),
    ...(change.oldImage ? { OldImage: itemToDynamoJson(change.oldImage) } : {}),
    ...(change.newImage ? { NewImage: itemToDynamoJson(change.newImage) } : {}),
  };
}

function collapse(byKey: Map<string, KeyChange>, record: _Record, at: number): void {
  const data = record.dynamodb!;
  const keys = (data.Keys ?? {}) as Image;
  const id = keyId(keys);
  const sequence = BigInt(data.SequenceNumber ?? '0');
  // moto writes `{}` for the image a change lacks: the event name says which one exists.
  const oldImage = record.eventName === 'INSERT' ? undefined : (data.OldImage as Image | undefined);
  const newImage = record.eventName === 'REMOVE' ? undefined : (data.NewImage as Image | undefined);
  const seen = byKey.get(id);
  if (!seen) {
    byKey.set(id, { keys, ...(oldImage ? { oldImage } : {}), ...(newImage ? { newImage } : {}), lastWriteMs: at, lastSequence: sequence, firstWriteMs: at, firstSequence: sequence });
    return;
  }
  if (before(seen.lastWriteMs, seen.lastSequence, at, sequence)) {
    if (newImage) seen.newImage = newImage;
    else delete seen.newImage;
    seen.lastWriteMs = at;
    seen.lastSequence = sequence;
  }
  // Shards are read one after the other: a record older than the first one seen holds the window's start.
  if (before(at, sequence, seen.firstWriteMs, seen.firstSequence)) {
    if (oldImage) seen.oldImage = oldImage;
    else delete seen.oldImage;
    seen.firstWriteMs = at;
    seen.firstSequence = sequence;
  }
}

function before(atA: number, seqA: bigint, atB: number, seqB: bigint): boolean {
  return atA < atB || (atA === atB && seqA < seqB);
}

/** A key's identity: its attributes in name order, as DynamoDB JSON. */
function keyId(keys: Image): string {
  return JSON.stringify(Object.keys(keys).sort().map((name) => [name, itemToDynamoJson({ [name]: keys[name]! })[name]]));
}

/**
 * The window's changes must all be in the stream: a window that starts before the stream was
 * created (it was replaced since the plan read it), or before point-in-time recovery's earliest
 * restorable time (as the plan reads the window), would silently miss the changes before. The
 * export fails instead: the table keeps its watermark and the next plan sees the window and takes
 * a FULL export.
 */
async function checkReachesBack(ddb: DynamoDBClient, tableName: string, fromMs: number, streamCreatedMs: number | undefined): Promise<void> {
  const pitr = (await ddb.send(new DescribeContinuousBackupsCommand({ TableName: tableName }))).ContinuousBackupsDescription?.PointInTimeRecoveryDescription;
  if (pitr?.PointInTimeRecoveryStatus !== 'ENABLED') {
    throw new PortError(
      'validation',
      'PointInTimeRecoveryUnavailableException',
      `point-in-time recovery is off for table ${tableName}: aws dynamodb update-continuous-backups --table-name ${tableName} --point-in-time-recovery-specification PointInTimeRecoveryEnabled=true --endpoint-url <source.endpoint>; the next cycle plans a FULL export`,
    );
  }
  const reaches = [pitr.EarliestRestorableDateTime?.getTime(), streamCreatedMs].filter((t): t is number => t !== undefined && !Number.isNaN(t));
  const earliestMs = reaches.length > 0 ? Math.max(...reaches) : undefined;
  if (earliestMs !== undefined && fromMs < earliestMs) {
    throw new PortError(
      'validation',
      'InvalidExportTimeException',
      `the window of table ${tableName} starts at ${new Date(fromMs).toISOString()}, but its stream and point-in-time recovery reach back to ${new Date(earliestMs).toISOString()} only: the changes before are in no stream (was the stream replaced?); the table keeps its watermark and the next cycle plans a FULL export`,
    );
  }
}

async function shardsOf(streams: DynamoDBStreamsClient, streamArn: string): Promise<{ shards: Shard[]; createdMs?: number }> {
  const shards: Shard[] = [];
  let createdMs: number | undefined;
  let start: string | undefined;
  do {
    const out = await streams.send(new DescribeStreamCommand({ StreamArn: streamArn, ...(start ? { ExclusiveStartShardId: start } : {}) }));
    createdMs ??= out.StreamDescription?.CreationRequestDateTime?.getTime();
    shards.push(...(out.StreamDescription?.Shards ?? []));
    start = out.StreamDescription?.LastEvaluatedShardId;
  } while (start);
  return { shards, ...(createdMs !== undefined ? { createdMs } : {}) };
}

async function* shardRecords(streams: DynamoDBStreamsClient, streamArn: string, shard: Shard, toMs: number, pageSize: number): AsyncGenerator<_Record> {
  if (!shard.ShardId) return;
  let iterator = (await streams.send(new GetShardIteratorCommand({ StreamArn: streamArn, ShardId: shard.ShardId, ShardIteratorType: 'TRIM_HORIZON' }))).ShardIterator;
  while (iterator) {
    const page = await streams.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: pageSize }));
    const records = page.Records ?? [];
    if (records.length === 0) return;
    for (const record of records) {
      yield record;
      // Records of a shard come in write order: once one is at or after `to`, the rest are too.
      if ((record.dynamodb?.ApproximateCreationDateTime?.getTime() ?? 0) >= toMs) return;
    }
    iterator = page.NextShardIterator;
  }
}
