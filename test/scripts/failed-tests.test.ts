/**
 * scripts/lib/failed-tests.sh: the failed tests a run names at its end. Fed the reports of real
 * runs of node's test runner and pytest over files that fail in each way.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { toolchain } from '../../src/toolchain';
import { ROOT, runBash, sourceLibs } from './helpers';

const FIXTURES = join(ROOT, 'dist', 'test', 'fixtures', 'lanes');

/** A summary line: the test's name, where it is in the fixture (the compiled file's line), its error. */
function at(name: string, error: string): RegExp {
  const file = join(FIXTURES, 'failing-test-file.js').replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`^✖ ${name} \\(${file}:\\d+:\\d+\\): ${error}$`);
}

function lines(text: string): string[] {
  return text.split('\n').filter((line) => line !== '');
}

describe('the failed tests a run names', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lakesync-failed-tests-'));
  const q = JSON.stringify;
  const failingTap = join(dir, 'failing.tap');
  const passingTap = join(dir, 'passing.tap');
  after(() => rmSync(dir, { recursive: true, force: true }));

  before(async () => {
    const report = (file: string, tap: string): string => `node --test --test-reporter=tap --test-reporter-destination=${q(tap)} ${q(join(FIXTURES, file))} || true`;
    await runBash(`${report('failing-test-file.js', failingTap)}\n${report('passing-test-file.js', passingTap)}`, 60_000);
  });

  it('node: each failed test once, with its file, line and the first line of its error; not the suite around it, not the passing ones', async () => {
    const run = await runBash(`${sourceLibs('failed-tests.sh')}\nfailed_node_tests ${q(failingTap)} ${q(passingTap)}`, 30_000);
    const found = lines(run.stdout);
    assert.equal(found.length, 2, run.stdout);
    assert.match(found[0]!, at('a test in a suite that fails', 'the sum is off'));
    assert.match(found[1]!, at('a top-level test that throws', "the export folder 'exports/shop' is missing"));
  });

  it('node: past FAILED_TESTS_SHOWN, how many more failed', async () => {
    const run = await runBash(`${sourceLibs('failed-tests.sh')}\nfailed_node_tests ${q(failingTap)}`, 30_000, { FAILED_TESTS_SHOWN: '1' });
    const found = lines(run.stdout);
    assert.equal(found.length, 2, run.stdout);
    assert.match(found[0]!, at('a test in a suite that fails', 'the sum is off'));
    assert.equal(found[1], '… and 1 more failed tests (see the TAP reports)');
  });

  it('node: a run with no failure names none', async () => {
    const run = await runBash(`${sourceLibs('failed-tests.sh')}\nfailed_node_tests ${q(passingTap)}`, 30_000);
    assert.equal(run.stdout, '');
  });

  it('pytest: a failed test and one whose fixture erred, with their messages; not the passing one', async () => {
    const python = toolchain().python;
    writeFileSync(
      join(dir, 'test_sample.py'),
      [
        'import pytest',
        'def test_passes() -> None:',
        '    assert True',
        'def test_fails() -> None:',
        '    assert 1 == 2, "the counts differ"',
        '@pytest.fixture',
        'def broken() -> None:',
        '    raise RuntimeError("the fixture broke")',
        'def test_errs(broken: None) -> None:',
        '    pass',
        '',
      ].join('\n'),
    );
    const xml = join(dir, 'pytest.xml');
    const pytest = `${q(python)} -m pytest ${q(join(dir, 'test_sample.py'))} -q -p no:cacheprovider --rootdir ${q(dir)} --junitxml=${q(xml)} > /dev/null || true`;
    const run = await runBash(`${sourceLibs('failed-tests.sh')}\n${pytest}\nfailed_pytests ${q(python)} ${q(xml)}`, 120_000);
    assert.deepEqual(lines(run.stdout), [
      '✖ test_sample::test_fails: AssertionError: the counts differ',
      '✖ test_sample::test_errs: failed on setup with "RuntimeError: the fixture broke"',
    ]);
  });
});
