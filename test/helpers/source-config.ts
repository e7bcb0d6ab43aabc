/**
 * Sources as lakesync.yaml holds them (raw, before parsing), for tests of config, plan and the
 * CLI: a complete rds source to vary, a local DynamoDB source, and what parseConfig makes of one
 * source named shop.
 */
import assert from 'node:assert/strict';
import { parseConfig, sourceConfig } from '../../src/config/load';
import type { SourceConfig } from '../../src/config/schema';
import { ConfigError } from '../../src/errors';

/** The source.catalog of an rds source whose tables can be read directly: host, secret, Glue connection and the RDS CA bundle in S3. */
export const RDS_CATALOG = {
  host: 'shop-db.abc123.eu-west-1.rds.amazonaws.com',
  secretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:rds-shop',
  glueConnection: 'shop-vpc',
  sslRootCert: 's3://certs/rds/global-bundle.pem',
} as const;

const RDS_SOURCE = {
  backend: 'aws',
  database: 'shop',
  source: { kind: 'rds', instanceId: 'shop-db' },
  target: { namespace: 'shop' },
  aws: {
    region: 'eu-west-1',
    accountId: '123456789012',
    export: { bucket: 'exports', iamRoleArn: 'arn:aws:iam::123456789012:role/export', kmsKeyId: 'alias/export' },
    tableBucket: { name: 'lake' },
    glue: { roleArn: 'arn:aws:iam::123456789012:role/glue', scriptBucket: 'scripts' },
    athena: { outputLocation: 's3://athena-results/' },
  },
};

type Raw = Record<string, any>;

const isObject = (value: unknown): value is Raw => typeof value === 'object' && value !== null && !Array.isArray(value);

/** `base` with `overrides` merged in, object by object; arrays and other values replace, and an undefined value leaves the key out. */
function merged(base: Raw, overrides: Raw): Raw {
  const out: Raw = { ...base };
  for (const [key, value] of Object.entries(overrides)) {
    if (value === undefined) delete out[key];
    else out[key] = isObject(value) ? merged(isObject(out[key]) ? out[key] : {}, value) : value;
  }
  return out;
}

/**
 * A complete, valid rds source (instance shop-db in eu-west-1, with export, table bucket, Glue and
 * Athena settings) with `overrides` merged in: `{ aws: { glue: { jobName: 'load' } } }` changes
 * one setting, `{ aws: undefined }` leaves the aws section out. A fresh object on every call.
 */
export function rdsSourceConfig(overrides: Raw = {}): Raw {
  return merged(structuredClone(RDS_SOURCE), overrides);
}

/** A DynamoDB source on the local backend (DynamoDB at 127.0.0.1:5000, every table included), with `source` spread into its source and `settings` into it. */
export function localDynamoSourceConfig(tables: Record<string, unknown> = {}, source: Record<string, unknown> = {}, settings: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    database: 'dynamodb',
    source: { kind: 'dynamodb', region: 'eu-west-1', endpoint: 'http://127.0.0.1:5000', ...source },
    include: ['dynamodb.*'],
    target: { namespace: 'shop' },
    tables,
    ...settings,
  };
}

/** The problems parseConfig finds in a config of the one source shop, as `path: message` lines; [] when it is accepted. */
export function problems(source: Record<string, unknown>): string[] {
  try {
    parseConfig({ sources: { shop: source } });
    return [];
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.issues.map((i) => `${i.path}: ${i.message}`);
  }
}

/** The source shop as parseConfig makes it of `source`. */
export const parsed = (source: Record<string, unknown>): SourceConfig => sourceConfig(parseConfig({ sources: { shop: source } }), 'shop');
