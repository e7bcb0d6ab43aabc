/**
 * A DynamoDB table as the plan sees it, from DescribeTable: its key (partition key first) and the
 * DiscoveredTable both backends' catalogs hand the cycle. Pure; shared by the AWS and embedded catalogs.
 */
import type { TableDescription } from '@aws-sdk/client-dynamodb';
import { PortError } from '../errors';
import type { ColumnMapping, DiscoveredTable, DynamoKeyAttribute, DynamoTableInfo, TableName } from '../model';

/** The lake type of a key attribute no `attributes` entry declares. */
const KEY_LAKE_TYPE: Record<DynamoKeyAttribute['type'], string> = { S: 'string', N: 'decimal(38,0)', B: 'binary' };

/** The key of a described table, partition key first, each with its scalar type. */
export function keyOf(table: TableDescription, name: string): DynamoKeyAttribute[] {
  const types = new Map((table.AttributeDefinitions ?? []).map((a) => [a.AttributeName, a.AttributeType]));
  const schema = [...(table.KeySchema ?? [])].sort((a, b) => (a.KeyType === 'HASH' ? 0 : 1) - (b.KeyType === 'HASH' ? 0 : 1));
  return schema.map((k) => {
    const type = types.get(k.AttributeName);
    if (!k.AttributeName || (type !== 'S' && type !== 'N' && type !== 'B')) {
      throw new PortError('failed', 'KeySchemaUnreadable', `DynamoDB DescribeTable of table ${name} gives key attribute ${k.AttributeName ?? '(unnamed)'} the type ${type ?? '(none)'}; keys are S, N or B`);
    }
    return { name: k.AttributeName, type };
  });
}

/**
 * The named tables as `describe` describes them; tables it lacks are left out. A refusal of one
 * table that a retry does not mend (a permission on that table, a table deleted between two
 * calls, an ARN of another account) is that table's alone: it is listed undescribed, with the
 * refusal, and the plan fails it; the other tables go on. A retryable one retries the whole step.
 */
export async function describeEach(
  tables: { table: TableName; name: string }[],
  database: string,
  describe: (name: string) => Promise<DynamoTableInfo | undefined>,
): Promise<DiscoveredTable[]> {
  const found: DiscoveredTable[] = [];
  for (const { table, name } of tables) {
    try {
      const info = await describe(name);
      if (info) found.push(discoveredDynamoTable(table, database, info));
    } catch (err) {
      if (!(err instanceof PortError) || err.retryable) throw err;
      found.push({ table, target: `${database}.${table}`, columns: [], notDescribed: { type: err.code, message: err.message } });
    }
  }
  return found;
}

/** The table as discovery lists it: its key attributes as columns and primary key, with its DynamoDB facts. */
export function discoveredDynamoTable(table: TableName, database: string, info: DynamoTableInfo): DiscoveredTable {
  return { table, target: `${database}.${table}`, columns: info.key.map(keyColumn), primaryKey: info.key.map((k) => k.name), dynamodb: info };
}

function keyColumn(key: DynamoKeyAttribute): ColumnMapping {
  return { columnName: key.name, originalType: key.type, expectedExportedType: KEY_LAKE_TYPE[key.type] };
}
