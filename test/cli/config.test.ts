/**
 * Commands that need no Temporal server: validate, init, plan offline, query and grants, usage
 * and config errors (exit 2, naming the field), the published JSON Schemas, docker-compose.yml
 * against the compose specification, the Dockerfile and the package's bin script.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Ajv2019 from 'ajv/dist/2019';
import Ajv2020 from 'ajv/dist/2020';
import Ajv from 'ajv';
import { parse as parseYaml } from 'yaml';
import { SCHEMA_FILES, configJsonSchema, messagesJsonSchema, schemaText } from '../../src/cli/schemas';
import { type CliDeps, tableList } from '../../src/cli/context';
import { checkTimeZone } from '../../src/cli/commands/schedule';
import { initialState, rerunPayloadProblem, reservedRequestIdProblem, syncProblem, unqualifiedProblem } from '../../src/workflows/ledger';
import type { RerunRequest, SyncRequest } from '../../src/workflows/messages';
import type { Ports } from '../../src/ports';
import composeSpec from './fixtures/compose-spec.json';
import { rdsSourceConfig } from '../helpers/source-config';
import { CLI, ROOT, cliEnv, json, runCli, runCliInProcess, tempDir, writeConfig } from './helpers';

const tmp = tempDir('config');
after(() => tmp.remove());

/** An address where nothing listens: commands that need Temporal fail, plan goes on without it. */
const NOWHERE = '127.0.0.1:9';

function validConfig(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    // Nothing answers there: a command gives up after a second, not the default ten.
    temporal: { address: NOWHERE, taskQueue: 'config-test', connectTimeoutSeconds: 1 },
    sources: {
      shop: {
        database: 'fake',
        source: { kind: 'fake', tables: ['public.orders', 'public.customers', 'public.card_pii'] },
        target: { namespace: 'shop', tableName: '{schema}_{table}' },
        exclude: ['*.*_pii'],
        tables: { 'public.orders': { primaryKey: ['id'], cursor: { column: 'updated_at' } } },
        ...overrides,
      },
    },
  };
}

const goodFile = writeConfig(join(tmp.dir, 'good.yaml'), validConfig());

/** A valid config as YAML text, to which a case appends lines of the source shop (4-space indent). */
const VALID_YAML = 'sources:\n  shop:\n    database: fake\n    source: { kind: fake, tables: 2 }\n    target: { namespace: shop }\n';

const inProcess = (args: string[], deps: CliDeps = {}) => runCliInProcess(args, tmp.dir, deps);

