/**
 * RDS refusals as RDS sends them: a local HTTP server answers the query protocol's XML, so the
 * real SDK deserializes each error. The SDK gives such an error the wire code (`IamRoleNotFound`)
 * as `Code` and the class name (`IamRoleNotFoundFault`) as `name`; a mocked error object has only
 * the second. moto answers none of these refusals.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { buildAwsPorts } from '../../src/aws';
import { createClients } from '../../src/aws/clients';
import { awsSettings } from '../../src/backends/aws';
import type { PortError } from '../../src/errors';
import type { Ports } from '../../src/ports';
import { awsSource, glueScriptsFixture } from './fixtures';

const SNAPSHOT = 'lakesync-shop-1-abc';
const SNAPSHOT_ARN = `arn:aws:rds:us-east-2:123456789012:snapshot:${SNAPSHOT}`;
let refusal: { code: string; status: number } = { code: 'IamRoleNotFound', status: 404 };
let server: Server | undefined;
let ports: Ports | undefined;

function rdsError(code: string): string {
  return `<ErrorResponse xmlns="http://rds.amazonaws.com/doc/2014-10-31/"><Error><Type>Sender</Type><Code>${code}</Code><Message>refused by the test server</Message></Error><RequestId>r-1</RequestId></ErrorResponse>`;
}

const SNAPSHOTS = `<DescribeDBSnapshotsResponse xmlns="http://rds.amazonaws.com/doc/2014-10-31/"><DescribeDBSnapshotsResult><DBSnapshots><DBSnapshot>
<DBSnapshotIdentifier>${SNAPSHOT}</DBSnapshotIdentifier><DBInstanceIdentifier>shop-db</DBInstanceIdentifier><Status>available</Status><DBSnapshotArn>${SNAPSHOT_ARN}</DBSnapshotArn>
</DBSnapshot></DBSnapshots></DescribeDBSnapshotsResult><ResponseMetadata><RequestId>r-0</RequestId></ResponseMetadata></DescribeDBSnapshotsResponse>`;

before(async () => {
  process.env.AWS_ACCESS_KEY_ID ??= 'testing';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'testing';
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      const action = new URLSearchParams(body).get('Action');
      if (action === 'DescribeDBSnapshots') {
        res.writeHead(200, { 'content-type': 'text/xml' }).end(SNAPSHOTS);
      } else {
        res.writeHead(refusal.status, { 'content-type': 'text/xml' }).end(rdsError(refusal.code));
      }
    });
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const settings = awsSettings('shop', awsSource({ endpoint }), { glueScriptsDir: glueScriptsFixture() });
  ports = buildAwsPorts(settings, createClients(settings), { warn: () => undefined });
});

after(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

async function refusedExport(code: string, status: number): Promise<PortError> {
  refusal = { code, status };
  const err = await ports!.export.startExport({ source: 'shop', exportId: 'ls-shop-1-abc', snapshot: { snapshotId: SNAPSHOT, createdAt: '2025-01-01T00:00:00.000Z', adopted: false } }).then(
    () => assert.fail(`StartExportTask answered ${code}, yet the export started`),
    (e: unknown) => e as PortError,
  );
  return err;
}

test('an export role that does not exist, or lacks permissions, is access denied and names the role to fix', async () => {
  for (const [code, status] of [['IamRoleNotFound', 404], ['IamRoleMissingPermissions', 400]] as const) {
    const err = await refusedExport(code, status);
    assert.equal(err.kind, 'access-denied', code);
    assert.equal(err.retryable, false, code);
    assert.match(err.message, new RegExp(`StartExportTask for export ls-shop-1-abc of snapshot ${SNAPSHOT} failed with ${code}: .*the export role arn:aws:iam::\\d+:role/\\S+ must exist, trust export.rds.amazonaws.com`));
  }
});

test('a refused export scope or snapshot state is a validation error, not retried', async () => {
  for (const code of ['InvalidExportOnly', 'InvalidDBSnapshotState', 'InvalidExportSourceState']) {
    const err = await refusedExport(code, 400);
    assert.equal(err.kind, 'validation', code);
    assert.equal(err.retryable, false, code);
  }
});

test('a snapshot RDS refuses to export (InvalidExportSourceState) names the snapshot and says what to do, not to check the aws section', async () => {
  const err = await refusedExport('InvalidExportSourceState', 400);
  assert.equal(err.kind, 'validation');
  assert.equal(err.retryable, false);
  assert.doesNotMatch(err.message, /check the aws section/);
  assert.match(err.message, new RegExp(`StartExportTask for export ls-shop-1-abc of snapshot ${SNAPSHOT} failed with InvalidExportSourceState: refused by the test server \\(`));
  assert.match(err.message, new RegExp(`RDS cannot export snapshot ${SNAPSHOT} to S3`));
  assert.match(err.message, /engine and version support snapshot export to S3/);
  assert.match(err.message, /extract: direct/);
});
