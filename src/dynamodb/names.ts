/**
 * DynamoDB table names in lakesync: a table is `dynamodb.<TableName>` (the fixed schema
 * `dynamodb`), so lake names and `schema.table` keys work as for PostgreSQL. DynamoDB allows
 * 3-255 characters of a-z, A-Z, 0-9, "_", "-" and "." ("Supported data types and naming rules in
 * Amazon DynamoDB"); "." is refused here, since a `schema.table` key cannot hold it. Pure.
 */
import { PortError } from '../errors';
import type { TableName } from '../model';

/** The schema every DynamoDB table is listed under. */
export const DYNAMODB_SCHEMA = 'dynamodb';

/** DynamoDB's own rule for table names. */
const DYNAMODB_TABLE_NAME = /^[a-zA-Z0-9_.-]{3,255}$/;

/** A DynamoDB table ARN: arn:<partition>:dynamodb:<region>:<account>:table/<name>. */
export const DYNAMODB_TABLE_ARN = /^arn:aws[a-z-]*:dynamodb:[a-z0-9-]+:\d{12}:table\/([^/]+)$/;

/** Why `name` cannot be synced as a DynamoDB table, or undefined when it can. */
export function dynamoTableNameProblem(name: string): string | undefined {
  if (!DYNAMODB_TABLE_NAME.test(name)) {
    return `"${name}" is not a DynamoDB table name: DynamoDB names are 3-255 letters, digits, "_", "-" or "."`;
  }
  if (name.includes('.')) {
    return `DynamoDB table "${name}" has a "." in its name, which lakesync cannot sync: its tables are keyed dynamodb.<TableName> and lake names cannot hold "."; rename the table (DynamoDB cannot rename: copy it to a name without ".") or exclude it`;
  }
  return undefined;
}

/** The table's name from a name or a table ARN as `source.tables` lists it. */
export function dynamoTableNameOf(nameOrArn: string): string {
  const arn = DYNAMODB_TABLE_ARN.exec(nameOrArn);
  return arn ? arn[1]! : nameOrArn;
}

/** `dynamodb.<TableName>`, the table as the plan, the ledger and lakesync.yaml name it. */
export function dynamoTableKey(name: string): TableName {
  return `${DYNAMODB_SCHEMA}.${name}`;
}

/** The DynamoDB table name of a `dynamodb.<TableName>` key; undefined for any other key. */
export function dynamoNameOfKey(table: TableName): string | undefined {
  const prefix = `${DYNAMODB_SCHEMA}.`;
  return table.startsWith(prefix) ? table.slice(prefix.length) : undefined;
}

/** `dynamodb.<Name>` -> `<Name>`; any other name is refused, as not a table of a dynamodb source. */
export function dynamoNameOf(table: TableName): string {
  const name = dynamoNameOfKey(table);
  if (!name) {
    throw new PortError('validation', 'InvalidTableName', `"${table}" is not a DynamoDB table: tables of a dynamodb source are named ${DYNAMODB_SCHEMA}.<TableName>`);
  }
  return name;
}