describe('lakesync validate and config errors', () => {
  it('validate accepts a good config and summarises it (text and JSON)', async () => {
    const text = await runCli(['validate', '--config', goodFile]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /good\.yaml: valid/);
    assert.match(text.stdout, /source shop: local backend, fake source, lake namespace shop, include \*\.\* , exclude \*\.\*_pii|source shop: local backend, fake source, lake namespace shop, include \*\.\*, exclude \*\.\*_pii/);
    const data = json<{ valid: boolean; temporal: { address: string; taskQueue: string } }>(await runCli(['validate', '--json', '--config', goodFile]));
    assert.equal(data.valid, true);
    assert.deepEqual(data.temporal, { address: NOWHERE, namespace: 'default', taskQueue: 'config-test' });
  });

  it('validate and plan show the globs of the config escaped: a control character in one cannot drive the terminal', async () => {
    const file = writeConfig(join(tmp.dir, 'control-glob.yaml'), validConfig({ include: ['public.*'], exclude: ['*.*_pii', 'public.\u001b[2J*', 'public.{customers,\u0007}'] }));
    const validated = await inProcess(['validate', '--config', file]);
    assert.equal(validated.code, 0, validated.stderr);
    assert.match(validated.stdout, /exclude \*\.\*_pii public\.\\x1b\[2J\*/);
    const planned = await inProcess(['plan', 'shop', '--config', file]);
    assert.equal(planned.code, 0, planned.stderr);
    assert.match(planned.stdout, /public\.customers {2}excluded by rule "exclude public\.\{customers,\\x07\}"/);
    for (const out of [validated.stdout, planned.stdout]) assert.ok(!/[\u0000-\u0009\u000b-\u001f]/.test(out), out);
  });

  it('TEMPORAL_ADDRESS, which wins over temporal.address, is checked as strictly (exit 2)', async () => {
    const run = await runCli(['validate', '--config', goodFile], { env: { TEMPORAL_ADDRESS: 'http://h:1' } });
    assert.equal(run.code, 2, run.stdout);
    assert.match(run.stderr, /TEMPORAL_ADDRESS \(environment variable\) \(got "http:\/\/h:1"\): is not host:port: give host:port, e\.g\. localhost:7233/);
    assert.equal((await runCli(['validate', '--config', goodFile], { env: { TEMPORAL_ADDRESS: '127.0.0.1:7233' } })).code, 0);
    // --json prints the issue as it prints the config's own.
    const asJson = await runCli(['validate', '--json', '--config', goodFile], { env: { TEMPORAL_ADDRESS: 'http://h:1' } });
    assert.equal(asJson.code, 2);
    const out = json<{ valid: boolean; issues: { path: string; value: unknown }[] }>(asJson);
    assert.equal(out.valid, false);
    assert.deepEqual(out.issues.map((i) => [i.path, i.value]), [['TEMPORAL_ADDRESS (environment variable)', 'http://h:1']]);
  });

  it('LAKESYNC_TASK_QUEUE and TEMPORAL_NAMESPACE, which win over the config, are refused when set but blank (exit 2)', async () => {
    for (const [name, value] of [['LAKESYNC_TASK_QUEUE', ''], ['TEMPORAL_NAMESPACE', ''], ['LAKESYNC_TASK_QUEUE', '  ']] as const) {
      const run = await runCli(['validate', '--config', goodFile], { env: { [name]: value } });
      assert.equal(run.code, 2, `${name}=${JSON.stringify(value)}: ${run.stdout}`);
      assert.match(run.stderr, new RegExp(`${name} \\(environment variable\\) \\(got "${value}"\\): is blank: unset it to use the config's temporal\\.`));
    }
    const set = json<{ temporal: { namespace: string; taskQueue: string } }>(await runCli(['validate', '--json', '--config', goodFile], { env: { LAKESYNC_TASK_QUEUE: 'q2', TEMPORAL_NAMESPACE: 'ns2' } }));
    assert.deepEqual(set.temporal, { address: NOWHERE, namespace: 'ns2', taskQueue: 'q2' });
  });

  const broken: { name: string; content: string | (() => unknown); field: RegExp }[] = [
    { name: 'missing file', content: '', field: /\(file\) \(got ".*missing\.yaml"\): cannot read the config file/ },
    { name: 'not YAML', content: 'sources: [unclosed', field: /\(file\).*is not valid YAML/ },
    { name: 'unknown top-level field', content: () => ({ ...validConfig(), bogus: 1 }), field: /\(root\).*unknown field\(s\) bogus/ },
    { name: 'bad lake namespace', content: () => validConfig({ target: { namespace: 'Bad-Name' } }), field: /sources\.shop\.target\.namespace \(got "Bad-Name"\): is not a valid lake name/ },
    { name: 'missing database', content: () => { const c = validConfig(); delete (c.sources as Record<string, Record<string, unknown>>).shop!.database; return c; }, field: /sources\.shop\.database: is required/ },
    { name: 'bad source name', content: () => ({ sources: { Shop: (validConfig().sources as Record<string, unknown>).shop } }), field: /sources\.Shop \(got "Shop"\): source names are/ },
    { name: 'table key not schema.table', content: () => validConfig({ tables: { orders: {} } }), field: /sources\.shop\.tables\.orders \(got "orders"\): table keys must be schema\.table/ },
    { name: 'concurrency 0', content: () => validConfig({ concurrency: 0 }), field: /sources\.shop\.concurrency \(got 0\): must be at least 1/ },
    // 1e-7 h would be written "1e-7h", a duration Temporal cannot read: every cycle's workflow task would fail.
    { name: 'loadHours too small', content: () => validConfig({ timeouts: { loadHours: 1e-7 } }), field: /sources\.shop\.timeouts\.loadHours \(got 1e-7\): must be at least 0\.001 \(3\.6 seconds\)/ },
    // Bounds and types the schema states without words of its own are said as what the value must be.
    { name: 'batchSize too big', content: () => validConfig({ batchSize: 501 }), field: /sources\.shop\.batchSize \(got 501\): must be at most 500$/m },
    { name: 'fractional connect timeout', content: () => ({ ...validConfig(), temporal: { address: NOWHERE, connectTimeoutSeconds: 1.5 } }), field: /temporal\.connectTimeoutSeconds \(got 1\.5\): must be a whole number$/m },
    { name: 'no grant permission', content: () => validConfig(rdsSourceConfig({ grants: [{ principal: 'arn:aws:iam::123456789012:role/analysts', tablePermissions: [] }] })), field: /sources\.shop\.grants\.0\.tablePermissions \(got "\[array of 0\]"\): cannot be an empty list: list at least one$/m },
    // YAML reads a key with nothing after it as null, and .inf / 1e400 as Infinity: the message says so and what to write.
    { name: 'table key without settings', content: `${VALID_YAML}    tables:\n      public.orders:\n`, field: /sources\.shop\.tables\.public\.orders \(got null\): is empty: give its settings \(an object\), or remove it$/m },
    { name: 'empty include', content: `${VALID_YAML}    include:\n`, field: /sources\.shop\.include \(got null\): is empty: give a list, or remove it$/m },
    { name: 'unquoted number for text', content: `${VALID_YAML.replace('database: fake', 'database: 2024')}`, field: /sources\.shop\.database \(got 2024\): YAML reads it as a number and it must be text: put the value in quotes as written \(an unquoted number loses its leading zeros\)$/m },
    { name: 'infinite concurrency', content: `${VALID_YAML}    concurrency: .inf\n`, field: /sources\.shop\.concurrency \(got "Infinity"\): must be a finite number$/m },
    { name: 'NaN delete fraction', content: `${VALID_YAML}    safety: { maxDeleteFraction: .nan }\n`, field: /sources\.shop\.safety\.maxDeleteFraction \(got "NaN"\): must be a finite number$/m },
    // Rules across fields show the value at the field they name, or none when it is not set.
    { name: 'rds source on the local backend', content: () => validConfig({ backend: 'local', source: { kind: 'rds', instanceId: 'shop-db' } }), field: /sources\.shop\.backend \(got "local"\): an rds source needs backend aws/ },
    { name: 'rds source, backend left out', content: () => validConfig({ source: { kind: 'rds', instanceId: 'shop-db' } }), field: /sources\.shop\.backend: an rds source needs backend aws/ },
    { name: 'incremental without a cursor', content: () => validConfig({ tables: { 'public.orders': { action: 'incremental' } } }), field: /sources\.shop\.tables\.public\.orders\.cursor: / },
    { name: 'aws backend without aws section', content: () => validConfig(rdsSourceConfig({ aws: undefined })), field: /sources\.shop\.aws\b.*: backend aws needs an aws section/ },
    // The environment variables refuse a blank task queue or namespace; the config must too.
    { name: 'blank task queue', content: () => ({ ...validConfig(), temporal: { address: NOWHERE, taskQueue: '  ' } }), field: /temporal\.taskQueue \(got " {2}"\): is blank: give a task queue name, or remove it to use the default lakesync/ },
    { name: 'blank namespace', content: () => ({ ...validConfig(), temporal: { address: NOWHERE, namespace: ' ' } }), field: /temporal\.namespace \(got " "\): is blank: give a namespace, or remove it to use the default namespace "default"/ },
    // Glue CreateJob takes a Name of 1 to 255 bytes on a single line.
    { name: 'glue job name too long', content: () => validConfig(rdsSourceConfig({ aws: { glue: { jobName: `j-{source}-${'x'.repeat(250)}` } } })), field: /sources\.shop\.aws\.glue\.jobName \(got "j-shop-x+"\): is 257 bytes long, and a Glue job name is at most 255: give a shorter name/ },
    { name: 'glue job name on two lines', content: () => validConfig(rdsSourceConfig({ aws: { glue: { jobName: 'load\nshop' } } })), field: /sources\.shop\.aws\.glue\.jobName .*: holds a line break or control character, which a Glue job name cannot/ },
    { name: 'check on an excluded table', content: () => validConfig({ verify: { checks: [{ name: 'n', table: 'public.card_pii', sql: 'select 1', expect: 1 }] } }), field: /sources\.shop\.verify\.checks\.0\.table \(got "public\.card_pii"\): the check names a table this source does not sync/ },
  ];

  for (const b of broken) {
    it(`validate: ${b.name} -> exit 2 naming the field`, async () => {
      const file = join(tmp.dir, b.name === 'missing file' ? 'missing.yaml' : `${b.name.replace(/\W+/g, '-')}.yaml`);
      if (typeof b.content === 'string' && b.content) writeFileSync(file, b.content);
      if (typeof b.content === 'function') writeConfig(file, b.content());
      const run = await inProcess(['validate', '--config', file]);
      assert.equal(run.code, 2);
      assert.match(run.stderr, /^error: (invalid configuration in .*\.yaml:|invalid configuration:\n  - \(file\))/);
      assert.match(run.stderr, b.field);
    });
  }

  it('validate --json lists the issues with path, value and message', async () => {
    const file = writeConfig(join(tmp.dir, 'json-issues.yaml'), validConfig({ concurrency: 0 }));
    const run = await runCli(['validate', '--json', '--config', file]);
    assert.equal(run.code, 2);
    const out = json<{ valid: boolean; issues: { path: string; value: unknown; message: string }[] }>(run);
    assert.equal(out.valid, false);
    assert.deepEqual(out.issues, [{ path: 'sources.shop.concurrency', value: 0, message: 'must be at least 1' }]);
  });

  it('validate --json redacts a rejected connection URL\'s password as the text output does', async () => {
    const file = writeConfig(join(tmp.dir, 'password.yaml'), validConfig({ source: { kind: 'postgres', url: 'postgress://admin:S3cretPass@db.example.com/shop' } }));
    const text = await inProcess(['validate', '--config', file]);
    assert.equal(text.code, 2);
    const run = await inProcess(['validate', '--json', '--config', file]);
    assert.equal(run.code, 2);
    for (const out of [text.stderr, run.stdout, run.stderr]) assert.doesNotMatch(out, /S3cretPass/);
    const issue = json<{ issues: { path: string; value: unknown }[] }>(run).issues.find((i) => i.path === 'sources.shop.source.url');
    assert.equal(issue?.value, 'postgress://admin:***@db.example.com/shop');
  });

  it('every command that reads the config exits 2 and names the field on a config error', async () => {
    const file = writeConfig(join(tmp.dir, 'bad-for-all.yaml'), validConfig({ target: { namespace: 'Bad-Name' } }));
    const commands = [
      ['plan', 'shop'], ['sync', 'shop'], ['rerun', 'shop', '--failed'], ['status', 'shop'], ['status', 'shop', '--watch'], ['watermarks', 'shop'],
      ['query', 'shop', 'select 1'], ['grants', 'shop'], ['schedule', 'create', 'shop', '--every', '1h'], ['schedule', 'describe', 'shop'],
      ['schedule', 'pause', 'shop'], ['schedule', 'trigger', 'shop'], ['schedule', 'delete', 'shop'], ['worker'], ['dev', '--port', '1', '--ui-port', '2'],
    ];
    for (const args of commands) {
      const run = await inProcess([...args, '--config', file]);
      assert.equal(run.code, 2, `lakesync ${args.join(' ')}: ${run.stderr}`);
      assert.match(run.stderr, /sources\.shop\.target\.namespace \(got "Bad-Name"\)/, `lakesync ${args.join(' ')}`);
    }
    // The real binary too (exit code of the process).
    const spawned = await runCli(['sync', 'shop', '--config', file]);
    assert.equal(spawned.code, 2);
    assert.match(spawned.stderr, /sources\.shop\.target\.namespace/);
  });

  it('a config error names the config file it is in, for a bad field and for an unknown source', async () => {
    const file = writeConfig(join(tmp.dir, 'names-the-file.yaml'), validConfig({ concurrency: 0 }));
    for (const args of [['validate'], ['sync', 'shop'], ['worker']]) {
      const run = await inProcess([...args, '--config', file]);
      assert.equal(run.code, 2, args.join(' '));
      assert.ok(run.stderr.startsWith(`error: invalid configuration in ${file}:\n`), `lakesync ${args.join(' ')}: ${run.stderr}`);
      assert.match(run.stderr, /sources\.shop\.concurrency \(got 0\): must be at least 1/);
    }
    const unknown = await inProcess(['status', 'nope', '--config', goodFile]);
    assert.equal(unknown.code, 2);
    assert.ok(unknown.stderr.startsWith(`error: invalid configuration in ${goodFile}:\n`), unknown.stderr);
  });

  it('an unknown source is a config error naming sources.<name>', async () => {
    for (const args of [['plan', 'nope'], ['sync', 'nope'], ['status', 'nope'], ['schedule', 'create', 'nope', '--every', '1h']]) {
      const run = await inProcess([...args, '--config', goodFile]);
      assert.equal(run.code, 2, args.join(' '));
      assert.match(run.stderr, /sources\.nope \(got "nope"\): no such source; the config defines: shop/);
    }
  });
});

describe('usage errors exit 2', () => {
  const cases: { args: string[]; message: RegExp }[] = [
    { args: ['bogus'], message: /unknown command 'bogus'/ },
    { args: ['sync'], message: /missing required argument 'source'/ },
    { args: ['sync', 'shop', '--frobnicate'], message: /unknown option '--frobnicate'/ },
    { args: ['rerun', 'shop'], message: /rerun needs exactly one of --failed or --tables/ },
    { args: ['rerun', 'shop', '--failed', '--tables', 'public.orders'], message: /rerun needs exactly one of --failed or --tables/ },
    { args: ['rerun', 'shop', '--tables', 'orders'], message: /--tables: orders is not schema\.table/ },
    // --rebuild takes every word after it: a source given after its tables is taken as one, and the error says so.
    { args: ['rerun', '--rebuild', 'public.orders', 'shop'], message: /no source given: --rebuild takes every word after it as a table, and took "shop": give the source first, e.g\. lakesync rerun shop --rebuild public\.orders/ },
    { args: ['rerun', '--rebuild', 'public.orders', 'public.items'], message: /no source given: --rebuild takes every word after it as a table.*lakesync rerun <source> --rebuild public\.orders public\.items/ },
    { args: ['rerun', '--failed'], message: /missing required argument 'source'/ },
    { args: ['sync', 'shop', '--tables', ' , '], message: /--tables needs at least one table/ },
    { args: ['schedule', 'create', 'shop'], message: /exactly one of --cron <expression> or --every <duration>/ },
    { args: ['schedule', 'create', 'shop', '--every', '6 hours'], message: /--every "6 hours": use a number and a unit/ },
    { args: ['schedule', 'create', 'shop', '--cron', '0 2 *'], message: /a cron expression has 5 fields/ },
    // Temporal reads a sixth field as the year, not as Quartz's or Spring's leading seconds: "0 0 2 * * *" would run at midnight on the 2nd of each month.
    { args: ['schedule', 'create', 'shop', '--cron', '0 0 2 * * *'], message: /--cron "0 0 2 \* \* \*" has 6 fields: Temporal reads them as minute hour day-of-month month day-of-week year, not with seconds first.*"0 2 \* \* \*"/ },
    { args: ['schedule', 'create', 'shop', '--cron', '0 0 2 * * ?'], message: /--cron "0 0 2 \* \* \?" has 6 fields/ },
    // Temporal runs only on days matching both day fields (crontab on days matching either): "0 2 1 * MON" would run on the Mondays that are the 1st, a few times a year.
    { args: ['schedule', 'create', 'shop', '--cron', '0 2 1 * MON'], message: /--cron "0 2 1 \* MON" restricts both the day of the month \(1\) and the day of the week \(MON\): Temporal runs it only on days that match both.*crontab.*either.*--cron "0 2 1 \* \*" --cron "0 2 \* \* MON".*--match-both-days/ },
    { args: ['schedule', 'create', 'shop', '--cron', '0 2 * * *', '--cron', 'CRON_TZ=Europe/Paris 30 4 1,15 * 1-5'], message: /--cron "CRON_TZ=Europe\/Paris 30 4 1,15 \* 1-5" restricts both.*--cron "CRON_TZ=Europe\/Paris 30 4 1,15 \* \*" --cron "CRON_TZ=Europe\/Paris 30 4 \* \* 1-5"/ },
    { args: ['schedule', 'create', 'shop', '--cron', '0 0 2 1 * MON 2030'], message: /--cron "0 0 2 1 \* MON 2030" restricts both the day of the month \(1\) and the day of the week \(MON\)/ },
    // The zone a cron expression names itself is read by the server as --time-zone is ("unknown time zone europe/paris").
    { args: ['schedule', 'create', 'shop', '--cron', 'CRON_TZ=europe/paris 0 2 * * *'], message: /--cron "CRON_TZ=europe\/paris 0 2 \* \* \*": CRON_TZ=europe\/paris is not an IANA time zone name: did you mean Europe\/Paris\?/ },
    // It would never run, yet be created (exit 0).
    { args: ['schedule', 'create', 'shop', '--every', '99999999999d'], message: /--every 99999999999d: give an interval from 1s to 366d/ },
    { args: ['schedule', 'create', 'shop', '--every', '0s'], message: /--every 0s: give an interval from 1s to 366d/ },
    // The id would be lakesync/shop/ (and its trigger's workflow id lakesync/shop/trigger-).
    { args: ['schedule', 'create', 'shop', '--every', '1h', '--name', ''], message: /--name "": a schedule name is 1-63 letters, digits, - and _/ },
    { args: ['schedule', 'delete', 'shop', '--name', 'a/b'], message: /--name "a\/b": a schedule name is/ },
    { args: ['schedule', 'create', 'shop', '--every', '1h', '--time-zone', 'Mars/Olympus'], message: /not an IANA time zone/ },
    // "@every" in a cron expression is an interval, counted from the Unix epoch as --every is: a zone would change none of its times.
    { args: ['schedule', 'create', 'shop', '--cron', '@every 1d', '--time-zone', 'Europe/Paris'], message: /--cron "@every 1d" is an interval: --time-zone applies to the times of a cron expression only/ },
    // The Temporal server reads zone names case-sensitively ("unknown time zone europe/paris"): the right name is suggested.
    { args: ['schedule', 'create', 'shop', '--cron', '0 2 * * *', '--time-zone', 'europe/paris'], message: /--time-zone "europe\/paris" is not an IANA time zone name: did you mean Europe\/Paris\?/ },
    { args: ['schedule', 'create', 'shop', '--cron', '0 2 * * *', '--time-zone', 'us/pacific'], message: /--time-zone "us\/pacific" is not an IANA time zone name: did you mean America\/Los_Angeles\?/ },
    { args: ['schedule', 'create', 'shop', '--cron', '0 2 * * *', '--time-zone', 'Europe/Pariss'], message: /--time-zone "Europe\/Pariss" is not an IANA time zone name: did you mean Europe\/Paris\?/ },
    { args: ['schedule', 'create', 'shop', '--cron', '0 2 * * *', '--time-zone', 'Paris'], message: /did you mean Europe\/Paris\?/ },
    // A fixed offset: the IANA name inverts the sign (Etc/GMT-1 is UTC+1).
    { args: ['schedule', 'create', 'shop', '--cron', '0 2 * * *', '--time-zone', 'UTC+1'], message: /--time-zone "UTC\+1" is not an IANA time zone name: did you mean Etc\/GMT-1 \(a fixed UTC\+1, no daylight saving time\)\?/ },
    { args: ['schedule', 'create', 'shop', '--cron', '0 2 * * *', '--time-zone', 'GMT-05:00'], message: /did you mean Etc\/GMT\+5 / },
    { args: ['schedule', 'create', 'shop', '--every', '1h', '--overlap', 'sometimes'], message: /argument 'sometimes' is invalid\. Allowed choices are skip, buffer-one/ },
    { args: ['schedule', 'create', 'shop', '--every', '1h', '--rerun-failed', '--tables', 'public.orders'], message: /--rerun-failed and --tables do not go together/ },
    { args: ['schedule', 'backfill', 'shop', '--from', 'yesterday', '--to', '2025-01-01'], message: /--from "yesterday" is not a date/ },
    { args: ['schedule', 'backfill', 'shop', '--from', '2025-01-02', '--to', '2025-01-01'], message: /--to must be after --from/ },
    // Temporal takes at once the actions of the whole range, those of times still to come too (and then again at their time).
    { args: ['schedule', 'backfill', 'shop', '--from', '2025-01-01', '--to', '2999-01-01'], message: /--to 2999-01-01T00:00:00\.000Z is in the future: a backfill takes now the actions of its whole range/ },
    // Date() reads it as 2 March: the backfill would cover 2-5 March instead of refusing the date.
    { args: ['schedule', 'backfill', 'shop', '--from', '2025-02-30', '--to', '2025-03-05'], message: /--from "2025-02-30" is not a date/ },
    { args: ['dev', '--port', 'seventy'], message: /--port "seventy" is not a port number/ },
    // Number() reads these as 4096, 1000 and 80: a port is given in decimal digits only (a binary that exits at once, should one start).
    { args: ['dev', '--port', '0x1000', '--temporal-bin', '/bin/false'], message: /--port "0x1000" is not a port number \(1-65535\)/ },
    { args: ['dev', '--ui-port', '1e3', '--temporal-bin', '/bin/false'], message: /--ui-port "1e3" is not a port number \(1-65535\)/ },
    { args: ['dev', '--port', ' 80', '--temporal-bin', '/bin/false'], message: /--port " 80" is not a port number \(1-65535\)/ },
    // The server would start (its state file written) and die: the UI cannot listen where gRPC does.
    { args: ['dev', '--port', '7300', '--ui-port', '7300', '--temporal-bin', '/bin/false'], message: /--ui-port 7300 is the --port too: the Web UI and the gRPC server need a port each/ },
    { args: ['init', '--source', 'Bad Name'], message: /--source "Bad Name": source names are/ },
    { args: ['query', 'shop', '  '], message: /give the SQL to run/ },
    { args: ['status', 'shop', '--watch', '--interval', 'fast'], message: /--interval must be a whole number of milliseconds from 100 to 3600000 .*got "fast"/ },
    { args: ['status', 'shop', '--watch', '--interval', '10'], message: /--interval must be a whole number of milliseconds from 100 to 3600000/ },
    // Past 2^31 - 1 ms a Node timer fires at once: --watch would poll the server without pause.
    { args: ['status', 'shop', '--watch', '--interval', '3000000000'], message: /--interval must be a whole number of milliseconds from 100 to 3600000/ },
    { args: ['status', 'shop', '--interval', '1.5'], message: /--interval must be a whole number of milliseconds/ },
  ];
  for (const c of cases) {
    it(`lakesync ${c.args.join(' ')}`, async () => {
      const run = await inProcess([...c.args, '--config', goodFile]);
      assert.equal(run.code, 2, run.stdout + run.stderr);
      assert.match(run.stderr, c.message);
    });
  }

  it('--time-zone takes the names the Temporal server takes: canonical zones, links and UTC', () => {
    for (const tz of ['UTC', 'Etc/UTC', 'Europe/Paris', 'US/Pacific', 'Etc/GMT-1', 'America/Argentina/Buenos_Aires', 'EST5EDT', 'America/Port-au-Prince']) assert.doesNotThrow(() => checkTimeZone(tz), tz);
    assert.throws(() => checkTimeZone('utc'), /did you mean UTC\?/);
    assert.throws(() => checkTimeZone('Mars/Olympus'), /--time-zone "Mars\/Olympus" is not an IANA time zone name \(e\.g\. UTC, Europe\/Paris, America\/New_York\)/);
  });

  it('--tables takes the table names the config takes: trimmed, split on commas, spaces inside a table name allowed', () => {
    assert.deepEqual(tableList(' public.Odd Name , public.orders,public.orders', '--tables'), ['public.Odd Name', 'public.orders']);
    for (const bad of ['orders', '.orders', 'public.', 'my schema.orders', 'a.b.c']) assert.throws(() => tableList(bad, '--tables'), /is not schema\.table/, bad);
  });

  it('--tables naming a table the rules exclude is refused (exit 2) before Temporal is reached; an included one goes on', async () => {
    const refusals = [
      ['sync', 'shop', '--tables', 'public.orders,public.card_pii'],
      ['schedule', 'create', 'shop', '--every', '1h', '--tables', 'public.card_pii'],
      ['rerun', 'shop', '--tables', 'public.card_pii'],
      ['rerun', 'shop', '--rebuild', 'public.card_pii'],
    ];
    for (const args of refusals) {
      const run = await inProcess([...args, '--config', goodFile]);
      assert.equal(run.code, 2, `${args.join(' ')}: ${run.stderr}`);
      const flag = args.includes('--rebuild') ? '--rebuild' : '--tables';
      assert.match(run.stderr, new RegExp(`${flag}: the source's rules leave out public\\.card_pii \\(exclude \\*\\.\\*_pii\\): remove them from ${flag}, or change include/exclude in the config`));
    }
    const included = await inProcess(['sync', 'shop', '--tables', 'public.orders', '--config', goodFile]);
    assert.equal(included.code, 1);
    assert.match(included.stderr, /cannot reach Temporal/);
  });

  it('a cron expression with one day field left open (starting with *, or ?), or --match-both-days, passes on to Temporal', async () => {
    for (const extra of [['--cron', '0 2 */2 * MON'], ['--cron', '0 2 1 * *'], ['--cron', '0 2 ? * MON'], ['--cron', '0 2 1 * ?'], ['--cron', '@weekly'], ['--cron', '0 2 1-7 * MON', '--match-both-days']]) {
      const run = await inProcess(['schedule', 'create', 'shop', ...extra, '--config', goodFile]);
      assert.equal(run.code, 1, `${extra.join(' ')}: ${run.stderr}`);
      assert.match(run.stderr, /cannot reach Temporal/);
    }
  });

  it('schedule --overlap help says it governs the short trigger workflow, not a running sync', async () => {
    for (const verb of ['create', 'trigger']) {
      const run = await runCli(['schedule', verb, '--help']);
      assert.equal(run.code, 0);
      const help = run.stdout.replace(/\s+/g, ' ');
      assert.match(help, /--overlap <policy> what to do when a firing comes while the trigger workflow of the one before still runs \(it only sends the request, in seconds\): a request sent while a sync runs waits in the source's queue, whatever the policy/, verb);
    }
    // Without --overlap, a trigger is taken under allow-all (the SDK's default), not the schedule's policy.
    assert.match((await runCli(['schedule', 'trigger', '--help'])).stdout.replace(/\s+/g, ' '), /the default, allow-all, starts another trigger workflow/);
  });

  it('schedule create warns of a cron time that the clocks skip when they go forward (Temporal takes no action that day)', async () => {
    const gap = await inProcess(['schedule', 'create', 'shop', '--cron', '30 2 * * *', '--time-zone', 'Europe/Paris', '--config', goodFile]);
    assert.match(gap.stderr, /warning: --cron "30 2 \* \* \*" in Europe\/Paris: 02:30 does not exist on \d{4}-03-\d\d \(the clocks go from 02:00 to 03:00\), and Temporal takes no action then that day \(crontab would run it at 03:00\); for a run every day, pick a time outside 02:00-03:00/);
    const zoned = await inProcess(['schedule', 'create', 'shop', '--cron', 'CRON_TZ=America/New_York 0 2 * * *', '--config', goodFile]);
    assert.match(zoned.stderr, /warning: --cron "CRON_TZ=America\/New_York 0 2 \* \* \*" in America\/New_York: 02:00 does not exist on \d{4}-03-\d\d/);
    const weekly = await inProcess(['schedule', 'create', 'shop', '--cron', '30 2 * * SUN', '--time-zone', 'Europe/Paris', '--config', goodFile]);
    assert.match(weekly.stderr, /warning: --cron "30 2 \* \* SUN" in Europe\/Paris: 02:30 does not exist/);
    // A day the clocks do not go forward on: no warning.
    for (const args of [['--cron', '30 2 * * MON-FRI', '--time-zone', 'Europe/Paris'], ['--cron', '30 2 1 * *', '--time-zone', 'Europe/Paris'], ['--cron', '0 4 * * *', '--time-zone', 'Europe/Paris'], ['--cron', '30 2 * * *'], ['--cron', '30 2 * * *', '--time-zone', 'Asia/Tokyo'], ['--every', '1h']]) {
      const run = await inProcess(['schedule', 'create', 'shop', ...args, '--config', goodFile]);
      assert.doesNotMatch(run.stderr, /warning/, args.join(' '));
    }
  });

  it('help exits 0 and lists every command and the exit codes', async () => {
    const run = await runCli(['--help']);
    assert.equal(run.code, 0);
    for (const cmd of ['init', 'validate', 'plan', 'sync', 'rerun', 'status', 'watermarks', 'query', 'grants', 'schedule', 'worker', 'dev']) assert.match(run.stdout, new RegExp(`^  ${cmd} `, 'm'));
    assert.match(run.stdout, /Exit codes: 0 success, 1 partial or failed cycle/);
  });

  it('a command that needs Temporal exits 1 with the address and the fix when the server is unreachable', async () => {
    const run = await inProcess(['sync', 'shop', '--config', goodFile]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /cannot reach Temporal at 127\.0\.0\.1:9 \(namespace default\).*lakesync dev/);
    // How long it waited, and the setting that says so.
    assert.match(run.stderr, /No answer came within 1 s: for a server slow to answer, raise temporal\.connectTimeoutSeconds/);
  });

  it('temporal.connectTimeoutSeconds is a whole number of seconds from 1 to 600', async () => {
    for (const bad of [0, 1.5, 601]) {
      const file = writeConfig(join(tmp.dir, `timeout-${bad}.yaml`), { ...validConfig(), temporal: { address: NOWHERE, connectTimeoutSeconds: bad } });
      const run = await inProcess(['sync', 'shop', '--config', file]);
      assert.equal(run.code, 2, `${bad}: ${run.stderr}`);
      assert.match(run.stderr, /temporal\.connectTimeoutSeconds/, String(bad));
    }
  });

  it('lakesync worker says the same when the server is unreachable, not the SDK\'s transport error alone', async () => {
    const run = await inProcess(['worker', '--config', goodFile]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /^error: cannot reach Temporal at 127\.0\.0\.1:9 \(namespace default\).*lakesync dev/);
  });
});

describe('output piped into a reader that goes away (lakesync validate | head -1)', () => {
  /** Runs the binary with its stdout closed on our side before it writes: its writes fail with EPIPE. */
  const withClosedStdout = (args: string[]) =>
    new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
      const child = spawn(process.execPath, [CLI, ...args], { cwd: tmp.dir, env: cliEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
      child.stdout.destroy();
      let stderr = '';
      child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stderr }));
    });

  for (const args of [['validate', '--config', goodFile], ['--help']]) {
    it(`lakesync ${args[0]} ends quietly with exit 0`, async () => {
      const run = await withClosedStdout(args);
      assert.equal(run.stderr, '');
      assert.equal(run.code, 0);
    });
  }

  it('an error whose stderr reader has gone (lakesync validate 2>&1 | grep -q x) keeps its exit code, with no crash', async () => {
    const file = join(tmp.dir, 'no-sources.yaml');
    writeFileSync(file, 'sources: {}\n');
    const run = await new Promise<{ code: number | null }>((resolve, reject) => {
      const child = spawn(process.execPath, [CLI, 'validate', '--config', file], { cwd: tmp.dir, env: cliEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
      child.stdout.destroy();
      child.stderr.destroy();
      child.on('error', reject);
      child.on('close', (code) => resolve({ code }));
    });
    assert.equal(run.code, 2);
  });
});

describe('lakesync init', () => {
  it('into a folder that does not exist is a usage error (exit 2) saying to create the folder', async () => {
    const folder = join(tmp.dir, 'nodir');
    const run = await inProcess(['init', '--config', join(folder, 'x.yaml')]);
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr, /the folder .*nodir does not exist; create it first/);
    assert.equal(existsSync(folder), false);
  });

  it('onto a folder, even with --force, is a usage error (exit 2) asking for a file', async () => {
    const folder = join(tmp.dir, 'a-folder');
    mkdirSync(folder, { recursive: true });
    const run = await inProcess(['init', '--force', '--config', folder]);
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr, /a-folder is a folder: pass --config <file>, e\.g\. .*a-folder\/lakesync\.yaml/);
  });

  it('with --config, the next steps it prints name that file for validate and dev, quoted for the shell when it must be', async () => {
    const folder = join(tmp.dir, 'with space');
    mkdirSync(folder, { recursive: true });
    for (const [arg, shell] of [['other.yaml', 'other.yaml'], [join(folder, 'x.yaml'), `'${join(folder, 'x.yaml')}'`]] as const) {
      const run = await inProcess(['init', '--force', '--config', arg]);
      assert.equal(run.code, 0, run.stderr);
      assert.ok(run.stdout.endsWith(`; next: lakesync validate --config ${shell}, then lakesync dev --config ${shell}\n`), run.stdout);
    }
  });

  it('writes a commented starter config that validates, refuses to overwrite, and --force overwrites', async () => {
    const file = join(tmp.dir, 'starter.yaml');
    const run = await runCli(['init', '--source', 'shop', '--config', file]);
    assert.equal(run.code, 0, run.stderr);
    const text = readFileSync(file, 'utf8');
    assert.match(text, /^# yaml-language-server: \$schema=.*docs\/lakesync\.schema\.json$/m);
    assert.match(text, /^# lakesync configuration/m);
    assert.equal((await runCli(['validate', '--config', file])).code, 0);

    const again = await runCli(['init', '--config', file]);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /starter\.yaml exists: pass --force/);
    assert.equal((await runCli(['init', '--force', '--source', 'other', '--config', file])).code, 0);
    assert.match(readFileSync(file, 'utf8'), /^ {2}other:$/m);
    // Whatever the source's name: one starting with "aws" gets a namespace S3 Tables allows.
    for (const source of ['aws', 'aws-lake', 'awsome', 'a'.repeat(63)]) {
      assert.equal((await inProcess(['init', '--force', '--source', source, '--config', file])).code, 0, source);
      const check = await inProcess(['validate', '--config', file]);
      assert.equal(check.code, 0, `${source}: ${check.stderr}`);
    }

    // The starter also satisfies the editor schema.
    const ajv = new Ajv({ strict: false, allErrors: true });
    const validate = ajv.compile(JSON.parse(readFileSync(join(ROOT, SCHEMA_FILES.config), 'utf8')));
    assert.equal(validate(parseYaml(readFileSync(file, 'utf8'))), true, JSON.stringify(validate.errors));
  });
});

