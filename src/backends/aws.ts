/**
 * The AWS side of one source's config, resolved once: region, endpoint override, names and
 * locations the adapters share. Bad or missing settings fail here, before any AWS call.
 */
import { join } from 'node:path';
import type { SourceConfig } from '../config/schema';
import type { Ports } from '../ports';
import { ConfigError } from '../errors';
import { type AwsSettings, type DirectSourceSettings, GLUE_POLL_MAX_MS, GLUE_POLLS_PER_HOUR } from '../aws/settings';
import { directSourceSettings } from '../aws/direct';
import type { CatalogSettings } from '../aws/catalog';
import type { AwsDynamoSettings } from '../aws/dynamodb-ports';
import { repoRoot } from '../toolchain';
import { glueJobName } from '../names';

export interface AwsSettingsOverrides {
  /** Where the Glue scripts live (default `<repo>/glue`). */
  glueScriptsDir?: string;
}

export function awsSettings(sourceName: string, source: SourceConfig, overrides: AwsSettingsOverrides = {}): AwsSettings {
  const aws = awsSection(sourceName, source);
  if (source.source.kind !== 'rds') {
    throw new ConfigError([{ path: `sources.${sourceName}.source.kind`, value: source.source.kind, message: 'these settings are for an RDS source (source.kind rds); a dynamodb source resolves with awsDynamoSettings' }]);
  }
  const { instanceId, clusterId } = source.source;
  const rds = clusterId ? { clusterId } : instanceId ? { instanceId } : undefined;
  if (!rds) {
    throw new ConfigError([{ path: `sources.${sourceName}.source`, message: 'give exactly one of instanceId (RDS instance) or clusterId (Aurora cluster)' }]);
  }
  if (!aws.export) {
    throw new ConfigError([{ path: `sources.${sourceName}.aws.export`, message: 'an rds source needs aws.export (bucket, iamRoleArn, kmsKeyId): where RDS writes the snapshot export (docs/aws-setup.md)' }]);
  }
  return {
    ...lakeSettings(sourceName, source, aws, overrides),
    rds,
    export: { ...aws.export, prefix: trimSlashes(aws.export.prefix) },
    ...directSettingsOf(sourceName, source, aws.region),
  };
}

/** The AWS settings of a dynamodb source: the lake as for RDS sources, DynamoDB for the source. */
export function awsDynamoSettings(sourceName: string, source: SourceConfig, overrides: AwsSettingsOverrides = {}): AwsDynamoSettings {
  const aws = awsSection(sourceName, source);
  if (source.source.kind !== 'dynamodb') {
    throw new ConfigError([{ path: `sources.${sourceName}.source.kind`, value: source.source.kind, message: 'these settings are for a DynamoDB source (source.kind dynamodb)' }]);
  }
  const { region, tables, export: exportTo } = source.source;
  if (!exportTo) {
    throw new ConfigError([{ path: `sources.${sourceName}.source.export`, message: 'backend aws has DynamoDB write its exports to S3: add source.export: { bucket: <bucket>, prefix: lakesync/dynamodb } (kmsKeyId optional)' }]);
  }
  return {
    ...lakeSettings(sourceName, source, aws, overrides),
    dynamodb: {
      region,
      ...(tables ? { tables } : {}),
      export: { bucket: exportTo.bucket, prefix: trimSlashes(exportTo.prefix), ...(exportTo.kmsKeyId ? { kmsKeyId: exportTo.kmsKeyId } : {}), ...(exportTo.bucketOwner ? { bucketOwner: exportTo.bucketOwner } : {}) },
    },
  };
}

type AwsSection = NonNullable<SourceConfig['aws']>;

function awsSection(sourceName: string, source: SourceConfig): AwsSection {
  if (!source.aws) {
    throw new ConfigError([{ path: `sources.${sourceName}.aws`, message: 'backend aws needs an aws section (region, accountId, export, tableBucket, glue, athena)' }]);
  }
  return source.aws;
}

