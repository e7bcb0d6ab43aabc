/**
 * Direct loads on AWS: the Glue job runs in the source's Glue connection and its run arguments
 * carry the JDBC address, the user and the password by reference only. Over HTTP against moto
 * server; moto does not implement UpdateJob, so the update of an existing job (connection added,
 * then removed) runs on aws-sdk-client-mock.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, beforeEach, describe, test } from 'node:test';
import { mockClient } from 'aws-sdk-client-mock';
import { CreateJobCommand, GetJobCommand, GlueClient, StartJobRunCommand, UpdateJobCommand } from '@aws-sdk/client-glue';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { buildAwsPorts } from '../../src/aws';
import { type AwsClients, createClients, destroyClients } from '../../src/aws/clients';
import { GlueLoads, runStatus } from '../../src/aws/glue';
import { jobSpec, withSpecHash } from '../../src/aws/glue-job';
import { packageGlueScripts } from '../../src/aws/glue-package';
import { directSourceSettings } from '../../src/aws/direct';
import { S3Objects } from '../../src/aws/s3';
import type { AwsSettings } from '../../src/aws/settings';
import { awsSettings } from '../../src/backends/aws';
import { sourceSchema } from '../../src/config/schema';
import { ConfigError, PortError } from '../../src/errors';
import type { LoadRequest, PlanEntry } from '../../src/model';
import type { Ports } from '../../src/ports';
import { type MotoServer, startMoto, useTestCredentials } from '../helpers/moto';
import { planEntry } from '../helpers/plan';
import { ACCOUNT, awsSource, EXPORT_BUCKET, glueScriptsFixture, REGION, SCRIPT_BUCKET } from './fixtures';

const PASSWORD = 'pw-Zq8!direct-load-7f3b';
const SECRET_NAME = 'shop-catalog';
const HOST = 'shop-db.abc123.us-east-2.rds.amazonaws.com';

let moto: MotoServer;
let scriptsDir: string;
let secretArn: string;
const open: AwsClients[] = [];

/** An RDS source with `public.events` read directly, through `source.catalog`. */
/** The CA bundle the job checks the server against with the default sslmode verify-full. */
const ROOT_CERT = 's3://shop-certs/rds/global-bundle.pem';

function rawDirectSource(catalog: Record<string, unknown>) {
  return {
    source: { kind: 'rds', instanceId: 'shop-db', catalog: { host: HOST, port: 5432, sslRootCert: ROOT_CERT, ...catalog } },
    tables: {
      'public.orders': { primaryKey: ['id'] },
      'public.events': { extract: 'direct', cursor: { column: 'id' }, direct: { partitions: 4 } },
    },
  };
}

function directSettings(catalog: Record<string, unknown>): AwsSettings {
  return awsSettings('shop', awsSource({ endpoint: moto.endpoint, raw: rawDirectSource(catalog) }), { glueScriptsDir: scriptsDir });
}

function exportSettings(): AwsSettings {
  return awsSettings('shop', awsSource({ endpoint: moto.endpoint }), { glueScriptsDir: scriptsDir });
}

/** The ports of `settings` with every Glue request body recorded as it goes over the wire. */
function portsOf(settings: AwsSettings): { ports: Ports; clients: AwsClients; bodies: { operation: string; body: string }[] } {
  const clients = createClients(settings);
  open.push(clients);
  const bodies: { operation: string; body: string }[] = [];
  clients.glue.middlewareStack.add(
    (next) => async (args) => {
      const request = (args as { request?: { body?: unknown; headers?: Record<string, string> } }).request;
      bodies.push({ operation: request?.headers?.['x-amz-target']?.split('.').pop() ?? '', body: String(request?.body ?? '') });
      return next(args);
    },
    { step: 'finalizeRequest', name: 'recordGlueBodies' },
  );
  return { clients, bodies, ports: buildAwsPorts(settings, clients) };
}

function request(ports: Ports, plan: PlanEntry, cycleId: string): LoadRequest {
  const base = { source: 'shop', cycleId, runToken: `${cycleId}:${plan.table}`, database: 'shop', plan, namespace: 'shop' };
  return { ...base, resultLocation: ports.load.resultLocation(base) };
}

