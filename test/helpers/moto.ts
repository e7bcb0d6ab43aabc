/**
 * moto server (the AWS emulator) for the AWS adapter tests: started as the embedded DynamoDB is
 * (the bootstrap venv, a free loopback port), with helpers for its state manager and Athena's
 * queued results.
 */
import { startEmbeddedDynamo } from '../../src/local/dynamodb/moto-server';

export const MOTO_ACCOUNT_ID = '123456789012';

export interface MotoServer {
  endpoint: string;
  port: number;
  /** Forgets every resource (between tests). */
  reset(): Promise<void>;
  /** Paces a model's state changes, e.g. `glue::job_run` with `{ progression: 'manual', times: 2 }`. */
  setTransition(modelName: string, transition: Record<string, unknown>): Promise<void>;
  /** Queues results that the next Athena queries of that region return, in order. */
  queueAthenaResults(region: string, results: { rows: string[][]; columns: string[] }[]): Promise<void>;
  stop(): Promise<void>;
}

/** The default credential chain reads these; moto accepts any. */
export function useTestCredentials(): void {
  process.env.AWS_ACCESS_KEY_ID = 'testing';
  process.env.AWS_SECRET_ACCESS_KEY = 'testing';
  process.env.AWS_SESSION_TOKEN = 'testing';
  delete process.env.AWS_PROFILE;
}

export async function startMoto(): Promise<MotoServer> {
  const server = await startEmbeddedDynamo({ name: 'the AWS emulator' });
  const post = async (path: string, body: unknown) => {
    const res = await fetch(`${server.endpoint}${path}`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
    if (!res.ok) throw new Error(`moto ${path} answered ${res.status}: ${await res.text()}`);
  };
  return {
    ...server,
    reset: () => post('/moto-api/reset', {}),
    setTransition: (modelName, transition) => post('/moto-api/state-manager/set-transition', { model_name: modelName, transition }),
    queueAthenaResults: (region, results) =>
      post('/moto-api/static/athena/query-results', {
        account_id: MOTO_ACCOUNT_ID,
        region,
        results: results.map((r) => ({
          // Athena repeats the column names as the first row of a SELECT's results.
          rows: [r.columns, ...r.rows].map((row) => ({ Data: row.map((v) => ({ VarCharValue: v })) })),
          column_info: r.columns.map((name) => ({ Name: name, Label: name, Type: 'varchar', Nullable: 'UNKNOWN', CatalogName: 'hive', SchemaName: '', TableName: '' })),
        })),
      }),
  };
}
