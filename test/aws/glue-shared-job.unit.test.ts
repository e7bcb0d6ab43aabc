/**
 * Sources that run one Glue job (the same aws.glue.jobName): the job has one definition, so
 * they are accepted only when the definitions they need are the same, and refused otherwise,
 * before any worker writes the job. Checked against the job spec the worker writes (jobSpec).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { jobSpec, specHash } from '../../src/aws/glue-job';
import { awsSettings } from '../../src/backends/aws';
import { parseConfig } from '../../src/config/load';
import { ConfigError } from '../../src/errors';
import { RDS_CATALOG, rdsSourceConfig } from '../helpers/source-config';

/**
 * An rds source on the Glue job lakesync-load with `glue` merged into its aws.glue and `extra.aws`
 * into its aws section; `extra.direct` reads public.events directly over that Glue connection.
 */
function source(glue: Record<string, unknown> = {}, extra: { direct?: string; aws?: Record<string, unknown> } = {}): Record<string, unknown> {
  const direct = extra.direct ? { source: { catalog: { ...RDS_CATALOG, glueConnection: extra.direct } }, tables: { 'public.events': { extract: 'direct', cursor: { column: 'id' } } } } : {};
  return rdsSourceConfig({ ...direct, aws: { ...extra.aws, glue: { jobName: 'lakesync-load', ...glue } } });
}

/** The issues of a config with sources shop and crm, or [] when it is accepted. */
function issues(shop: Record<string, unknown>, crm: Record<string, unknown>): { path: string; message: string }[] {
  try {
    parseConfig({ sources: { shop, crm: { ...crm, target: { namespace: 'crm' } } } });
    return [];
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.issues.map((i) => ({ path: i.path, message: i.message }));
  }
}

/** The hash of the job definition a worker of that source writes (scripts alike). */
function definition(name: string, raw: Record<string, unknown>): string {
  const config = parseConfig({ sources: { [name]: raw } });
  return specHash(jobSpec(awsSettings(name, config.sources[name]!), 'scripts'));
}

const DIFFERENT: [string, Record<string, unknown>, { direct?: string }?][] = [
  ['roleArn', { roleArn: 'arn:aws:iam::123456789012:role/crm-glue' }],
  ['scriptBucket', { scriptBucket: 'crm-scripts' }],
  ['scriptPrefix', { scriptPrefix: 'crm/glue' }],
  ['workerType', { workerType: 'G.2X' }],
  ['numberOfWorkers', { numberOfWorkers: 4 }],
  ['maxConcurrentRuns', { maxConcurrentRuns: 3 }],
  ['jobRunQueuing', { jobRunQueuing: false }],
  ['timeoutMinutes', { timeoutMinutes: 60 }],
  ['glueConnection', {}, { direct: 'crm-vpc' }],
];

for (const [setting, glue, extra] of DIFFERENT) {
  test(`two sources that share a Glue job but differ in ${setting} are refused, naming both, the job and the setting`, () => {
    assert.notEqual(definition('crm', source(glue, extra)), definition('shop', source()), `${setting} is part of the job definition`);
    const found = issues(source(), source(glue, extra));
    assert.equal(found.length, 1, JSON.stringify(found));
    assert.equal(found[0]!.path, 'sources.crm.aws.glue.jobName');
    assert.match(found[0]!.message, new RegExp(`sources shop and crm run the same Glue job lakesync-load .*${setting}`));
    assert.match(found[0]!.message, /give each source its own aws\.glue\.jobName/);
  });
}

test('two sources that share a Glue job with the same job definition are accepted (settings of each run may differ)', () => {
  const crm = { executionClass: 'FLEX', resultPrefix: 'crm/results', sizing: { gbPerWorker: 50 } };
  assert.equal(definition('crm', source(crm)), definition('shop', source()), 'the same job definition');
  assert.deepEqual(issues(source(), source(crm)), []);
  // A job of the same name in another account or Region is another job.
  assert.deepEqual(issues(source(), source({ roleArn: 'arn:aws:iam::123456789012:role/crm-glue' }, { aws: { region: 'us-east-1' } })), []);
  // The default names are one job per source.
  const own = (glue: Record<string, unknown>) => rdsSourceConfig({ aws: { glue } });
  assert.deepEqual(issues(own({}), own({ maxConcurrentRuns: 3 })), []);
  // Nor is a name with the source's name in it ({source}, as the stack's GlueJobName output gives it).
  assert.deepEqual(issues(source({ jobName: 'lakesync-load-{source}' }), source({ jobName: 'lakesync-load-{source}', maxConcurrentRuns: 3 })), []);
});
