/**
 * S3 Tables: the table bucket (created only when the config asks) and the namespace the lake
 * tables live in. Both calls are idempotent: what exists already is left as it is.
 */
import { CreateNamespaceCommand, CreateTableBucketCommand, GetNamespaceCommand, ListTablesCommand, type S3TablesClient } from '@aws-sdk/client-s3tables';
import { PortError } from '../errors';
import type { LakePort, ManifestStore } from '../ports';
import { hasAwsCode, toPortError } from './errors';
import type { AwsSettings } from './settings';

/** Where a namespace lakesync created but has not finished granting on is marked, under the source's manifests. */
export function namespacePendingKey(namespace: string): string {
  return `namespaces/${namespace}/created-hook-pending.json`;
}

export class S3TablesLake implements Omit<LakePort, 'query'> {
  private bucketReady: Promise<void> | undefined;
  /** Namespaces this process created whose `onNamespaceCreated` has not succeeded yet: a retry runs it again. */
  private readonly unfinished = new Set<string>();

  constructor(
    private readonly s3tables: S3TablesClient,
    private readonly settings: Pick<AwsSettings, 'tableBucket'>,
    /** Runs once lakesync has created a namespace (Lake Formation mode: the Glue job role's grants); idempotent. */
    private readonly onNamespaceCreated?: (namespace: string) => Promise<void>,
    /**
     * Where a namespace about to be created is marked until `onNamespaceCreated` has succeeded, so
     * that a retry on another worker (or after a restart) still runs it: the namespace then exists,
     * and only the mark tells it from one that existed before lakesync.
     */
    private readonly marks?: ManifestStore,
  ) {}

  async ensureNamespace(namespace: string): Promise<void> {
    if (this.settings.tableBucket.create) await this.ensureBucket();
    const { arn, name } = this.settings.tableBucket;
    const subject = `namespace ${namespace} in table bucket ${name}`;
    try {
      await this.s3tables.send(new GetNamespaceCommand({ tableBucketARN: arn, namespace }));
    } catch (err) {
      if (!hasAwsCode(err, 'NotFoundException')) throw toPortError(err, { service: 'S3Tables', operation: 'GetNamespace', subject });
      return this.createNamespace(namespace, subject);
    }
    if (this.unfinished.has(namespace) || (await this.marked(namespace))) await this.namespaceCreated(namespace);
  }

  private async createNamespace(namespace: string, subject: string): Promise<void> {
    const { arn } = this.settings.tableBucket;
    // Marked before it exists: a worker lost between creating it and its hook leaves the mark for the retry.
    if (this.onNamespaceCreated && this.marks) await this.marks.put(namespacePendingKey(namespace), { namespace, tableBucket: arn, since: new Date().toISOString() });
    try {
      await this.s3tables.send(new CreateNamespaceCommand({ tableBucketARN: arn, namespace: [namespace] }));
    } catch (err) {
      if (hasAwsCode(err, 'NotFoundException')) {
        throw new PortError('not-found', 'TableBucketNotFound', `S3Tables CreateNamespace for ${subject} failed with NotFoundException: table bucket ${arn} does not exist; create it or set tableBucket.create: true`, { cause: err });
      }
      // ConflictException: created by another worker meanwhile, which runs the same idempotent hook.
      if (!hasAwsCode(err, 'ConflictException')) throw toPortError(err, { service: 'S3Tables', operation: 'CreateNamespace', subject });
    }
    await this.namespaceCreated(namespace);
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

  private async namespaceCreated(namespace: string): Promise<void> {
    if (!this.onNamespaceCreated) return;
    this.unfinished.add(namespace);
    await this.onNamespaceCreated(namespace);
    if (this.marks) await this.marks.delete(this.marks.ref(namespacePendingKey(namespace)));
    this.unfinished.delete(namespace);
  }

  /** Whether a worker marked the namespace as created by lakesync with its hook not done yet. */
  private async marked(namespace: string): Promise<boolean> {
    if (!this.onNamespaceCreated || !this.marks) return false;
    try {
      await this.marks.get(this.marks.ref(namespacePendingKey(namespace)));
      return true;
    } catch (err) {
      if (err instanceof PortError && err.kind === 'not-found') return false;
      throw err;
    }
  }

  /**
   * Every table of the namespace, across all pages of ListTables (`pageSize` tables a page; the
   * service's default, 1000, when absent): one listing instead of one call per table. None when
   * the namespace does not exist yet.
   */
  async listTables(namespace: string, pageSize?: number): Promise<string[]> {
    const names: string[] = [];
    let token: string | undefined;
    try {
      do {
        const page = await this.s3tables.send(
          new ListTablesCommand({
            tableBucketARN: this.settings.tableBucket.arn,
            namespace,
            ...(pageSize ? { maxTables: pageSize } : {}),
            ...(token ? { continuationToken: token } : {}),
          }),
        );
        for (const t of page.tables ?? []) if (t.name && (t.namespace ?? [namespace]).includes(namespace)) names.push(t.name);
        token = page.continuationToken;
      } while (token);
      return names;
    } catch (err) {
      if (hasAwsCode(err, 'NotFoundException')) return [];
      throw toPortError(err, { service: 'S3Tables', operation: 'ListTables', subject: `the lake tables of namespace ${namespace} in table bucket ${this.settings.tableBucket.name}` });
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
