/**
 * The source database of the catalog tests: a real PostgreSQL server (Debian's, started by
 * test/local/helpers/postgres.ts) with a `shop` database, a catalog user that logs in with a
 * password (and may write: the connection must refuse writes itself), and Secrets Manager
 * secrets in moto server in the format RDS manages (`{"username", "password"}`).
 */
import { writeFileSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import pg from 'pg';
import { startPostgres, type TestPostgres } from '../local/helpers/postgres';
import { REGION } from './fixtures';

export const CATALOG_USER = 'lakesync_catalog';
export const CATALOG_PASSWORD = 'catalog-pass-7f3a';
export const WRONG_PASSWORD = 'not-the-password-19c2';

export interface CatalogSource {
  postgres: TestPostgres;
  /** postgres://user[:password]@127.0.0.1:<port>/shop */
  shopUrl(user?: string, password?: string): string;
  onShop<T>(fn: (client: pg.Client) => Promise<T>, url?: string): Promise<T>;
  stop(): Promise<void>;
}

export async function startCatalogSource(): Promise<CatalogSource> {
  const postgres = await startPostgres();
  const shopUrl = (user = 'postgres', password?: string) => `postgres://${user}${password ? `:${password}` : ''}@127.0.0.1:${postgres.port}/shop`;
  const onShop = async <T>(fn: (client: pg.Client) => Promise<T>, url = shopUrl()): Promise<T> => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      return await fn(client);
    } finally {
      await client.end();
    }
  };
  try {
    await postgres.query('CREATE DATABASE shop');
    await onShop((c) =>
      c.query(`
        CREATE SCHEMA sales;
        CREATE TABLE public.orders (id bigint PRIMARY KEY, total numeric(12, 2));
        CREATE TABLE public.events (id bigint, total numeric(12, 2), note text, PRIMARY KEY (total, id));
        CREATE TABLE public.notes (body text);
        CREATE TABLE sales.refunds (order_id int, line int, amount numeric, PRIMARY KEY (order_id, line));
        INSERT INTO public.orders VALUES (1, 10.50), (2, 20.00);
        CREATE ROLE ${CATALOG_USER} LOGIN PASSWORD '${CATALOG_PASSWORD}';
        GRANT ALL ON ALL TABLES IN SCHEMA public TO ${CATALOG_USER};
        GRANT CREATE ON SCHEMA public TO ${CATALOG_USER};
      `),
    );
    await requirePasswords(postgres, () => onShop(async () => undefined, shopUrl(CATALOG_USER, WRONG_PASSWORD)));
  } catch (err) {
    await postgres.stop();
    throw err;
  }
  return { postgres, shopUrl, onShop, stop: () => postgres.stop() };
}

/** Password authentication for every user but the test's superuser, so that a wrong password is refused. */
async function requirePasswords(postgres: TestPostgres, wrongLogin: () => Promise<unknown>): Promise<void> {
  const [row] = await postgres.query<{ hba_file: string }>('SHOW hba_file');
  writeFileSync(row!.hba_file, ['local all all trust', 'host all postgres 127.0.0.1/32 trust', 'host all all 127.0.0.1/32 scram-sha-256', ''].join('\n'));
  await postgres.query('SELECT pg_reload_conf()');
  // The reload is asynchronous: wait until a wrong password is refused.
  for (let i = 0; ; i += 1) {
    const refused = await wrongLogin().then(() => false, (err: { code?: string }) => err.code === '28P01');
    if (refused) return;
    if (i > 50) throw new Error('the pg_hba.conf reload did not take effect');
    await delay(100);
  }
}

/** A secret in the RDS-managed format; returns its ARN. */
export async function createSecret(endpoint: string, name: string, value: Record<string, unknown>): Promise<string> {
  const client = new SecretsManagerClient({ region: REGION, endpoint });
  try {
    return (await client.send(new CreateSecretCommand({ Name: name, SecretString: JSON.stringify(value) }))).ARN!;
  } finally {
    client.destroy();
  }
}