const directEvents = planEntry({ table: 'public.events', lakeTable: 'events', action: 'incremental', cursor: { column: 'id', mode: 'append' }, extract: { kind: 'direct', partitions: 4 } });

/** The StartJobRun arguments as sent. */
function runArguments(bodies: { operation: string; body: string }[]): Record<string, string>[] {
  return bodies.filter((b) => b.operation === 'StartJobRun').map((b) => (JSON.parse(b.body) as { Arguments: Record<string, string> }).Arguments);
}

/** Fails when the password appears in any body, as it is or in the encodings a request could carry it in. */
function assertNoPassword(bodies: readonly string[]): void {
  const forms = [PASSWORD, encodeURIComponent(PASSWORD), JSON.stringify(PASSWORD).slice(1, -1), Buffer.from(PASSWORD).toString('base64')];
  for (const body of bodies) for (const form of forms) assert.ok(!body.includes(form), `a Glue request carries the database password (${form})`);
}

before(async () => {
  useTestCredentials();
  scriptsDir = glueScriptsFixture();
  moto = await startMoto();
});

beforeEach(async () => {
  await moto.reset();
  const config = { region: REGION, endpoint: moto.endpoint };
  const s3 = new S3Client({ ...config, forcePathStyle: true });
  for (const bucket of [EXPORT_BUCKET, SCRIPT_BUCKET]) await s3.send(new CreateBucketCommand({ Bucket: bucket, CreateBucketConfiguration: { LocationConstraint: REGION } }));
  s3.destroy();
  const secrets = new SecretsManagerClient(config);
  secretArn = (await secrets.send(new CreateSecretCommand({ Name: SECRET_NAME, SecretString: JSON.stringify({ username: 'lakesync_reader', password: PASSWORD }) }))).ARN!;
  secrets.destroy();
});

after(async () => {
  for (const clients of open) destroyClients(clients);
  await moto?.stop();
  rmSync(scriptsDir, { recursive: true, force: true });
});

