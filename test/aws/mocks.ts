/** aws-sdk-client-mock set-up for the AWS adapter unit tests: real clients, mocked sends. */
import { rmSync } from 'node:fs';
import { Readable } from 'node:stream';
import { mockClient } from 'aws-sdk-client-mock';
import { buildAwsPorts } from '../../src/aws';
import { createClients } from '../../src/aws/clients';
import type { AwsSettings } from '../../src/aws/settings';
import { awsSettings } from '../../src/backends/aws';
import type { Ports } from '../../src/ports';
import { awsSource, glueScriptsFixture } from './fixtures';

let sharedScriptsDir: string | undefined;

/** One Glue scripts fixture per test process, removed when the process exits. */
function sharedScripts(): string {
  if (!sharedScriptsDir) {
    const dir = glueScriptsFixture();
    sharedScriptsDir = dir;
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  }
  return sharedScriptsDir;
}

export function mockedAws(options: { clusterId?: string; raw?: Record<string, unknown>; scriptsDir?: string; loadPoll?: { initialMs: number; maxMs: number }; athenaTimeoutMs?: number } = {}) {
  const settings: AwsSettings = awsSettings('shop', awsSource({ ...(options.clusterId ? { clusterId: options.clusterId } : {}), ...(options.raw ? { raw: options.raw } : {}) }), {
    glueScriptsDir: options.scriptsDir ?? sharedScripts(),
  });
  if (options.loadPoll) settings.loadPoll = options.loadPoll;
  const clients = createClients(settings);
  const mocks = {
    rds: mockClient(clients.rds),
    s3: mockClient(clients.s3),
    glue: mockClient(clients.glue),
    s3tables: mockClient(clients.s3tables),
    lakeformation: mockClient(clients.lakeformation),
    athena: mockClient(clients.athena),
  };
  const ports: Ports = buildAwsPorts(settings, clients, { athenaPolling: { initialMs: 1, maxMs: 5, timeoutMs: options.athenaTimeoutMs ?? 2_000 }, warn: () => undefined });
  return { settings, clients, mocks, ports };
}

/** An SDK-shaped service error: name is the AWS error code. */
export function awsError(code: string, message: string, status = 400, fault: 'client' | 'server' = status >= 500 ? 'server' : 'client'): Error {
  return Object.assign(new Error(message), { name: code, $fault: fault, $metadata: { httpStatusCode: status } });
}

/** A GetObject body the SDK's helpers can read. */
export function objectBody(text: string) {
  const stream = Readable.from([Buffer.from(text)]);
  return Object.assign(stream, { transformToString: async () => text, transformToByteArray: async () => new Uint8Array(Buffer.from(text)) }) as never;
}

/** Asserts that a promise rejects with a PortError of this kind and returns it for more checks. */
export async function portError(promise: Promise<unknown>): Promise<Error & { kind: string; code: string; retryable: boolean }> {
  try {
    await promise;
  } catch (err) {
    return err as Error & { kind: string; code: string; retryable: boolean };
  }
  throw new Error('expected a rejection');
}