describe('lakesync plan without Temporal', () => {
  it('a Temporal setting that is wrong is a config error (exit 2), not a plan without the lake state', async () => {
    const run = await runCli(['plan', 'shop', '--config', goodFile], { env: { TEMPORAL_ADDRESS: 'http://h:1' } });
    assert.equal(run.code, 2, run.stdout);
    assert.equal(run.stdout, '');
    assert.match(run.stderr, /TEMPORAL_ADDRESS \(environment variable\) \(got "http:\/\/h:1"\): is not host:port/);
  });

  it('plans from the fake backend\'s tables: actions, keys, lake names, cursor and the exclusion rule; exit 0', async () => {
    const run = await inProcess(['plan', 'shop', '--config', goodFile]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /lake state from: unknown \(Temporal could not be asked\)/);
    assert.match(run.stdout, /public\.orders\s+shop\.public_orders\s+create\s+lake table missing\s+id \(configured\)\s+updated_at/);
    assert.match(run.stdout, /public\.customers\s+shop\.public_customers\s+create/);
    assert.match(run.stdout, /public\.card_pii\s+excluded by rule "exclude \*\.\*_pii"/);
    assert.match(run.stdout, /note: lake state unknown: cannot reach Temporal at 127\.0\.0\.1:9/);
  });

  it('exits 2 after printing the plan when a table cannot be planned because of the config (text and JSON)', async () => {
    // Both tables fold to the lake name public_orders: the template needs a lakeName for one.
    const file = writeConfig(join(tmp.dir, 'unplannable.yaml'), validConfig({ source: { kind: 'fake', tables: ['public.orders', 'public.Orders'] } }));
    const text = await inProcess(['plan', 'shop', '--config', file]);
    assert.match(text.stdout, /maps to lake table "public_orders" like/);
    assert.equal(text.code, 2, text.stderr);
    const run = await inProcess(['plan', 'shop', '--json', '--config', file]);
    assert.ok(json<{ rows: { error?: string }[] }>(run).rows.some((r) => r.error));
    assert.equal(run.code, 2);
  });
});

