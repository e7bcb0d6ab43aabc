/**
 * The tables of an embedded DynamoDB source, read without a side effect: ListTables for the names
 * (`dynamodb.<Name>`), DescribeTable for ARN, key and item count, DescribeContinuousBackups for
 * point-in-time recovery. The embedded incremental exports read the table's stream, so the oldest
 * time they can start from is also bounded by when the stream was enabled: earlier, the plan
 * takes a FULL export instead.
 */
import {
  DescribeContinuousBackupsCommand,
  DescribeTableCommand,
  type DynamoDBClient,
  ListTablesCommand,
  ResourceNotFoundException,
  type TableDescription,
} from '@aws-sdk/client-dynamodb';
import { DescribeStreamCommand, type DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { dynamoNameOf, dynamoTableKey, dynamoTableNameOf, dynamoTableNameProblem } from '../../dynamodb/names';
import { describeEach, keyOf } from '../../dynamodb/table-shape';
import { PortError } from '../../errors';
import type { DiscoveredTable, DynamoTableInfo, TableName } from '../../model';


export interface LocalDynamoCatalogOptions {
  endpoint: string;
  /** The source's database label, for DiscoveredTable.target. */
  database: string;
  /** Names or table ARNs; absent: every table ListTables returns. */
  tables?: readonly string[];
  warn?: (message: string) => void;
}

export class LocalDynamoCatalog {
  constructor(
    private readonly ddb: DynamoDBClient,
    private readonly streams: DynamoDBStreamsClient,
    private readonly options: LocalDynamoCatalogOptions,
  ) {}

  /** `dynamodb.<Name>` of the configured tables, else of every table; names lakesync cannot sync (".") are left out with a warning. */
  async listTables(): Promise<TableName[]> {
    const names = this.options.tables ? this.options.tables.map(dynamoTableNameOf) : await this.allTableNames();
    return names
      .filter((name) => {
        const problem = dynamoTableNameProblem(name);
        if (problem) (this.options.warn ?? console.warn)(`${problem}; it is left out`);
        return !problem;
      })
      .map(dynamoTableKey);
  }

  /** The named tables as the embedded DynamoDB describes them now; tables it lacks are left out. */
  async sourceTables(tables: TableName[]): Promise<DiscoveredTable[]> {
    const named = tables.map((table) => ({ table, name: dynamoNameOf(table) }));
    return describeEach(named, this.options.database, (name) => this.describeTable(name));
  }

  /** ARN, key, item count and point-in-time recovery of one table; undefined when it does not exist. */
  async describeTable(name: string): Promise<DynamoTableInfo | undefined> {
    let table: TableDescription | undefined;
    try {
      table = (await this.ddb.send(new DescribeTableCommand({ TableName: name }))).Table;
    } catch (err) {
      if (err instanceof ResourceNotFoundException) return undefined;
      throw this.failure(err, 'DescribeTable', `table ${name}`);
    }
    if (!table?.TableArn) return undefined;
    const pitr = await this.pointInTimeRecovery(name, table);
    return { tableArn: table.TableArn, key: keyOf(table, name), pitr, ...(table.ItemCount !== undefined ? { itemCount: table.ItemCount } : {}) };
  }

  private async pointInTimeRecovery(name: string, table: TableDescription): Promise<DynamoTableInfo['pitr']> {
    const out = await this.ddb.send(new DescribeContinuousBackupsCommand({ TableName: name })).catch((err) => {
      throw this.failure(err, 'DescribeContinuousBackups', `table ${name}`);
    });
    const description = out.ContinuousBackupsDescription?.PointInTimeRecoveryDescription;
    const enabled = description?.PointInTimeRecoveryStatus === 'ENABLED';
    if (!enabled) return { enabled };
    const times = [description?.EarliestRestorableDateTime?.getTime(), await this.streamSince(table)].filter((t): t is number => t !== undefined);
    return times.length > 0 ? { enabled, earliestRestorable: new Date(Math.max(...times)).toISOString() } : { enabled };
  }

  /** When the table's stream was enabled (the oldest change it holds), when it has one. */
  private async streamSince(table: TableDescription): Promise<number | undefined> {
    if (!table.StreamSpecification?.StreamEnabled || !table.LatestStreamArn) return undefined;
    const out = await this.streams.send(new DescribeStreamCommand({ StreamArn: table.LatestStreamArn })).catch((err) => {
      throw this.failure(err, 'DescribeStream', `the stream of table ${table.TableName}`);
    });
    return out.StreamDescription?.CreationRequestDateTime?.getTime();
  }

  private async allTableNames(): Promise<string[]> {
    const names: string[] = [];
    let start: string | undefined;
    do {
      const page = await this.ddb.send(new ListTablesCommand(start ? { ExclusiveStartTableName: start } : {})).catch((err) => {
        throw this.failure(err, 'ListTables', 'the tables of the source');
      });
      names.push(...(page.TableNames ?? []));
      start = page.LastEvaluatedTableName;
    } while (start);
    return names;
  }

  private failure(err: unknown, operation: string, subject: string): PortError {
    const code = (err as { name?: string }).name ?? 'Error';
    const connection = /ECONNREFUSED|ENOTFOUND|socket hang up|ECONNRESET/.test(String((err as Error).message ?? err)) || code === 'TimeoutError';
    return new PortError(
      connection ? 'transient' : 'failed',
      code,
      `${operation} of ${subject} at the embedded DynamoDB ${this.options.endpoint} failed: ${(err as Error).message ?? String(err)}${connection ? ' (is the embedded DynamoDB running? `lakesync dev` or the demo starts it)' : ''}`,
      { cause: err },
    );
  }
}


