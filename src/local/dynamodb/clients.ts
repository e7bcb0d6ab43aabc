/**
 * The SDK clients of the embedded DynamoDB (moto server at `source.endpoint`): explicit dummy
 * credentials, since moto accepts any and the machine's own AWS credentials have no business here.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { addEmulatorCompat } from '../../emulator';

/** A DynamoDB source of the embedded mode: the region its ARNs name and the emulator's address. */
export interface LocalDynamoSource {
  region: string;
  endpoint: string;
  /** Tables to load (names or ARNs); absent: every table ListTables returns. */
  tables?: string[];
}

export interface LocalDynamoClients {
  dynamodb: DynamoDBClient;
  streams: DynamoDBStreamsClient;
  destroy(): void;
}

const EMULATOR_CREDENTIALS = { accessKeyId: 'lakesync', secretAccessKey: 'lakesync' };

export function createDynamoClients(source: Pick<LocalDynamoSource, 'region' | 'endpoint'>): LocalDynamoClients {
  const config = { region: source.region, endpoint: source.endpoint, credentials: EMULATOR_CREDENTIALS, maxAttempts: 3 };
  const dynamodb = new DynamoDBClient(config);
  const streams = new DynamoDBStreamsClient(config);
  // moto answers the stream's times as ISO-8601 text where the API sends epoch seconds.
  addEmulatorCompat(streams, source.endpoint, { epochTimestamps: true });
  return {
    dynamodb,
    streams,
    destroy() {
      dynamodb.destroy();
      streams.destroy();
    },
  };
}