describe('lakesync plan and config entries that match no table', () => {
  it('warns for each tables: key, exclude glob and verify check that matches no listed table, matching unchanged', async () => {
    const file = writeConfig(join(tmp.dir, 'typos.yaml'), validConfig({
      source: { kind: 'fake', tables: ['public.orders', 'public.customers_pii', 'public.Odd Name'] },
      exclude: ['public.customer_pii', 'public.*_pii'],
      tables: { 'public.ordrs': { primaryKey: ['id'] }, 'public."Odd Name"': { lakeName: 'odd_name' }, 'public.orders': { primaryKey: ['id'] } },
      verify: { checks: [{ name: 'n', table: 'public.Orders', sql: 'select 1', expect: 1 }] },
    }));
    const run = await inProcess(['plan', 'shop', '--json', '--config', file]);
    const report = json<{ warnings: string[]; rows: { table: string; lakeTable: string; excludedBy?: string }[] }>(run);
    const warned = (entry: string) => report.warnings.find((w) => w.includes(`"${entry}"`));
    assert.match(warned('public.ordrs') ?? '', /^tables entry "public\.ordrs" matches no table of this source, so its settings apply to nothing: matching is case-sensitive/);
    assert.match(warned('public."Odd Name"') ?? '', /without quotes/);
    assert.match(warned('public.customer_pii') ?? '', /^exclude entry .* it excludes nothing/);
    assert.match(warned('public.Orders') ?? '', /^verify\.checks\.0\.table entry .* the check never runs/);
    assert.equal(report.warnings.length, 4, report.warnings.join('\n'));
    assert.equal(report.rows.find((r) => r.table === 'public.Odd Name')?.lakeTable, 'shop.public_odd_name');
    const text = await inProcess(['plan', 'shop', '--config', file]);
    assert.match(text.stdout, /^warning: exclude entry "public\.customer_pii" matches no table/m);
  });

  /** Writes the README's YAML block that `block` captures (as group 1) to `name` and validates it: exit 0. */
  const validatesAsWritten = async (block: RegExp, what: string, name: string) => {
    const found = block.exec(readFileSync(join(ROOT, 'README.md'), 'utf8'));
    assert.ok(found, `the README has ${what}`);
    const file = join(tmp.dir, name);
    writeFileSync(file, found[1]!);
    const run = await inProcess(['validate', '--config', file]);
    assert.equal(run.code, 0, run.stderr);
  };

  it("the README's configuration example validates as written", async () => {
    await validatesAsWritten(/## Configuration[\s\S]*?```yaml\n(temporal:\n[\s\S]*?)```/, 'the configuration example', 'readme-config.yaml');
  });

  it("the README's DynamoDB source validates as written", async () => {
    await validatesAsWritten(/```yaml\n(sources:\n {2}shop-ddb:\n[\s\S]*?)```/, 'the shop-ddb example', 'readme-dynamodb.yaml');
  });

  it('the README\'s form of a table name with a space applies to that table', async () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const line = /^ +(.*Odd Name.*): \{ lakeName: (\w+) \}/m.exec(readme);
    assert.ok(line, 'the README has an example for a table name with a space');
    const key = parseYaml(`${line[1]}: 1`) as Record<string, number>;
    const file = writeConfig(join(tmp.dir, 'readme-odd.yaml'), validConfig({ source: { kind: 'fake', tables: ['public.Odd Name'] }, exclude: [], tables: Object.fromEntries(Object.keys(key).map((k) => [k, { lakeName: line[2] }])) }));
    const report = json<{ rows: { table: string; lakeTable: string }[]; warnings: string[] }>(await inProcess(['plan', 'shop', '--json', '--config', file]));
    assert.equal(report.rows.find((r) => r.table === 'public.Odd Name')?.lakeTable, `shop.${line[2]}`, JSON.stringify(report));
    assert.deepEqual(report.warnings, []);
  });
});

