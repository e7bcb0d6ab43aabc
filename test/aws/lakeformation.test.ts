/**
 * Lake Formation mode. On moto over HTTP: a namespace lakesync creates gets the Glue job role's
 * grants (DESCRIBE and CREATE_TABLE on the namespace, ALL on its tables) on the S3 Tables catalog,
 * idempotently; a namespace that already existed, or IAM mode, gets none. With aws-sdk-client-mock:
 * a grant that fails after the namespace was created is done again by the retry. And the config:
 * IAM mode refuses Lake Formation grants before anything runs.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { BatchGrantPermissionsCommand, type LakeFormationClient, ListPermissionsCommand, type Resource } from '@aws-sdk/client-lakeformation';
import { CreateBucketCommand, GetObjectCommand } from '@aws-sdk/client-s3';
import { CreateNamespaceCommand, GetNamespaceCommand } from '@aws-sdk/client-s3tables';
import { buildAwsPorts } from '../../src/aws';
import { type AwsClients, createClients, destroyClients } from '../../src/aws/clients';
import { LakeFormationGrants } from '../../src/aws/lakeformation';
import type { AwsSettings } from '../../src/aws/settings';
import { awsSettings } from '../../src/backends/aws';
import { parseConfig } from '../../src/config/load';
import { ConfigError } from '../../src/errors';
import type { Ports } from '../../src/ports';
import { type MotoServer, startMoto, useTestCredentials } from '../helpers/moto';
import { awsSource, GLUE_ROLE, glueScriptsFixture, READER, TABLE_BUCKET } from './fixtures';
import { awsError, mockedAws, portError } from './mocks';

const CATALOG = `123456789012:s3tablescatalog/${TABLE_BUCKET}`;
const database = (name: string): Resource => ({ Database: { CatalogId: CATALOG, Name: name } });
const everyTable = (name: string): Resource => ({ Table: { CatalogId: CATALOG, DatabaseName: name, TableWildcard: {} } });

describe('Lake Formation mode on moto', () => {
  let moto: MotoServer;
  let clients: AwsClients;
  let settings: AwsSettings;
  let ports: Ports;

  const held = async (principal: string, resource: Resource): Promise<string[]> => {
    const out = await clients.lakeformation.send(new ListPermissionsCommand({ Principal: { DataLakePrincipalIdentifier: principal }, Resource: resource }));
    return (out.PrincipalResourcePermissions ?? []).flatMap((p) => p.Permissions ?? []).sort();
  };

  before(async () => {
    useTestCredentials();
    moto = await startMoto();
    settings = awsSettings('shop', awsSource({ endpoint: moto.endpoint }), { glueScriptsDir: glueScriptsFixture() });
    clients = createClients(settings);
    ports = buildAwsPorts(settings, clients);
    // The source's manifests live in the export bucket.
    await clients.s3.send(new CreateBucketCommand({ Bucket: settings.export.bucket, ...(settings.region === 'us-east-1' ? {} : { CreateBucketConfiguration: { LocationConstraint: settings.region as never } }) }));
  });
  after(async () => {
    if (clients) destroyClients(clients);
    await moto?.stop();
  });

  test('the namespace lakesync creates gets the Glue job role DESCRIBE and CREATE_TABLE, and ALL on its tables', async () => {
    await ports.lake.ensureNamespace('shop');
    assert.deepEqual(await held(GLUE_ROLE, database('shop')), ['CREATE_TABLE', 'DESCRIBE']);
    assert.deepEqual(await held(GLUE_ROLE, everyTable('shop')), ['ALL']);
    // Nobody else got anything.
    assert.deepEqual(await held(READER, database('shop')), []);
  });

  test('granting again is idempotent: what the role holds counts as granted', async () => {
    await ports.lake.ensureNamespace('shop');
    const again = await new LakeFormationGrants(clients.lakeformation, settings).grantJobRole('shop');
    assert.deepEqual(again, { granted: 0, alreadyGranted: 2 });
    assert.deepEqual(await held(GLUE_ROLE, database('shop')), ['CREATE_TABLE', 'DESCRIBE']);
  });

  test('an IAM Identity Center group is granted once: what it holds, read from the grants on the resource, counts as granted', async () => {
    // A namespace made outside lakesync: moto cannot list a named table's grants beside a TableWildcard grant in its namespace.
    await clients.s3tables.send(new CreateNamespaceCommand({ tableBucketARN: settings.tableBucket.arn, namespace: ['crm'] }));
    const group = 'arn:aws:identitystore:::group/9067a0b4c2-aaaabbbb-cccc-dddd-eeee-ffff00001111';
    const grants = new LakeFormationGrants(clients.lakeformation, settings);
    const req = { source: 'shop', namespace: 'crm', lakeTables: ['orders'], principals: [{ principal: group, tablePermissions: ['SELECT', 'DESCRIBE'], namespacePermissions: ['DESCRIBE'] }] };
    assert.deepEqual(await grants.grant(req), { granted: 2, alreadyGranted: 0 });
    assert.deepEqual(await grants.grant(req), { granted: 0, alreadyGranted: 2 });
    assert.deepEqual(await held(group, database('crm')), ['DESCRIBE']);
  });

  test('a principal listed twice in grants[] is granted once per resource, with the permissions of both entries', async () => {
    await clients.s3tables.send(new CreateNamespaceCommand({ tableBucketARN: settings.tableBucket.arn, namespace: ['twice'] }));
    const grants = new LakeFormationGrants(clients.lakeformation, settings);
    const table: Resource = { Table: { CatalogId: CATALOG, DatabaseName: 'twice', Name: 'orders' } };
    const principals = [
      { principal: READER, tablePermissions: ['SELECT', 'DESCRIBE'], namespacePermissions: ['DESCRIBE'] },
      { principal: READER, tablePermissions: ['ALTER'], namespacePermissions: ['CREATE_TABLE'] },
    ];
    const req = { source: 'shop', namespace: 'twice', lakeTables: ['orders'], principals };
    assert.deepEqual(await grants.grant(req), { granted: 2, alreadyGranted: 0 }, 'one namespace and one table grant, not two of each');
    assert.deepEqual(await held(READER, database('twice')), ['CREATE_TABLE', 'DESCRIBE']);
    assert.deepEqual(await held(READER, table), ['ALTER', 'DESCRIBE', 'SELECT']);
    assert.deepEqual(await grants.grant(req), { granted: 0, alreadyGranted: 2 });
  });

  test('a namespace created by a worker that was lost before its grants gets them when another worker retries', async () => {
    // The first worker creates the namespace, then its grant fails (as if it were stopped right there).
    const lost = Object.create(clients.lakeformation) as LakeFormationClient;
    lost.send = (async (command: unknown) => {
      if (command instanceof BatchGrantPermissionsCommand) throw Object.assign(new Error('worker stopped'), { name: 'InternalServiceException', $fault: 'server' });
      return clients.lakeformation.send(command as never);
    }) as never;
    const first = buildAwsPorts(settings, { ...clients, lakeformation: lost });
    await assert.rejects(first.lake.ensureNamespace('retried'));
    assert.deepEqual(await held(GLUE_ROLE, database('retried')), []);

    // The retry runs on another worker (a new process): the namespace exists already.
    const second = buildAwsPorts(settings, clients);
    await second.lake.ensureNamespace('retried');
    assert.deepEqual(await held(GLUE_ROLE, database('retried')), ['CREATE_TABLE', 'DESCRIBE']);
    assert.deepEqual(await held(GLUE_ROLE, everyTable('retried')), ['ALL']);

    // Done once: a later worker finds nothing left to grant and asks Lake Formation nothing.
    let asked = 0;
    const counting = Object.create(clients.lakeformation) as LakeFormationClient;
    counting.send = (async (command: unknown) => {
      asked++;
      return clients.lakeformation.send(command as never);
    }) as never;
    await buildAwsPorts(settings, { ...clients, lakeformation: counting }).lake.ensureNamespace('retried');
    assert.equal(asked, 0);
  });

  test('a namespace that existed before lakesync is left as it is', async () => {
    await clients.s3tables.send(new CreateNamespaceCommand({ tableBucketARN: settings.tableBucket.arn, namespace: ['analysts'] }));
    await ports.lake.ensureNamespace('analysts');
    assert.deepEqual(await held(GLUE_ROLE, database('analysts')), []);
  });

  test('IAM mode grants nothing in Lake Formation', async () => {
    const iam = buildAwsPorts({ ...settings, lakeFormation: { mode: 'iam' } }, clients);
    await iam.lake.ensureNamespace('iam_only');
    assert.deepEqual(await held(GLUE_ROLE, database('iam_only')), []);
    assert.deepEqual(await held(GLUE_ROLE, everyTable('iam_only')), []);
  });
});

describe('Lake Formation mode against aws-sdk-client-mock', () => {
  test('a grant that fails after the namespace was created is done again when the step is retried', async () => {
    const { mocks, ports } = mockedAws();
    mocks.s3tables.on(GetNamespaceCommand).rejectsOnce(awsError('NotFoundException', 'The specified namespace does not exist.', 404)).resolves({ namespace: ['shop'] });
    mocks.s3tables.on(CreateNamespaceCommand).resolves({ namespace: ['shop'] });
    mocks.lakeformation.on(ListPermissionsCommand).resolves({ PrincipalResourcePermissions: [] });
    mocks.lakeformation.on(BatchGrantPermissionsCommand).rejectsOnce(awsError('AccessDeniedException', 'User is not authorized to perform: lakeformation:BatchGrantPermissions', 403)).resolves({ Failures: [] });
    mocks.s3.on(GetObjectCommand).rejects(awsError('NoSuchKey', 'The specified key does not exist.', 404));

    const err = await portError(ports.lake.ensureNamespace('shop'));
    assert.equal(err.kind, 'access-denied');
    assert.match(err.message, /BatchGrantPermissions for 2 grants \(arn:aws:iam::123456789012:role\/lakesync-glue, \.\.\.\).*Lake Formation data lake administrator/);

    await ports.lake.ensureNamespace('shop');
    assert.equal(mocks.s3tables.commandCalls(CreateNamespaceCommand).length, 1, 'the namespace is created once');
    const entries = mocks.lakeformation.commandCalls(BatchGrantPermissionsCommand)[1]!.args[0].input.Entries;
    assert.deepEqual(entries, [
      { Id: '0', Principal: { DataLakePrincipalIdentifier: GLUE_ROLE }, Resource: database('shop'), Permissions: ['DESCRIBE', 'CREATE_TABLE'] },
      { Id: '1', Principal: { DataLakePrincipalIdentifier: GLUE_ROLE }, Resource: everyTable('shop'), Permissions: ['ALL'] },
    ]);
    // Once granted, a namespace that exists is not granted again.
    await ports.lake.ensureNamespace('shop');
    assert.equal(mocks.lakeformation.commandCalls(BatchGrantPermissionsCommand).length, 2);
  });

  test('a namespace another worker created meanwhile (ConflictException) still gets the grants', async () => {
    const { mocks, ports } = mockedAws();
    mocks.s3tables.on(GetNamespaceCommand).rejects(awsError('NotFoundException', 'not found', 404));
    mocks.s3tables.on(CreateNamespaceCommand).rejects(awsError('ConflictException', 'A namespace with an identical name already exists in the bucket.', 409));
    mocks.lakeformation.on(ListPermissionsCommand).resolves({ PrincipalResourcePermissions: [{ Principal: { DataLakePrincipalIdentifier: GLUE_ROLE }, Permissions: ['DESCRIBE', 'CREATE_TABLE', 'ALL'] }] });
    await ports.lake.ensureNamespace('shop');
    assert.equal(mocks.lakeformation.commandCalls(ListPermissionsCommand).length, 2);
    assert.equal(mocks.lakeformation.commandCalls(BatchGrantPermissionsCommand).length, 0, 'already held: nothing to grant');
  });
});

describe('aws.lakeFormation in lakesync.yaml', () => {
  const raw = (lakeFormation: unknown, grants: unknown[] = []) => {
    const source = awsSource({ raw: {} }) as unknown as Record<string, any>;
    return { sources: { shop: { ...source, grants, aws: { ...source.aws, ...(lakeFormation === undefined ? {} : { lakeFormation }) } } } };
  };
  const rejects = (config: unknown): ConfigError => {
    try {
      parseConfig(config);
    } catch (err) {
      assert.ok(err instanceof ConfigError, String(err));
      return err;
    }
    assert.fail('the config was accepted');
  };

  test('defaults to lakeformation, which keeps the configured grants', () => {
    const config = parseConfig(raw(undefined, [{ principal: READER }]));
    assert.deepEqual(config.sources.shop!.aws!.lakeFormation, { mode: 'lakeformation' });
    assert.equal(awsSettings('shop', config.sources.shop!).lakeFormation?.mode, 'lakeformation');
  });

  test('iam mode with no grants is accepted', () => {
    const config = parseConfig(raw({ mode: 'iam' }));
    assert.equal(awsSettings('shop', config.sources.shop!).lakeFormation?.mode, 'iam');
  });

  test('iam mode refuses Lake Formation grants with the fix', () => {
    const err = rejects(raw({ mode: 'iam' }, [{ principal: READER }]));
    assert.match(err.message, /sources\.shop\.grants/);
    assert.match(err.message, /Lake Formation grants do not apply.*IAM policy.*aws\.lakeFormation\.mode: lakeformation/s);
  });

  test('a grant principal Lake Formation cannot name is refused before any load, naming it and the forms it takes', () => {
    for (const principal of ['analyst', 'arn:aws:sts::123456789012:assumed-role/analyst/alice', 'arn:aws:iam::12345:role/analyst', 'arn:aws:iam::123456789012:policy/read']) {
      const err = rejects(raw(undefined, [{ principal }]));
      assert.match(err.message, /sources\.shop\.grants\.0\.principal/, principal);
      assert.match(err.message, /IAM role or user ARN/, principal);
    }
  });

  test('an ARN of a service Lake Formation does not grant to, or with spaces in its name, is refused before any load', () => {
    for (const principal of [
      'arn:aws:s3:::analytics-bucket',
      'arn:aws:lambda:us-east-1:123456789012:function:reader',
      'arn:aws:glue:us-east-1:123456789012:database/shop',
      'arn:aws:quicksight:us-east-1:123456789012:dashboard/sales',
      'arn:aws:iam::123456789012:role/analyst ',
      'arn:aws:iam::123456789012:role/data analyst',
    ]) {
      const err = rejects(raw(undefined, [{ principal }]));
      assert.match(err.message, /sources\.shop\.grants\.0\.principal/, principal);
      assert.match(err.message, /IAM role or user ARN/, principal);
    }
  });

  test('an IAM principal ARN in a form IAM never gives (a Region, a wildcard, a path without a name, an over-long name) is refused before any load', () => {
    for (const principal of [
      'arn:aws:iam:us-east-1:123456789012:role/analyst',
      'arn:aws:iam::123456789012:role/analyst*',
      'arn:aws:iam::123456789012:role/team/',
      'arn:aws:iam::123456789012:user/team/alice/',
      `arn:aws:iam::123456789012:role/${'r'.repeat(65)}`,
      `arn:aws:iam::123456789012:role/${'p/'.repeat(120)}analyst`,
    ]) {
      const err = rejects(raw(undefined, [{ principal }]));
      assert.match(err.message, /sources\.shop\.grants\.0\.principal/, principal);
    }
  });

  test('a QuickSight or IAM Identity Center ARN in a form those services never give (no name after the namespace, a missing or extra Region or account) is refused before any load', () => {
    for (const [principal, message] of [
      ['arn:aws:quicksight:us-east-2:123456789012:group/default', /QuickSight user or group.*user\/<namespace>\/<name>/s],
      ['arn:aws:quicksight:us-east-2:123456789012:user/default/', /QuickSight user or group/],
      ['arn:aws:quicksight:us-east-2:123456789012:user/alice', /QuickSight user or group/],
      ['arn:aws:quicksight::123456789012:group/default/analysts', /QuickSight ARN names its Region/],
      ['arn:aws:quicksight:us-east-2:12345:group/default/analysts', /names QuickSight account "12345", not a 12-digit account id/],
      ['arn:aws:identitystore:us-east-1::user/9067a0b4c2-1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d', /IAM Identity Center ARN names no Region and no account \(arn:aws:identitystore:::user\/<user id>/],
      ['arn:aws:identitystore::123456789012:group/9067c0a2-1234-5678-9abc-def012345678', /IAM Identity Center ARN names no Region and no account/],
      ['arn:aws:identitystore:::group/d-1234567890/9067c0a2-1234-5678-9abc-def012345678', /IAM Identity Center user or group/],
    ] as const) {
      const err = rejects(raw(undefined, [{ principal }]));
      assert.match(err.message, /sources\.shop\.grants\.0\.principal/, principal);
      assert.match(err.message, message, principal);
    }
    for (const principal of [
      'arn:aws:quicksight:us-east-1:123456789012:user/default/alice@example.com',
      'arn:aws:quicksight:eu-west-1:123456789012:user/default/ReaderRole/alice',
      'arn:aws:quicksight:us-east-1:123456789012:group/marketing/analysts',
      'arn:aws:identitystore:::user/9067a0b4c2-1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d',
    ]) {
      assert.doesNotThrow(() => parseConfig(raw(undefined, [{ principal }])), principal);
    }
  });

  test('the principals Lake Formation grants to are accepted', () => {
    for (const principal of [
      READER,
      'arn:aws:iam::123456789012:user/team/alice',
      'arn:aws:iam::123456789012:role/data.team+etl=1,x@y_z-2',
      `arn:aws:iam::123456789012:role/${'r'.repeat(64)}`,
      'arn:aws-cn:iam::123456789012:role/service-role/analyst',
      'arn:aws:iam::123456789012:saml-provider/corp:group/analysts',
      'arn:aws:quicksight:us-east-2:123456789012:group/default/analysts',
      'arn:aws:identitystore:::group/9067c0a2-1234-5678-9abc-def012345678',
      'arn:aws:organizations::123456789012:organization/o-abcdefghij',
      '210987654321',
      'IAM_ALLOWED_PRINCIPALS',
      // Every IAM principal of an account (ALLIAMPrincipals), as Lake Formation names it.
      '123456789012:IAMPrincipals',
    ]) {
      assert.doesNotThrow(() => parseConfig(raw(undefined, [{ principal }])), principal);
    }
  });

  test('ALL for a principal of another account or an organization (Super, which Lake Formation does not give outside the account) is refused before any load', () => {
    for (const [principal, grant] of [
      ['210987654321', { tablePermissions: ['ALL'] }],
      ['arn:aws:organizations::123456789012:organization/o-abcdefghij', { tablePermissions: ['SELECT', 'ALL'] }],
      ['arn:aws:iam::210987654321:role/analyst', { namespacePermissions: ['ALL'] }],
    ] as const) {
      const err = rejects(raw(undefined, [{ principal, ...grant }]));
      assert.match(err.message, /sources\.shop\.grants\.0/, principal);
      assert.match(err.message, /ALL.*another account or an organization/s, principal);
    }
    // In the lake's own account ALL is a permission Lake Formation grants.
    assert.doesNotThrow(() => parseConfig(raw(undefined, [{ principal: READER, tablePermissions: ['ALL'], namespacePermissions: ['ALL'] }])));
    assert.doesNotThrow(() => parseConfig(raw(undefined, [{ principal: '210987654321', tablePermissions: ['SELECT', 'DESCRIBE'] }])));
  });

  test('an unknown mode names the two there are', () => {
    const err = rejects(raw({ mode: 'hybrid' }));
    assert.match(err.message, /sources\.shop\.aws\.lakeFormation\.mode.*must be lakeformation or iam/s);
  });
});
