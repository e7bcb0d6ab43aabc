/**
 * The AWS SDK v3 clients of one source: one region, the default credential chain
 * (environment, profile, SSO, instance or task role), and the emulator endpoint when set.
 */
import { AthenaClient } from '@aws-sdk/client-athena';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GlueClient } from '@aws-sdk/client-glue';
import { LakeFormationClient } from '@aws-sdk/client-lakeformation';
import { RDSClient } from '@aws-sdk/client-rds';
import { S3Client } from '@aws-sdk/client-s3';
import { S3TablesClient } from '@aws-sdk/client-s3tables';
import { addEmulatorCompat } from '../emulator';
import type { AwsSettings } from './settings';

export interface AwsClients {
  rds: RDSClient;
  s3: S3Client;
  glue: GlueClient;
  s3tables: S3TablesClient;
  lakeformation: LakeFormationClient;
  athena: AthenaClient;
  /** DynamoDB sources (source.kind dynamodb): exports, tables and point-in-time recovery. */
  dynamodb: DynamoDBClient;
}

/** The SDK retries throttling and 5xx itself a few times; what is left goes to Temporal's retry. */
const SDK_MAX_ATTEMPTS = 3;

/**
 * Without timeouts the SDK waits for ever on a connection that never opens or an answer that never
 * comes, and the activity's heartbeats keep it alive until its start-to-close timeout. A call that
 * times out fails like a network error: the SDK retries it, then Temporal does.
 */
export const HTTP_TIMEOUTS = {
  /** Opening the TCP (and TLS) connection. */
  connectionTimeout: 10_000,
  /** A socket with no bytes in either direction for this long is given up. */
  socketTimeout: 120_000,
} as const;

export function clientConfig(settings: Pick<AwsSettings, 'region' | 'endpoint'>, timeouts: { connectionTimeout: number; socketTimeout: number } = HTTP_TIMEOUTS) {
  return {
    region: settings.region,
    maxAttempts: SDK_MAX_ATTEMPTS,
    requestHandler: { ...timeouts },
    ...(settings.endpoint ? { endpoint: settings.endpoint } : {}),
  };
}

export function s3ClientConfig(settings: Pick<AwsSettings, 'region' | 'endpoint'>) {
  return {
    ...clientConfig(settings),
    // Emulators serve buckets by path and reject the newer default checksums.
    ...(settings.endpoint ? { forcePathStyle: true, requestChecksumCalculation: 'WHEN_REQUIRED' as const, responseChecksumValidation: 'WHEN_REQUIRED' as const } : {}),
  };
}

export function createClients(settings: Pick<AwsSettings, 'region' | 'endpoint'>): AwsClients {
  const config = clientConfig(settings);
  const clients = {
    rds: new RDSClient(config),
    s3: new S3Client(s3ClientConfig(settings)),
    glue: new GlueClient(config),
    s3tables: new S3TablesClient(config),
    lakeformation: new LakeFormationClient(config),
    athena: new AthenaClient(config),
    dynamodb: new DynamoDBClient(config),
  };
  if (settings.endpoint) {
    addEmulatorCompat(clients.glue, settings.endpoint, { epochTimestamps: true });
    for (const client of [clients.s3tables, clients.lakeformation, clients.athena]) addEmulatorCompat(client, settings.endpoint, { epochTimestamps: false });
  }
  return clients;
}

export function destroyClients(clients: AwsClients): void {
  for (const client of Object.values(clients)) client.destroy();
}