describe('lakesync plan and schema on a PGlite source whose folder is missing', () => {
  it('refuse with exit 2 and create nothing (a mistyped dataDir is not an empty database) unless it is the demo', async () => {
    const missing = join(tmp.dir, 'no-such-pglite');
    const file = writeConfig(join(tmp.dir, 'missing-pglite.yaml'), validConfig({ source: { kind: 'pglite', dataDir: missing, demo: false }, exclude: [], tables: {} }));
    for (const args of [['plan', 'shop'], ['schema', 'shop']]) {
      const run = await inProcess([...args, '--config', file]);
      assert.equal(run.code, 2, `${args.join(' ')}: ${run.stdout}${run.stderr}`);
      assert.match(run.stderr, new RegExp(`no PGlite database at ${missing.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: check sources\\.shop\\.source\\.dataDir`));
      assert.equal(existsSync(missing), false, `${args.join(' ')} created ${missing}`);
    }
  });

  it('create no work dir either: plan and schema have no side effects', async () => {
    const cwd = join(tmp.dir, 'no-side-effects');
    mkdirSync(cwd);
    const missing = join(tmp.dir, 'no-such-pglite-2');
    const file = writeConfig(join(tmp.dir, 'missing-pglite-2.yaml'), validConfig({ source: { kind: 'pglite', dataDir: missing, demo: false }, exclude: [], tables: {} }));
    for (const args of [['plan', 'shop'], ['schema', 'shop']]) {
      const run = await runCliInProcess([...args, '--config', file], cwd);
      assert.equal(run.code, 2, `${args.join(' ')}: ${run.stdout}${run.stderr}`);
      assert.equal(existsSync(join(cwd, '.lakesync')), false, `${args.join(' ')} created ${join(cwd, '.lakesync')}`);
    }
  });

  it('refuse a folder that exists but holds no database (an empty one, or one of other files), and write nothing into it', async () => {
    const empty = join(tmp.dir, 'empty-folder');
    const other = join(tmp.dir, 'folder-of-other-files');
    mkdirSync(empty);
    mkdirSync(other);
    writeFileSync(join(other, 'notes.txt'), 'mine\n');
    for (const folder of [empty, other]) {
      const file = writeConfig(join(tmp.dir, 'not-a-pglite.yaml'), validConfig({ source: { kind: 'pglite', dataDir: folder, demo: false }, exclude: [], tables: {} }));
      const before = readdirSync(folder);
      for (const args of [['plan', 'shop'], ['schema', 'shop']]) {
        const run = await inProcess([...args, '--config', file]);
        assert.equal(run.code, 2, `${args.join(' ')} on ${folder}: ${run.stdout}${run.stderr}`);
        assert.match(run.stderr, new RegExp(`no PGlite database at ${folder.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: check sources\\.shop\\.source\\.dataDir`));
        assert.deepEqual(readdirSync(folder), before, `${args.join(' ')} wrote into ${folder}`);
      }
    }
  });

  it('a demo source is seeded on first open, as its worker would, and lists the demo tables', async () => {
    const demoDir = join(tmp.dir, 'demo-pglite');
    const file = writeConfig(join(tmp.dir, 'demo-pglite.yaml'), validConfig({ source: { kind: 'pglite', dataDir: demoDir, demo: true }, exclude: [], tables: {} }));
    const run = await inProcess(['plan', 'shop', '--config', file, '--json']);
    assert.equal(run.code, 0, run.stderr);
    assert.ok((JSON.parse(run.stdout) as { rows: unknown[] }).rows.length > 0, run.stdout);
  });
});

