/** Credentials never reach a message: URL passwords, query and key-value parameters, JSON fields, error chains. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, PortError } from '../../src/errors';
import { failure } from '../../src/activities/deps';
import { errorText } from '../../src/cli/errors';
import { redactUrl } from '../../src/local/source/postgres';
import { redactError, redactSecrets } from '../../src/redact';

test('every credential form is redacted, everything else is kept', () => {
  const cases: [string, string][] = [
    ['postgres://u:pw1@host:5432/db?sslmode=require&password=pw2&application_name=x', 'postgres://u:***@host:5432/db?sslmode=require&password=***&application_name=x'],
    ['postgres://u:p@ss@host/db', 'postgres://u:***@host/db'],
    ['host=db user=x password=pw3 dbname=shop', 'host=db user=x password=*** dbname=shop'],
    ["host=db password='p w4' sslpassword=pw5", 'host=db password=*** sslpassword=***'],
    ['{"password":"pw6","user":"u"}', '{"password":"***","user":"u"}'],
    ['PGPASSWORD=pw7 aws_secret_access_key=pw8 api_key=pw9', 'PGPASSWORD=*** aws_secret_access_key=*** api_key=***'],
    ['password authentication failed for user "x"', 'password authentication failed for user "x"'],
    ['postgres://u@host/db and table public.secret_pii', 'postgres://u@host/db and table public.secret_pii'],
    // Mistyped URLs, the ones a config error shows: the password still goes.
    ['postgresql:/bob:Hunter2Secret@db.example.com/app', 'postgresql:/bob:***@db.example.com/app'],
    ['bob:Hunter2Secret@db.example.com/app', 'bob:***@db.example.com/app'],
    ['postgres:\\\\bob:Hunter2Secret@db/app', 'postgres:\\\\bob:***@db/app'],
    ["pg://bob:Hunter'2@db/app", 'pg://bob:***@db/app'],
    ['got "postgres:/u:p@ss@h/db" instead', 'got "postgres:/u:***@h/db" instead'],
    ['arn:aws:iam::123456789012:role/x and user@example.com at 12:30', 'arn:aws:iam::123456789012:role/x and user@example.com at 12:30'],
  ];
  for (const [input, expected] of cases) assert.equal(redactSecrets(input), expected);
  assert.equal(redactUrl('postgres://u:pw1@h/db?password=pw2'), 'postgres://u:***@h/db?password=***');
});

test('an error chain is copied with its messages and stacks redacted', () => {
  const inner = new Error('bad connection string host=x password=pw10');
  const outer = new PortError('transient', 'SourceUnavailable', 'cannot connect to postgres://u:pw11@h/db', { cause: inner });
  const copy = redactError(outer);
  const text = `${copy.message} ${copy.stack} ${(copy.cause as Error).message} ${(copy.cause as Error).stack}`;
  assert.ok(!text.includes('pw10') && !text.includes('pw11'), text);
  assert.equal(copy.name, 'PortError');

  const app = failure('export scope', 'source pg', outer);
  assert.ok(!JSON.stringify({ m: app.message, s: app.stack, c: (app.cause as Error).message, cs: (app.cause as Error).stack }).includes('pw1'));
  assert.equal(app.type, 'SourceUnavailable');
  assert.equal(app.nonRetryable, false);
});

test('the CLI prints errors and config values without credentials', () => {
  assert.equal(errorText(new Error('connect failed', { cause: new Error('postgres://u:pw12@h/db') })), 'error: connect failed: postgres://u:***@h/db');
  const config = new ConfigError([{ path: 'sources.pg.source.url', value: 'host=h password=pw13', message: 'must be a postgres:// URL' }]);
  assert.ok(!errorText(config).includes('pw13'));
  assert.match(errorText(config), /password=\*\*\*/);
});

test('a config error keeps the rejected values of its issues redacted, strings and objects alike', () => {
  const err = new ConfigError([
    { path: 'a', value: 'postgres://u:pw12@h/db', message: 'bad' },
    { path: 'b', value: { url: 'host=h password=pw13', port: 5432 }, message: 'bad' },
    { path: 'c', value: 7, message: 'bad' },
    { path: 'd', value: 'postgresql:/bob:pw14@db.example.com/app', message: 'must be a postgres:// URL' },
  ]);
  assert.deepEqual(err.issues.map((i) => i.value), ['postgres://u:***@h/db', { url: 'host=h password=***', port: 5432 }, 7, 'postgresql:/bob:***@db.example.com/app']);
  assert.ok(!err.message.includes('pw12') && !err.message.includes('pw13') && !err.message.includes('pw14'), err.message);
});
