/**
 * What a DynamoDB source's tables are, read without a side effect: ListTables for the names,
 * DescribeTable for the ARN, key and item count, DescribeContinuousBackups for point-in-time
 * recovery (exports need it on).
 */
import {
  DescribeContinuousBackupsCommand,
  DescribeTableCommand,
  type DynamoDBClient,
  ListTablesCommand,
  type TableDescription,
} from '@aws-sdk/client-dynamodb';
import { PortError } from '../errors';
import type { DiscoveredTable, DynamoTableInfo, TableName } from '../model';
import { DYNAMODB_TABLE_ARN, dynamoNameOf, dynamoTableKey, dynamoTableNameOf, dynamoTableNameProblem } from '../dynamodb/names';
import { describeEach, keyOf } from '../dynamodb/table-shape';
import { awsCall, hasAwsCode, toPortError } from './errors';


export interface DynamoCatalogOptions {
  /** The source database label (`database` in lakesync.yaml), for DiscoveredTable.target. */
  database: string;
  /** `source.tables`: names or table ARNs; every table ListTables returns when absent. */
  tables?: readonly string[];
  /** Where tables lakesync cannot name are reported (default console.warn). */
  warn?: (message: string) => void;
}

export class DynamoCatalog {
  constructor(
    private readonly ddb: DynamoDBClient,
    private readonly options: DynamoCatalogOptions,
  ) {}

  /** `dynamodb.<Name>` of the configured tables, else of every table ListTables returns. */
  async listTables(): Promise<TableName[]> {
    const names = this.options.tables ? this.options.tables.map(dynamoTableNameOf) : await this.allTableNames();
    const usable = names.filter((name) => {
      const problem = dynamoTableNameProblem(name);
      if (problem) (this.options.warn ?? console.warn)(`${problem} (table left out)`);
      return problem === undefined;
    });
    return usable.map(dynamoTableKey);
  }

  /** The named tables (`dynamodb.<Name>`) as DynamoDB describes them now; tables it lacks are left out. */
  async sourceTables(tables: TableName[]): Promise<DiscoveredTable[]> {
    const named = tables.map((table) => ({ table, name: dynamoNameOf(table) }));
    return describeEach(named, this.options.database, async (name) => {
      const info = await this.describeTable(name);
      if (info) this.refuseOtherArn(name, info.tableArn);
      return info;
    });
  }

  /**
   * A table `source.tables` names by an ARN other than the one DynamoDB describes (another account
   * or region): tables are described by name with the worker's credentials, so it would read
   * another table than the one configured.
   */
  private refuseOtherArn(name: string, described: string): void {
    const configured = this.options.tables?.find((t) => DYNAMODB_TABLE_ARN.test(t) && dynamoTableNameOf(t) === name);
    if (configured === undefined || configured === described) return;
    throw new PortError(
      'validation',
      'TableArnMismatch',
      `source.tables names ${configured}, but DynamoDB describes table ${name} as ${described}: lakesync reads the tables of the account its credentials belong to: list the table by name or by its own ARN, or run lakesync with credentials of the account that owns ${configured}`,
    );
  }

  /** ARN, key, item count and point-in-time recovery of one table; undefined when it does not exist. */
  async describeTable(name: string): Promise<DynamoTableInfo | undefined> {
    let table: TableDescription | undefined;
    try {
      table = (await this.ddb.send(new DescribeTableCommand({ TableName: name }))).Table;
    } catch (err) {
      if (hasAwsCode(err, 'ResourceNotFoundException')) return undefined;
      throw toPortError(err, { service: 'DynamoDB', operation: 'DescribeTable', subject: `table ${name}` });
    }
    if (!table?.TableArn) return undefined;
    const pitr = await this.pointInTimeRecovery(name);
    return {
      tableArn: table.TableArn,
      key: keyOf(table, name),
      pitr,
      ...(table.ItemCount !== undefined ? { itemCount: table.ItemCount } : {}),
    };
  }

  /** Whether point-in-time recovery is on and the oldest time an export may start from. */
  async pointInTimeRecovery(name: string): Promise<DynamoTableInfo['pitr']> {
    const out = await awsCall({ service: 'DynamoDB', operation: 'DescribeContinuousBackups', subject: `table ${name}` }, () =>
      this.ddb.send(new DescribeContinuousBackupsCommand({ TableName: name })),
    );
    const description = out.ContinuousBackupsDescription?.PointInTimeRecoveryDescription;
    const enabled = description?.PointInTimeRecoveryStatus === 'ENABLED';
    const earliest = description?.EarliestRestorableDateTime;
    const period = description?.RecoveryPeriodInDays;
    return { enabled, ...(enabled && earliest ? { earliestRestorable: earliest.toISOString() } : {}), ...(enabled && period !== undefined ? { recoveryPeriodDays: period } : {}) };
  }

  private async allTableNames(): Promise<string[]> {
    const names: string[] = [];
    let start: string | undefined;
    do {
      const page = await awsCall({ service: 'DynamoDB', operation: 'ListTables', subject: 'the tables of the source' }, () =>
        this.ddb.send(new ListTablesCommand({ ...(start ? { ExclusiveStartTableName: start } : {}) })),
      );
      names.push(...(page.TableNames ?? []));
      start = page.LastEvaluatedTableName;
    } while (start);
    return names;
  }
}
