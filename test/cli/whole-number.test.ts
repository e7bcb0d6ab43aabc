/** The CLI's whole-number options share one rule: decimal digits within a range, else exit 2 with one message. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UsageError } from '../../src/cli/errors';
import { wholeNumberOption } from '../../src/cli/whole-number';

describe('wholeNumberOption', () => {
  const range = { min: 100, max: 3_600_000, unit: 'milliseconds', why: 'e.g. --interval 2000' };

  it('takes decimal digits within the range, the ends included', () => {
    assert.equal(wholeNumberOption('--interval', '100', range), 100);
    assert.equal(wholeNumberOption('--interval', '3600000', range), 3_600_000);
    assert.equal(wholeNumberOption('--interval', '00250', range), 250);
  });

  it('refuses what Number() would take but is no count: hexadecimal, binary, exponents, padding, signs, fractions, empty', () => {
    for (const bad of ['0x100', '0b1111111', '1e3', ' 200 ', '+200', '-200', '200.0', '', 'fast']) {
      assert.throws(() => wholeNumberOption('--interval', bad, range), (err: unknown) => err instanceof UsageError && err.message.includes(`got ${JSON.stringify(bad)}`), bad);
    }
  });

  it('refuses numbers out of range, however large, naming the flag, the unit, the range and why', () => {
    for (const bad of ['99', '3600001', '3000000000', '9'.repeat(400)]) {
      assert.throws(
        () => wholeNumberOption('--interval', bad, range),
        (err: unknown) => err instanceof UsageError && err.message.startsWith('--interval must be a whole number of milliseconds from 100 to 3600000 (e.g. --interval 2000), got "'),
        bad,
      );
    }
    assert.throws(() => wholeNumberOption('--cycles', '21', { min: 1, max: 20 }), /^UsageError: --cycles must be a whole number from 1 to 20, got "21"$/);
  });
});
