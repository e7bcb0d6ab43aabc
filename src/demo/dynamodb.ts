/**
 * The demo's DynamoDB table (on the embedded DynamoDB, moto server): its creation with a stream
 * and point-in-time recovery, the seed items, the changes between cycles and a full scan for the
 * lake = source check. Deterministic, so the demo and the tests drive the same story.
 */
import {
  type AttributeValue,
  CreateTableCommand,
  DeleteItemCommand,
  DynamoDBClient,
  PutItemCommand,
  ScanCommand,
  UpdateContinuousBackupsCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';

export const DEMO_DYNAMO_TABLE = 'Orders';

/** A client of the embedded DynamoDB: any credentials do. */
export function embeddedDynamoClient(endpoint: string, region: string): DynamoDBClient {
  return new DynamoDBClient({ endpoint, region, credentials: { accessKeyId: 'lakesync', secretAccessKey: 'lakesync' } });
}

/** Creates a table with a NEW_AND_OLD_IMAGES stream (the embedded exporter reads changes from it) and PITR on. */
export async function createDynamoTable(client: DynamoDBClient, name: string, key: { name: string; type: 'S' | 'N' | 'B'; role: 'HASH' | 'RANGE' }[]): Promise<void> {
  await client.send(
    new CreateTableCommand({
      TableName: name,
      KeySchema: key.map((k) => ({ AttributeName: k.name, KeyType: k.role })),
      AttributeDefinitions: key.map((k) => ({ AttributeName: k.name, AttributeType: k.type })),
      BillingMode: 'PAY_PER_REQUEST',
      StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' },
    }),
  );
  await client.send(new UpdateContinuousBackupsCommand({ TableName: name, PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true } }));
}

/** Every item of a table, from a paginated scan. */
export async function scanAll(client: DynamoDBClient, table: string): Promise<Record<string, AttributeValue>[]> {
  const items: Record<string, AttributeValue>[] = [];
  let start: Record<string, AttributeValue> | undefined;
  do {
    const page = await client.send(new ScanCommand({ TableName: table, ...(start ? { ExclusiveStartKey: start } : {}) }));
    items.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start);
  return items;
}

const STATUSES = ['new', 'paid', 'shipped', 'delivered'];

/** One demo order: declared attributes (total, status, paid), others kept as DynamoDB JSON, and an email the config excludes. */
function order(i: number): Record<string, AttributeValue> {
  return {
    orderId: { S: `o-${String(i).padStart(4, '0')}` },
    total: { N: ((i * 7.25) % 500).toFixed(2) },
    status: { S: STATUSES[i % STATUSES.length]! },
    paid: { BOOL: i % 3 !== 0 },
    customer: { M: { name: { S: `Customer ${i % 17}` }, tier: { S: i % 5 === 0 ? 'gold' : 'silver' } } },
    tags: { SS: i % 2 === 0 ? ['web', 'promo'] : ['store'] },
    lines: { L: [{ M: { sku: { S: `SKU-${(i % 9) + 1}` }, qty: { N: String((i % 4) + 1) } } }] },
    ...(i % 4 === 0 ? { note: { NULL: true } } : {}),
    ...(i % 6 === 0 ? { receipt: { B: Buffer.from(`receipt ${i}`) } } : {}),
    email: { S: `customer${i % 17}@example.com` },
  };
}

export async function seedOrders(client: DynamoDBClient, count = 40): Promise<void> {
  for (let i = 1; i <= count; i++) await client.send(new PutItemCommand({ TableName: DEMO_DYNAMO_TABLE, Item: order(i) }));
}

export const DYNAMO_CHANGES = {
  description: 'Orders: 5 new orders (with a new attribute giftWrap), 4 updated (status shipped, a new priority attribute), 3 deleted',
  async apply(client: DynamoDBClient): Promise<void> {
    for (let i = 41; i <= 45; i++) await client.send(new PutItemCommand({ TableName: DEMO_DYNAMO_TABLE, Item: { ...order(i), giftWrap: { BOOL: true } } }));
    for (const i of [2, 7, 12, 22]) {
      await client.send(
        new UpdateItemCommand({
          TableName: DEMO_DYNAMO_TABLE,
          Key: { orderId: { S: `o-${String(i).padStart(4, '0')}` } },
          UpdateExpression: 'SET #s = :s, priority = :p, #t = :t',
          ExpressionAttributeNames: { '#s': 'status', '#t': 'total' },
          ExpressionAttributeValues: { ':s': { S: 'shipped' }, ':p': { N: String(i) }, ':t': { N: '99.90' } },
        }),
      );
    }
    for (const i of [3, 9, 27]) await client.send(new DeleteItemCommand({ TableName: DEMO_DYNAMO_TABLE, Key: { orderId: { S: `o-${String(i).padStart(4, '0')}` } } }));
  },
};
