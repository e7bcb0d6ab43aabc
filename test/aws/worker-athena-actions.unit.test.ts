/**
 * What the doctor simulates for the worker's Athena checks (WORKER_ACTIONS) against what Athena
 * reads in the catalog on the worker's behalf. Athena ("Considerations and limitations for
 * querying data registered with Lake Formation": the DESCRIBE permission is required on the
 * default database) looks up the `default` database of the account's catalog for a query on Lake
 * Formation governed data: the worker needs glue:GetDatabase on it, as the shipped worker policy
 * (CatalogReadForAthena) allows, or every verification fails with AccessDenied.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { resolveResource, type ResourceNames, workerActions } from '../../src/aws/required-actions';

const NAMES: ResourceNames = {
  partition: 'aws',
  region: 'eu-west-1',
  accountId: '123456789012',
  exportBucket: 'shop-exports',
  exportPrefix: 'lakesync/exports',
  scriptBucket: 'lakesync-artifacts',
  scriptPrefix: 'lakesync/glue',
  resultPrefix: 'lakesync/results',
  tableBucket: 'shop-lake',
  namespace: 'shop',
  keyId: 'key',
  dbInstance: 'shop-db',
  snapshotId: 'lakesync-shop-doctor',
  glueJob: 'lakesync-load-shop',
  glueRoleArn: 'arn:aws:iam::123456789012:role/lakesync-glue',
  workgroup: 'lakesync',
  athenaBucket: 'lakesync-artifacts',
  athenaOutput: 'lakesync-artifacts/athena',
};

function asked(action: string, mode: 'lakeformation' | 'iam'): string[] {
  for (const kind of ['rds', 'dynamodb'] as const) {
    assert.ok(workerActions({ kind, mode, createTableBucket: false }).some((a) => a.action === action), `${action} is asked of a ${kind} source`);
  }
  return workerActions({ kind: 'rds', database: 'instance', mode, createTableBucket: false })
    .filter((a) => a.action === action)
    .flatMap((a) => a.resources.map((r) => resolveResource(r, NAMES)));
}

test("in lakeformation mode the doctor asks glue:GetDatabase on the account catalog's default database, which Athena looks up for the checks", () => {
  const resources = asked('glue:GetDatabase', 'lakeformation');
  assert.ok(resources.includes('arn:aws:glue:eu-west-1:123456789012:database/default'), `glue:GetDatabase is asked on ${resources.join(', ')}`);
  assert.ok(resources.includes('arn:aws:glue:eu-west-1:123456789012:catalog'), 'and on the catalog above it');
});