describe('lakesync plan with table names holding control characters', () => {
  it('shows them escaped in the text output and as they are in JSON', async () => {
    const names = ['public.evil\u001b[2J', 'public.two\nlines', 'public.x_pii\u001b[31m'];
    const file = writeConfig(join(tmp.dir, 'hostile.yaml'), validConfig({ source: { kind: 'fake', tables: names }, exclude: ['public.x*'] }));
    const text = await inProcess(['plan', 'shop', '--config', file]);
    assert.doesNotMatch(text.stdout, /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/);
    assert.match(text.stdout, /^public\.evil\\x1b\[2J\s+shop\.public_evil_2j\s+create/m);
    assert.match(text.stdout, /^public\.two\\nlines\s+shop\.public_two_lines\s+create/m);
    assert.match(text.stdout, /^ {2}public\.x_pii\\x1b\[31m {2}excluded by rule/m);
    const run = await inProcess(['plan', 'shop', '--json', '--config', file]);
    assert.deepEqual(json<{ rows: { table: string }[] }>(run).rows.map((r) => r.table).sort(), [...names].sort());
  });
});

describe('lakesync query and grants', () => {
  const rows = [{ id: 1, name: 'a' }, { id: 2, name: null }];
  const ports = (withQuery: boolean): CliDeps => ({
    portsFor: async () => {
      let closed = false;
      return {
        lake: withQuery ? { query: async (sql: string) => (sql.includes('orders') ? rows : []) } : {},
        grant: withQuery ? { list: async () => [{ principal: 'analyst', resource: { namespace: 'shop', table: 'public_orders' }, permissions: ['SELECT', 'DESCRIBE'] }] } : {},
        close: async () => void (closed = closed || true),
      } as unknown as Ports;
    },
  });

  it('query --json prints the rows as JSON; text mode prints a table', async () => {
    const run = await inProcess(['query', 'shop', '--json', 'select * from shop.public_orders', '--config', goodFile], ports(true));
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(JSON.parse(run.stdout), rows);
    const text = await inProcess(['query', 'shop', 'select * from shop.public_orders', '--config', goodFile], ports(true));
    assert.match(text.stdout, /^id\s+name\n1\s+a\n2\n\(2 rows\)/);
  });

  it('query shows a column name holding control characters escaped, as it shows values, so the header stays one line', async () => {
    const hostile: CliDeps = {
      portsFor: async () => ({ lake: { query: async () => [{ 'odd\u001b[2Jname\nx': 'v\u001b[31m' }] }, close: async () => undefined }) as unknown as Ports,
    };
    const text = await inProcess(['query', 'shop', 'select * from shop.public_odd', '--config', goodFile], hostile);
    assert.equal(text.code, 0, text.stderr);
    assert.doesNotMatch(text.stdout, /\u001b/);
    assert.equal(text.stdout, 'odd\\x1b[2Jname\\nx\nv\\x1b[31m\n(1 row)\n');
  });

  it('grants lists the grant store (JSON and text)', async () => {
    const run = await inProcess(['grants', 'shop', '--json', '--config', goodFile], ports(true));
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(JSON.parse(run.stdout)[0].permissions, ['SELECT', 'DESCRIBE']);
    const text = await inProcess(['grants', 'shop', '--config', goodFile], ports(true));
    assert.match(text.stdout, /analyst\s+shop\.public_orders\s+SELECT,DESCRIBE/);
  });

  it('a backend without query or grant listing is a clear error, exit 2 (the real fake backend)', async () => {
    const q = await runCli(['query', 'shop', 'select 1', '--config', goodFile]);
    assert.equal(q.code, 2);
    assert.match(q.stderr, /the fake backend of source shop cannot run queries/);
    const g = await runCli(['grants', 'shop', '--config', goodFile]);
    assert.equal(g.code, 2);
    assert.match(g.stderr, /the fake backend of source shop cannot list grants/);
  });
});

describe('published schemas', () => {
  it('docs/lakesync.schema.json and docs/messages.schema.json are current (scripts/gen-schemas.ts)', () => {
    assert.equal(readFileSync(join(ROOT, SCHEMA_FILES.config), 'utf8'), schemaText(configJsonSchema()), 'regenerate docs/lakesync.schema.json');
    assert.equal(readFileSync(join(ROOT, SCHEMA_FILES.messages), 'utf8'), schemaText(messagesJsonSchema()), 'regenerate docs/messages.schema.json');
  });

  it('the config schema accepts a good config and flags what an editor should flag', () => {
    const validate = new Ajv({ strict: false, allErrors: true }).compile(configJsonSchema());
    assert.equal(validate(validConfig()), true, JSON.stringify(validate.errors));
    assert.equal(validate(validConfig({ target: { namespace: 'Bad-Name' } })), false);
    assert.ok(validate.errors!.some((e) => e.instancePath === '/sources/shop/target/namespace' && e.keyword === 'pattern'));
    assert.equal(validate(validConfig({ concurency: 3 })), false, 'a misspelt field');
  });

  it('the config schema carries descriptions an editor shows on hover', () => {
    const source = (configJsonSchema() as { properties: { sources: { additionalProperties: { properties: Record<string, { description?: string; properties?: Record<string, { description?: string }> }> } } } })
      .properties.sources.additionalProperties.properties;
    assert.match(source.safety?.properties?.maxDeleteFraction?.description ?? '', /approve-deletes/);
    assert.match(source.target?.properties?.tableName?.description ?? '', /\{table\}/);
    assert.match(source.exclude?.description ?? '', /exclude wins over include/);
  });

  it('the messages schema accepts the documented payloads and rejects bad ones', () => {
    const ajv = new Ajv2020({ strict: false });
    ajv.addSchema(messagesJsonSchema());
    const check = (def: string, value: unknown) => ajv.validate({ $ref: `messages.schema.json#/$defs/${def}` }, value);
    assert.equal(check('SourceWorkflowInput', { source: 'shop' }), true);
    assert.equal(check('SyncRequest', { tables: ['public.orders'], requestId: 'r-1', requestedBy: 'billing' }), true);
    assert.equal(check('RerunRequest', { tables: 'failed', approveDeletes: true }), true);
    assert.equal(check('RerunRequest', { tables: ['public.orders'] }), true);
    assert.equal(check('RerunRequest', { tables: [] }), false, 'an empty table list');
    assert.equal(check('RerunRequest', { tables: 'all' }), false, 'only "failed" is a word');
    assert.equal(check('SyncRequest', { table: 'public.orders' }), false, 'a misspelt field');
    assert.equal(check('TriggerInput', { source: 'shop', taskQueue: 'lakesync', rerun: { tables: 'failed' } }), true);
    const schema = messagesJsonSchema() as { 'x-lakesync-messages': { signals: Record<string, string>; updates: Record<string, unknown> } };
    assert.deepEqual(schema['x-lakesync-messages'].signals, { requestSync: 'SyncRequest', requestRerun: 'RerunRequest' });
    assert.deepEqual(Object.keys(schema['x-lakesync-messages'].updates), ['sync', 'rerun']);
    assert.equal(check('SyncAccepted', { requestId: 'r-1', tables: ['public.orders'], queuedBehind: 0 }), true);
    assert.equal(check('SyncAccepted', { requestId: 'r-1' }), false, 'queuedBehind is always given');
  });

  it('the messages schema refuses the table lists the sync and rerun updates refuse whatever the source knows (docs/messages.md)', () => {
    const ajv = new Ajv2020({ strict: false });
    ajv.addSchema(messagesJsonSchema());
    const check = (def: string, value: unknown) => ajv.validate({ $ref: `messages.schema.json#/$defs/${def}` }, value);
    // What the updates' validators refuse before the first export, when no name can be checked against the source's tables.
    const syncRefused = (req: SyncRequest) => unqualifiedProblem(req) ?? syncProblem(initialState(), req);
    const rerunRefused = (req: RerunRequest) => unqualifiedProblem(req) ?? rerunPayloadProblem(req);
    for (const tables of [[], ['orders'], ['public.'], ['.orders']]) {
      assert.notEqual(syncRefused({ tables }), undefined, `the sync update refuses tables ${JSON.stringify(tables)}`);
      assert.equal(check('SyncRequest', { tables }), false, `SyncRequest with tables ${JSON.stringify(tables)}, which the sync update refuses`);
      assert.notEqual(rerunRefused({ tables }), undefined, `the rerun update refuses tables ${JSON.stringify(tables)}`);
      assert.equal(check('RerunRequest', { tables }), false, `RerunRequest with tables ${JSON.stringify(tables)}, which the rerun update refuses`);
    }
    // A requestId of the form the source gives its own requests: refused whatever the source knows.
    for (const requestId of ['r1', 'r900']) {
      assert.notEqual(reservedRequestIdProblem({ requestId }), undefined);
      assert.equal(check('SyncRequest', { requestId }), false, `SyncRequest with requestId ${requestId}, which the sync update refuses`);
      assert.equal(check('RerunRequest', { tables: 'failed', requestId }), false, `RerunRequest with requestId ${requestId}, which the rerun update refuses`);
    }
    for (const requestId of ['r-1', 'r1x', 'billing-r1', 'R1']) {
      assert.equal(reservedRequestIdProblem({ requestId }), undefined);
      assert.equal(check('SyncRequest', { requestId }), true, requestId);
    }
    for (const tables of [['public.orders'], ['public.Odd Name', 'dynamodb.Orders', 'sales.2024.q1']]) {
      assert.equal(syncRefused({ tables }), undefined);
      assert.equal(check('SyncRequest', { tables }), true, JSON.stringify(tables));
      assert.equal(check('RerunRequest', { tables }), true, JSON.stringify(tables));
    }
  });
});

/**
 * The vendored compose-spec schema (2021) names its draft by an older URL than Ajv's and marks
 * sub-schemas with the pre-2019 `id` keyword (names only, never referenced): drop both.
 */
function modernised(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(modernised);
  if (!schema || typeof schema !== 'object') return schema;
  return Object.fromEntries(
    Object.entries(schema as Record<string, unknown>)
      .filter(([key, value]) => key !== '$schema' && !(key === 'id' && typeof value === 'string'))
      .map(([key, value]) => [key, modernised(value)]),
  );
}

describe('docker-compose.yml, Dockerfile and the bin script', () => {
  const compose = parseYaml(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8')) as {
    services: Record<string, { image?: string; build?: { context: string; dockerfile: string }; depends_on?: string[] | Record<string, unknown>; ports?: string[]; command?: string[] }>;
  };

  it('docker-compose.yml is valid against the Compose specification schema', () => {
    const ajv = new Ajv2019({ strict: false, allErrors: true });
    // The spec's own string formats.
    ajv.addFormat('duration', /^(\d+(\.\d+)?(ns|us|ms|s|m|h))+$/);
    ajv.addFormat('ports', { type: 'string', validate: (s: string) => /^[\d.:[\]a-f-]+(\/(tcp|udp))?$/.test(s) });
    ajv.addFormat('ports', { type: 'number', validate: (n: number) => Number.isInteger(n) && n > 0 && n < 65536 });
    ajv.addFormat('expose', /^\d+(-\d+)?(\/(tcp|udp))?$/);
    const validate = ajv.compile(modernised(composeSpec) as Record<string, unknown>);
    assert.equal(validate(compose), true, JSON.stringify(validate.errors, null, 2));
  });

  it('wires Temporal, its UI, PostgreSQL and a worker built from this repo, on loopback ports', () => {
    const s = compose.services;
    assert.deepEqual(Object.keys(s).sort(), ['postgresql', 'temporal', 'temporal-setup', 'temporal-ui', 'worker']);
    assert.deepEqual(s.worker!.build, { context: '.', dockerfile: 'Dockerfile' });
    assert.deepEqual(s.worker!.command, ['worker', '--config', '/config/lakesync.yaml']);
    for (const [name, svc] of Object.entries(s)) {
      const deps = Array.isArray(svc.depends_on) ? svc.depends_on : Object.keys(svc.depends_on ?? {});
      for (const d of deps) assert.ok(d in s, `${name} depends on unknown service ${d}`);
      for (const p of svc.ports ?? []) assert.match(p, /^127\.0\.0\.1:/, `${name} publishes ${p} beyond this machine`);
    }
    const setup = JSON.stringify(s['temporal-setup']);
    for (const attribute of ['LakesyncSource=Keyword', 'LakesyncCycleStatus=Keyword', 'LakesyncFailedTables=Int']) assert.ok(setup.includes(attribute), attribute);
  });

  it('every file the Dockerfile copies from the build context exists and is not ignored', () => {
    const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
    const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
    const copies = [...dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap((m) => m[1]!.split(/\s+/));
    assert.ok(copies.length >= 6, `COPY lines found: ${copies.join(', ')}`);
    for (const path of copies) {
      assert.ok(existsSync(join(ROOT, path)), `${path} is missing`);
      assert.ok(!ignored.includes(path.split('/')[0]!), `${path} is excluded by .dockerignore`);
    }
    assert.match(dockerfile, /^ENTRYPOINT \["tini", "--", "node", "bin\/lakesync\.js"\]$/m);
  });

  it("the image gives the worker every tool the embedded mode resolves, at the bootstrap's versions: Java, Python, the Iceberg runtime and the PostgreSQL JDBC driver of extract: direct", () => {
    const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
    const bootstrap = readFileSync(join(ROOT, 'scripts/bootstrap.sh'), 'utf8');
    const env = new Map([...dockerfile.matchAll(/\b(JAVA_HOME|LAKESYNC_[A-Z_]+)=(\S+)/g)].map((m) => [m[1]!, m[2]!]));
    // The variables src/toolchain.ts reads (the Temporal CLI is for dev servers only, never started in the image).
    const toolchainSource = readFileSync(join(ROOT, 'src/toolchain.ts'), 'utf8');
    const variables = [...new Set([...toolchainSource.matchAll(/\b(JAVA_HOME|LAKESYNC_[A-Z_]+)\b/g)].map((m) => m[1]!))].filter((v) => v !== 'LAKESYNC_TEMPORAL_BIN');
    assert.ok(variables.includes('LAKESYNC_POSTGRES_JDBC_JAR'), variables.join(', '));
    for (const variable of variables) assert.ok(env.has(variable), `the Dockerfile sets no ${variable}`);
    const version = (name: string) => bootstrap.match(new RegExp(`^${name}=(\\S+)$`, 'm'))?.[1];
    for (const [name, artifact] of [['ICEBERG_VERSION', 'org.apache.iceberg:iceberg-spark-runtime-3.5_2.12'], ['POSTGRES_JDBC_VERSION', 'org.postgresql:postgresql']] as const) {
      assert.ok(version(name), name);
      assert.ok(dockerfile.includes(`-Dartifact=${artifact}:${version(name)!}`), `the image fetches ${artifact}:${version(name)!}`);
    }
    for (const jar of [env.get('LAKESYNC_ICEBERG_JAR')!, env.get('LAKESYNC_POSTGRES_JDBC_JAR')!]) {
      assert.match(dockerfile, new RegExp(`^COPY --from=jars \\S+ ${jar.replace(/[.]/g, '\\.')}$`, 'm'), `the image holds ${jar}`);
    }
  });

  it('bin/lakesync.js runs the compiled CLI from dist/', async (t) => {
    const bin = readFileSync(join(ROOT, 'bin/lakesync.js'), 'utf8');
    assert.match(bin, /^#!\/usr\/bin\/env node/);
    assert.match(bin, /require\('\.\.\/dist\/src\/cli\/main\.js'\)/);
    if (!existsSync(join(ROOT, 'dist/src/cli/main.js'))) {
      t.skip('dist/ is not built (npm run build)');
      return;
    }
    const { spawnSync } = await import('node:child_process');
    const run = spawnSync(process.execPath, [join(ROOT, 'bin/lakesync.js'), 'validate', '--config', goodFile], { encoding: 'utf8', env: cliEnv() });
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /good\.yaml: valid/);
  });
});