describe('the Glue job of a source with direct tables (moto)', () => {
  test('is created with the source Glue connection; a source without direct tables lists none', async () => {
    const direct = portsOf(directSettings({ user: 'lakesync_reader', secretArn, glueConnection: 'shop-vpc' }));
    await direct.ports.load.startLoad(request(direct.ports, directEvents, 'c1'));
    const job = (await direct.clients.glue.send(new GetJobCommand({ JobName: 'lakesync-load-shop' }))).Job!;
    assert.deepEqual(job.Connections?.Connections, ['shop-vpc']);
    const create = direct.bodies.find((b) => b.operation === 'CreateJob');
    assert.deepEqual((JSON.parse(create!.body) as { Connections?: unknown }).Connections, { Connections: ['shop-vpc'] });

    await moto.reset();
    const s3 = new S3Client({ region: REGION, endpoint: moto.endpoint, forcePathStyle: true });
    await s3.send(new CreateBucketCommand({ Bucket: SCRIPT_BUCKET, CreateBucketConfiguration: { LocationConstraint: REGION } }));
    s3.destroy();
    const plain = portsOf(exportSettings());
    const orders = planEntry({ table: 'public.orders', lakeTable: 'orders', action: 'create', primaryKey: ['id'] });
    await plain.ports.load.startLoad({ ...request(plain.ports, orders, 'c2'), exportId: 'ls-shop-1', snapshotTime: '2025-01-01T00:00:00.000Z', exportLocation: `s3://${EXPORT_BUCKET}/lakesync/exports/ls-shop-1` });
    const plainJob = (await plain.clients.glue.send(new GetJobCommand({ JobName: 'lakesync-load-shop' }))).Job!;
    assert.deepEqual(plainJob.Connections?.Connections ?? [], []);
    assert.ok(!('Connections' in (JSON.parse(plain.bodies.find((b) => b.operation === 'CreateJob')!.body) as object)), 'CreateJob of an export-only source sends a Connections field');
  });

  test('a direct load runs with the JDBC URL, the user and the secret ARN, and no request carries the password', async () => {
    const { ports, bodies } = portsOf(directSettings({ user: 'lakesync_reader', secretArn, glueConnection: 'shop-vpc', database: 'shopdb', sslmode: 'require' }));
    await ports.load.startLoad(request(ports, directEvents, 'c1'));
    const [args] = runArguments(bodies);
    assert.ok(args, 'no StartJobRun was sent');
    assert.equal(args['--extract'], 'direct');
    assert.equal(args['--jdbc_url'], `jdbc:postgresql://${HOST}:5432/shopdb?sslmode=require`);
    // sslmode require checks no certificate: no CA bundle is sent.
    assert.ok(!('--jdbc_ssl_root_cert' in args), '--jdbc_ssl_root_cert is sent with sslmode require');
    assert.equal(args['--jdbc_user'], 'lakesync_reader');
    assert.equal(args['--jdbc_secret'], secretArn);
    assert.equal(args['--partitions'], '4');
    assert.equal(args['--cursor_column'], 'id');
    assert.deepEqual(Object.keys(args).filter((name) => /password|iam_auth/.test(name)), [], 'a direct load with a secret names a password variable or IAM auth');
    for (const absent of ['--export_path', '--export_id', '--snapshot_time']) assert.ok(!(absent in args), `${absent} is sent for a direct load`);
    // Every Glue request: CreateJob (default arguments) and StartJobRun (run arguments).
    assert.deepEqual([...new Set(bodies.map((b) => b.operation))].sort(), ['CreateJob', 'GetJob', 'StartJobRun']);
    assertNoPassword(bodies.map((b) => b.body));
    // The detector finds the password where it is: the assertion above can fail.
    assert.throws(() => assertNoPassword([JSON.stringify({ Arguments: { '--jdbc_password': PASSWORD } })]));
    assert.throws(() => assertNoPassword([`jdbc:postgresql://h/db?password=${encodeURIComponent(PASSWORD)}`]));
  });

  test('IAM database authentication: --jdbc_iam_auth true, no secret, SSL from the catalog', async () => {
    const { ports, bodies, clients } = portsOf(directSettings({ user: 'lakesync_iam', iamAuth: true, glueConnection: 'shop-vpc' }));
    await ports.load.startLoad(request(ports, directEvents, 'c1'));
    const [args] = runArguments(bodies);
    assert.equal(args!['--jdbc_iam_auth'], 'true');
    assert.equal(args!['--jdbc_user'], 'lakesync_iam');
    assert.equal(args!['--jdbc_url'], `jdbc:postgresql://${HOST}:5432/shop?sslmode=verify-full`);
    assert.equal(args!['--jdbc_ssl_root_cert'], ROOT_CERT);
    assert.ok(!('--jdbc_secret' in args!) && !('--jdbc_password_env' in args!));
    assert.deepEqual((await clients.glue.send(new GetJobCommand({ JobName: 'lakesync-load-shop' }))).Job!.Connections?.Connections, ['shop-vpc']);
  });

  test("a catalog secret without source.catalog.user: the job takes the secret's username, no --jdbc_user is sent", async () => {
    const { ports, bodies } = portsOf(directSettings({ secretArn, glueConnection: 'shop-vpc' }));
    await ports.load.startLoad(request(ports, directEvents, 'c1'));
    const [args] = runArguments(bodies);
    assert.ok(args, 'no StartJobRun was sent');
    assert.equal(args['--jdbc_secret'], secretArn);
    assert.ok(!('--jdbc_user' in args), '--jdbc_user is sent without a configured user');
    assert.equal(args['--jdbc_ssl_root_cert'], ROOT_CERT);
  });

  test('an export load of a source with direct tables gets no JDBC arguments', async () => {
    const { ports, bodies } = portsOf(directSettings({ user: 'lakesync_reader', secretArn, glueConnection: 'shop-vpc' }));
    const orders = planEntry({ table: 'public.orders', lakeTable: 'orders', action: 'merge', primaryKey: ['id'] });
    await ports.load.startLoad({ ...request(ports, orders, 'c1'), exportId: 'ls-shop-1', snapshotTime: '2025-01-01T00:00:00.000Z', exportLocation: `s3://${EXPORT_BUCKET}/lakesync/exports/ls-shop-1` });
    const [args] = runArguments(bodies);
    assert.deepEqual(Object.keys(args!).filter((name) => name.startsWith('--jdbc') || name === '--extract'), []);
    assert.equal(args!['--export_id'], 'ls-shop-1');
  });

  test('a direct plan entry on a source whose settings have no direct connection is refused before StartJobRun', async () => {
    const { ports, bodies } = portsOf(exportSettings());
    await assert.rejects(ports.load.startLoad(request(ports, directEvents, 'c1')), (err: unknown) => {
      assert.ok(err instanceof PortError);
      assert.equal(err.kind, 'validation');
      assert.match(err.message, /public\.events.*JDBC/);
      return true;
    });
    assert.deepEqual(runArguments(bodies), [], 'a run was started');
  });
});