/** What every AWS source shares: region, account, the table bucket, Glue, Athena, Lake Formation. */
function lakeSettings(sourceName: string, source: SourceConfig, aws: AwsSection, overrides: AwsSettingsOverrides): Omit<AwsSettings, 'rds' | 'export' | 'direct'> {
  const partition = partitionOf(aws.region);
  const initialMs = Math.min(source.timeouts.pollInitialSeconds * 1000, GLUE_POLL_MAX_MS);
  return {
    source: sourceName,
    region: aws.region,
    ...(aws.endpoint ? { endpoint: aws.endpoint } : {}),
    accountId: aws.accountId,
    partition,
    database: source.database,
    tableBucket: {
      ...aws.tableBucket,
      arn: `arn:${partition}:s3tables:${aws.region}:${aws.accountId}:bucket/${aws.tableBucket.name}`,
    },
    glue: {
      ...aws.glue,
      jobName: glueJobName(sourceName, aws.glue.jobName),
      scriptPrefix: trimSlashes(aws.glue.scriptPrefix),
      resultPrefix: trimSlashes(aws.glue.resultPrefix),
      scriptsDir: overrides.glueScriptsDir ?? join(repoRoot(), 'glue'),
      sizing: { ...aws.glue.sizing, maxWorkers: aws.glue.sizing.maxWorkers ?? aws.glue.numberOfWorkers },
      tableWorkers: Object.fromEntries(Object.entries(source.tables).flatMap(([table, t]) => (t.glueWorkers !== undefined ? [[table, t.glueWorkers]] : []))),
    },
    athena: aws.athena,
    lakeFormation: aws.lakeFormation,
    loadPoll: { initialMs, maxMs: Math.max(initialMs, Math.min(source.timeouts.pollMaximumSeconds * 1000, GLUE_POLL_MAX_MS)), maxCallsPerHour: GLUE_POLLS_PER_HOUR },
  };
}

/** How the Glue job reads the source's tables with extract: direct (src/aws/direct.ts). */
function directSettingsOf(sourceName: string, source: SourceConfig, region: string): { direct?: DirectSourceSettings } {
  const directTables = Object.entries(source.tables).filter(([, t]) => t.extract === 'direct').map(([table]) => table);
  const direct = directSourceSettings({
    path: `sources.${sourceName}.source.catalog`,
    directTables,
    catalog: catalogSettings(source, region),
    glueConnection: source.source.kind === 'rds' ? source.source.catalog?.glueConnection : undefined,
    sslRootCert: source.source.kind === 'rds' ? source.source.catalog?.sslRootCert : undefined,
  });
  return direct ? { direct } : {};
}

function partitionOf(region: string): string {
  if (region.startsWith('cn-')) return 'aws-cn';
  if (region.startsWith('us-gov-')) return 'aws-us-gov';
  return 'aws';
}

function trimSlashes(prefix: string): string {
  return prefix.replace(/^\/+|\/+$/g, '');
}

/** The ports of an AWS source, from its config. */
export async function createAwsSourcePorts(sourceName: string, source: SourceConfig, overrides: AwsSettingsOverrides = {}): Promise<Ports> {
  if (source.source.kind === 'dynamodb') {
    // DynamoDB exports and catalog; the RDS snapshot and export ports refuse any call.
    const [{ buildAwsDynamoPorts }, { createClients }] = await Promise.all([import('../aws/dynamodb-ports'), import('../aws')]);
    const dynamoSettings = awsDynamoSettings(sourceName, source, overrides);
    return buildAwsDynamoPorts(dynamoSettings, createClients(dynamoSettings));
  }
  const { buildAwsPorts, createClients } = await import('../aws');
  const settings = awsSettings(sourceName, source, overrides);
  const ports = buildAwsPorts(settings, createClients(settings));
  const catalog = catalogSettings(source, settings.region);
  if (!catalog) return ports;
  // Primary keys and the table list from the source itself (source.catalog), read-only.
  const { openSourceCatalog, withSourceCatalog } = await import('../aws/catalog-ports');
  const opened = openSourceCatalog(catalog, settings);
  // Direct tables are named like the export names them: `<source database>.<schema>.<table>`.
  return withSourceCatalog(ports, opened.catalog, opened.close, source.database);
}

/** The read-only catalog connection of an RDS source, when `source.catalog` is set. */
export function catalogSettings(source: SourceConfig, region: string): CatalogSettings | undefined {
  const catalog = source.source.kind === 'rds' ? source.source.catalog : undefined;
  if (!catalog) return undefined;
  return {
    host: catalog.host,
    port: catalog.port,
    database: catalog.database ?? source.database,
    ...(catalog.user ? { user: catalog.user } : {}),
    auth: catalog.secretArn ? { kind: 'secret', secretArn: catalog.secretArn } : { kind: 'iam' },
    sslmode: catalog.sslmode,
    region,
  };
}
