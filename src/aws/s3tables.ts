/**
 * S3 Tables: the table bucket (created only when the config asks) and the namespace the lake
 * tables live in. Both calls are idempotent: what exists already is left as it is.
 */
import { CreateNamespaceCommand, CreateTableBucketCommand, GetNamespaceCommand, ListTablesCommand, type S3TablesClient } from '@aws-sdk/client-s3tables';
import { PortError } from '../errors';
import type { LakePort } from '../ports';
import { hasAwsCode, toPortError } from './errors';
import type { AwsSettings } from './settings';

export class S3TablesLake implements Omit<LakePort, 'query'> {
  private bucketReady: Promise<void> | undefined;

  constructor(
    private readonly s3tables: S3TablesClient,
    private readonly settings: Pick<AwsSettings, 'tableBucket'>,
  ) {}

  async ensureNamespace(namespace: string): Promise<void> {
    if (this.settings.tableBucket.create) await this.ensureBucket();
    const { arn, name } = this.settings.tableBucket;
    const subject = `namespace ${namespace} in table bucket ${name}`;
    try {
      await this.s3tables.send(new GetNamespaceCommand({ tableBucketARN: arn, namespace }));
      return;
    } catch (err) {
      if (!hasAwsCode(err, 'NotFoundException')) throw toPortError(err, { service: 'S3Tables', operation: 'GetNamespace', subject });
    }
    try {
      await this.s3tables.send(new CreateNamespaceCommand({ tableBucketARN: arn, namespace: [namespace] }));
    } catch (err) {
      if (hasAwsCode(err, 'ConflictException')) return; // created by another worker meanwhile
      if (hasAwsCode(err, 'NotFoundException')) {
        throw new PortError('not-found', 'TableBucketNotFound', `S3Tables CreateNamespace for ${subject} failed with NotFoundException: table bucket ${arn} does not exist; create it or set tableBucket.create: true`, { cause: err });
      }
      throw toPortError(err, { service: 'S3Tables', operation: 'CreateNamespace', subject });
    }
  }

  /** Lists by name prefix rather than GetTable, whose newer query-string form emulators lack. */
  async tableExists(namespace: string, lakeTable: string): Promise<boolean> {
    let token: string | undefined;
    try {
      do {
        const page = await this.s3tables.send(
          new ListTablesCommand({ tableBucketARN: this.settings.tableBucket.arn, namespace, prefix: lakeTable, ...(token ? { continuationToken: token } : {}) }),
        );
        if ((page.tables ?? []).some((t) => t.name === lakeTable && (t.namespace ?? [namespace]).includes(namespace))) return true;
        token = page.continuationToken;
      } while (token);
      return false;
    } catch (err) {
      if (hasAwsCode(err, 'NotFoundException')) return false;
      throw toPortError(err, { service: 'S3Tables', operation: 'ListTables', subject: `lake table ${namespace}.${lakeTable}` });
    }
  }

  private ensureBucket(): Promise<void> {
    this.bucketReady ??= this.createBucketIfMissing();
    this.bucketReady.catch(() => (this.bucketReady = undefined));
    return this.bucketReady;
  }

  /** CreateTableBucket answers ConflictException for a bucket we own already: one call either way. */
  private async createBucketIfMissing(): Promise<void> {
    const { name } = this.settings.tableBucket;
    try {
      await this.s3tables.send(new CreateTableBucketCommand({ name }));
    } catch (err) {
      if (!hasAwsCode(err, 'ConflictException')) throw toPortError(err, { service: 'S3Tables', operation: 'CreateTableBucket', subject: `table bucket ${name}` });
    }
  }
}