describe('the job definition follows the direct tables (UpdateJob: moto lacks it, aws-sdk-client-mock)', () => {
  function loads(settings: AwsSettings) {
    const glue = new GlueClient({ region: REGION, credentials: { accessKeyId: 'a', secretAccessKey: 'b' } });
    const mock = mockClient(glue);
    const s3 = new S3Client({ region: REGION, credentials: { accessKeyId: 'a', secretAccessKey: 'b' } });
    const s3mock = mockClient(s3);
    s3mock.onAnyCommand().resolves({});
    return { glue, mock, loads: new GlueLoads(glue, new S3Objects(s3), settings) };
  }

  test('adding direct tables updates the job with the connection; removing them updates it without', async () => {
    const exportOnly = exportSettings();
    const direct = directSettings({ user: 'lakesync_reader', secretArn, glueConnection: 'shop-vpc' });
    const hash = packageGlueScripts(scriptsDir).hash;

    const added = loads(direct);
    added.mock.on(GetJobCommand).resolves({ Job: { Name: 'lakesync-load-shop', DefaultArguments: withSpecHash(jobSpec(exportOnly, hash)).DefaultArguments } });
    added.mock.on(UpdateJobCommand).resolves({ JobName: 'lakesync-load-shop' });
    await added.loads.ensureJob();
    const update = added.mock.commandCalls(UpdateJobCommand)[0]!.args[0].input;
    assert.deepEqual(update.JobUpdate?.Connections, { Connections: ['shop-vpc'] });
    assert.equal(added.mock.commandCalls(CreateJobCommand).length, 0);

    const removed = loads(exportOnly);
    removed.mock.on(GetJobCommand).resolves({ Job: { Name: 'lakesync-load-shop', Connections: { Connections: ['shop-vpc'] }, DefaultArguments: withSpecHash(jobSpec(direct, hash)).DefaultArguments } });
    removed.mock.on(UpdateJobCommand).resolves({ JobName: 'lakesync-load-shop' });
    await removed.loads.ensureJob();
    const without = removed.mock.commandCalls(UpdateJobCommand)[0]!.args[0].input;
    // UpdateJob replaces the whole definition: leaving Connections out takes the job out of the VPC.
    assert.ok(!('Connections' in (without.JobUpdate ?? {})), 'the update keeps the connection');

    const same = loads(direct);
    same.mock.on(GetJobCommand).resolves({ Job: { Name: 'lakesync-load-shop', DefaultArguments: withSpecHash(jobSpec(direct, hash)).DefaultArguments } });
    await same.loads.ensureJob();
    assert.equal(same.mock.commandCalls(UpdateJobCommand).length, 0, 'an up-to-date job is updated again');
    for (const l of [added, removed, same]) l.glue.destroy();
  });

  test('a CreateJob refused for the connection names the connection and lakesync doctor', async () => {
    const { mock, loads: glueLoads, glue } = loads(directSettings({ user: 'lakesync_reader', secretArn, glueConnection: 'shop-vpc' }));
    mock.on(GetJobCommand).rejects(Object.assign(new Error('Job not found'), { name: 'EntityNotFoundException', $metadata: { httpStatusCode: 400 } }));
    mock.on(CreateJobCommand).rejects(Object.assign(new Error('Connection shop-vpc not found'), { name: 'InvalidInputException', $metadata: { httpStatusCode: 400 } }));
    await assert.rejects(glueLoads.ensureJob(), /Glue connection shop-vpc \(source\.catalog\.glueConnection\).*lakesync doctor/);
    assert.equal(mock.commandCalls(StartJobRunCommand).length, 0);
    glue.destroy();
  });
});

