/**
 * The clients `lakesync doctor` reads the account with: the source's AWS clients (same region,
 * credential chain and emulator endpoint as the worker's) plus STS, IAM, KMS and Secrets Manager,
 * which only the doctor uses.
 */
import { IAMClient } from '@aws-sdk/client-iam';
import { KMSClient } from '@aws-sdk/client-kms';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { STSClient } from '@aws-sdk/client-sts';
import { type AwsClients, clientConfig, createClients, destroyClients } from '../aws/clients';
import { addEmulatorCompat } from '../emulator';
import type { AwsSettings } from '../aws/settings';

export interface DoctorClients extends AwsClients {
  sts: STSClient;
  iam: IAMClient;
  kms: KMSClient;
  /** Secrets Manager in the source's region (a secret elsewhere is read with a client of its own region). */
  secrets: SecretsManagerClient;
}

export function createDoctorClients(settings: Pick<AwsSettings, 'region' | 'endpoint'>): DoctorClients {
  const config = clientConfig(settings);
  const clients = { ...createClients(settings), sts: new STSClient(config), iam: new IAMClient(config), kms: new KMSClient(config), secrets: new SecretsManagerClient(config) };
  // KMS speaks JSON like Glue; STS and IAM speak the query protocol, whose missing operations
  // the simulator recognises by their HTML answer (src/doctor/simulate.ts).
  if (settings.endpoint) addEmulatorCompat(clients.kms, settings.endpoint, { epochTimestamps: true });
  return clients;
}

export function destroyDoctorClients(clients: DoctorClients): void {
  destroyClients(clients);
}
