/** The runner's JSON: non-finite floats survive the trip from Spark to the CLI as numbers. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseRunnerJson } from '../../src/local/runner/client';
import { rowsJson } from '../../src/cli/commands/query';

test('marked non-finite floats become numbers; anything else stays as sent', () => {
  const parsed = parseRunnerJson(
    '{"rows":[{"a":{"$float":"NaN"},"b":{"$float":"Infinity"},"c":{"$float":"-Infinity"},"d":{"$float":"1"},"e":{"$float":"NaN","x":1},"f":"NaN"}]}',
  ) as { rows: Record<string, unknown>[] };
  const row = parsed.rows[0]!;
  assert.ok(Number.isNaN(row.a));
  assert.equal(row.b, Infinity);
  assert.equal(row.c, -Infinity);
  assert.deepEqual(row.d, { $float: '1' }, 'only the three non-finite spellings are markers');
  assert.deepEqual(row.e, { $float: 'NaN', x: 1 }, 'an object with other keys is data, not a marker');
  assert.equal(row.f, 'NaN', 'a string cell stays a string');
  assert.equal(rowsJson(parsed.rows, 0), '[{"a":NaN,"b":Infinity,"c":-Infinity,"d":{"$float":"1"},"e":{"$float":"NaN","x":1},"f":"NaN"}]');
});

test('an unreadable body is an empty object, so the caller reports the HTTP status', () => {
  assert.deepEqual(parseRunnerJson('<html>bad gateway</html>'), {});
});