test("a run failing on the connection's network says what to fix in the subnet or security group", () => {
  const failed = (message: string, connection?: string) => runStatus('jr_1', { JobRunState: 'FAILED', ErrorMessage: message }, 'lakesync-load-shop', 'arn:aws:iam::123456789012:role/g', connection).errorMessage ?? '';
  const s3 = 'VPC S3 endpoint validation failed for SubnetId: subnet-1. VPC: vpc-1. Reason: Could not find S3 endpoint or NAT gateway for subnetId: subnet-1 in Vpc vpc-1';
  assert.match(failed(s3, 'shop-vpc'), /Glue connection shop-vpc .* no way to S3: add an S3 gateway VPC endpoint/);
  assert.match(failed('At least one security group must open all ingress ports.', 'shop-vpc'), /inbound rule allowing all traffic from itself/);
  assert.match(failed('The specified subnet does not have enough free IP addresses', 'shop-vpc'), /no free IP addresses/);
  // A job outside any connection gets Glue's message alone.
  assert.equal(failed(s3), `${s3} (Glue run jr_1 of job lakesync-load-shop)`);
});

describe('config: what a source with direct tables needs on AWS', () => {
  test('no glueConnection, or no catalog at all, is refused when the config is validated', () => {
    const withoutConnection = sourceSchema.safeParse({ ...awsSourceRaw(), ...rawDirectSource({ user: 'lakesync_reader', secretArn: `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:x` }) });
    assert.equal(withoutConnection.success, false);
    assert.ok(withoutConnection.error!.issues.some((i) => i.path.join('.') === 'source.catalog.glueConnection' && /Glue connection/.test(i.message)), JSON.stringify(withoutConnection.error!.issues));
    const raw = rawDirectSource({});
    const withoutCatalog = sourceSchema.safeParse({ ...awsSourceRaw(), ...raw, source: { kind: 'rds', instanceId: 'shop-db' } });
    assert.equal(withoutCatalog.success, false);
    assert.ok(withoutCatalog.error!.issues.some((i) => i.path.join('.') === 'source.catalog'), JSON.stringify(withoutCatalog.error!.issues));
  });

  test('a catalog with a secret needs no database user (the job logs in as the secret\'s username); IAM authentication does', () => {
    const settings = directSettings({ secretArn: `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:x`, glueConnection: 'shop-vpc' });
    assert.equal(settings.direct!.user, undefined);
    // The config refuses iamAuth without a user; the port factory refuses it too, for settings built without the schema.
    assert.throws(() => directSettings({ iamAuth: true, glueConnection: 'shop-vpc' }), /iamAuth signs its token for one database user: set user/);
    assert.throws(
      () => directSourceSettings({ path: 'sources.shop.source.catalog', directTables: ['public.events'], glueConnection: 'shop-vpc', catalog: { host: HOST, port: 5432, database: 'shop', auth: { kind: 'iam' }, sslmode: 'require', region: REGION } }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.equal(err.issues[0]!.path, 'sources.shop.source.catalog.user');
        assert.match(err.issues[0]!.message, /public\.events.*extract: direct with iamAuth/);
        return true;
      },
    );
  });

  test('the direct settings carry the connection and the login by reference; a source without direct tables has none', () => {
    const settings = directSettings({ user: 'lakesync_reader', secretArn: `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:x`, glueConnection: 'shop-vpc', database: 'shopdb' });
    assert.deepEqual(settings.direct, {
      glueConnection: 'shop-vpc',
      host: HOST,
      port: 5432,
      database: 'shopdb',
      user: 'lakesync_reader',
      auth: { kind: 'secret', secretArn: `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:x` },
      sslmode: 'verify-full',
      sslRootCert: ROOT_CERT,
    });
    assert.equal(exportSettings().direct, undefined);
  });
});

/** The fixture source as raw config, to validate variants of it. */
function awsSourceRaw(): Record<string, unknown> {
  return {
    backend: 'aws',
    database: 'shop',
    target: { namespace: 'shop' },
    aws: {
      region: REGION,
      accountId: ACCOUNT,
      export: { bucket: EXPORT_BUCKET, iamRoleArn: `arn:aws:iam::${ACCOUNT}:role/lakesync-export`, kmsKeyId: 'alias/lakesync-export' },
      tableBucket: { name: 'shop-lake' },
      glue: { roleArn: `arn:aws:iam::${ACCOUNT}:role/lakesync-glue`, scriptBucket: SCRIPT_BUCKET },
      athena: { outputLocation: 's3://shop-athena/results/' },
    },
  };
}
