/** The CLI's whole-number options (--cycles, --max-rows, --interval): one rule and one message for all. */
import { UsageError } from './errors';

export interface WholeNumberRange {
  min: number;
  max: number;
  /** What the number counts, for the message ("milliseconds"). */
  unit?: string;
  /** Why the range ends where it does, for the message. */
  why?: string;
}

/**
 * `raw` as a whole number from `range.min` to `range.max` in decimal digits, else a usage error
 * before anything is read or started. Number() alone takes "0x3", "1e1", " 4 " and "".
 */
export function wholeNumberOption(flag: string, raw: string, range: WholeNumberRange): number {
  const n = /^[0-9]+$/.test(raw) ? Number(raw) : NaN;
  if (Number.isSafeInteger(n) && n >= range.min && n <= range.max) return n;
  const unit = range.unit ? ` of ${range.unit}` : '';
  const why = range.why ? ` (${range.why})` : '';
  throw new UsageError(`${flag} must be a whole number${unit} from ${range.min} to ${range.max}${why}, got ${JSON.stringify(raw)}`);
}
