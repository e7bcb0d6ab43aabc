/**
 * The lookback of an incremental table (`tables.<t>.cursor.lookback`): how far below the lake's
 * max(cursor) a load reads rows again, so rows committed late with an older cursor still arrive.
 * A duration for date and timestamp cursors ("15m", "2h", "1d"), a number of cursor units for
 * numeric ones (1000); 0 fits every type. The load job (glue/lakesync_glue/window.py) reads the
 * same syntax and applies the same defaults.
 */

/** `<n><unit>`, unit s, m, h or d: one unit keeps the text readable and the parse exact. */
const DURATION = /^(\d{1,7})([smhd])$/;
const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };
const MAX_SECONDS = 3650 * 86400;
/** Above this a number loses integer precision in JSON and in the job's text. */
const MAX_UNITS = 1e15;

/** 1 hour: a transaction that commits up to an hour after taking its cursor value is caught. */
export const DEFAULT_TEMPORAL_LOOKBACK = '1h';
/** No unit is safe to guess for a number: 0 reads the ties with the max (and replays add nothing). */
export const DEFAULT_NUMERIC_LOOKBACK = '0';

export const LOOKBACK_FIX = 'write a duration such as "15m", "2h" or "1d" for a date or timestamp cursor, or a number of cursor units such as 1000 for a numeric one (0 for no lookback)';

export type CursorKind = 'temporal' | 'numeric' | 'other';

/** Why a configured lookback is not valid syntax, or undefined when it is. */
export function lookbackProblem(value: unknown): string | undefined {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0) return `must be 0 or more: ${LOOKBACK_FIX}`;
    if (value > MAX_UNITS) return `must be at most ${MAX_UNITS}: ${LOOKBACK_FIX}`;
    if (!/^\d+(\.\d+)?$/.test(String(value))) return 'has too many decimals: write it with at most 15 significant digits, e.g. 0.001';
    return undefined;
  }
  if (typeof value === 'string') {
    const text = value.trim();
    const m = DURATION.exec(text);
    if (m) return Number(m[1]) * UNIT_SECONDS[m[2]!]! > MAX_SECONDS ? `is longer than 3650d: ${LOOKBACK_FIX}` : undefined;
    if (/^\d+(\.\d+)?$/.test(text)) return `has no unit: write "${text}m", "${text}h" or "${text}d" for a date or timestamp cursor, or ${text} without quotes for a numeric one`;
    return `is not a lookback: ${LOOKBACK_FIX}`;
  }
  return `must be a duration or a number: ${LOOKBACK_FIX}`;
}

/** The lookback as the job argument carries it: "15m", "1000", "0.5". */
export function lookbackText(value: string | number): string {
  return typeof value === 'number' ? String(value) : value.trim();
}

/** What a PostgreSQL type (an export's `originalType`) becomes as a cursor in the lake. */
export function cursorKind(originalType: string): CursorKind {
  const type = originalType.trim().toLowerCase();
  if (/^(date|timestamp)\b/.test(type)) return 'temporal';
  if (/^(smallint|integer|bigint|numeric|decimal|real|double precision|money)\b/.test(type)) return 'numeric';
  return 'other';
}

/**
 * Types a window follows as text: the window compares every type but numbers, dates and timestamps
 * as its text form in byte order (PostgreSQL `COLLATE "C"`, Spark's max on the lake's string), and
 * these types' text forms order as PostgreSQL orders the values (fixed-width or prefix-ordered).
 */
const TEXT_ORDERED_CURSORS = new Set([
  'text', 'character varying', 'varchar', 'character', 'char', 'bpchar', 'name', 'uuid', 'time', 'time without time zone',
  'macaddr', 'macaddr8', 'bit', 'bit varying', 'varbit',
]);

/** What the cursor types a window follows are, for the messages. */
export const CURSOR_TYPES_FIX = 'pick a cursor column that is a number, a date or timestamp, or text (text, character varying, character, name, uuid, time without time zone, macaddr, bit), e.g. an id or an updated-at column, or leave the cursor out and load the table whole from exports (extract: export)';

/** A PostgreSQL type name without its type modifiers, lower case: 'character varying(20)' -> 'character varying'. */
function typeBase(originalType: string): string {
  return originalType.toLowerCase().replace(/\([^)]*\)/g, '').replace(/\s+/g, ' ').trim();
}

/** Why a window cannot follow a cursor of this (base) type: an example of its order. */
function unorderedReason(type: string): string {
  const textOrder = (example: string) => `its text form does not order as PostgreSQL orders it, e.g. ${example}`;
  if (type === 'boolean' || type === 'bool') return 'it holds two values, and a new row holding false lies below the lake\'s max (true)';
  if (type === 'bytea') return 'the lake holds its bytes, while PostgreSQL would compare its text (\'\\x0a1b\')';
  if (type === 'array' || type.endsWith('[]')) return textOrder("'{10}' sorts below '{9}' as text");
  if (type === 'pg_lsn') return textOrder("'0/10000000' sorts below '0/9FFFFFF' as text");
  if (type === 'inet' || type === 'cidr') return textOrder("'10.0.0.1' sorts below '9.0.0.1' as text");
  if (type.startsWith('interval')) return textOrder("'10 days' sorts below '9 days' as text");
  if (type === 'time with time zone' || type === 'timetz') return textOrder("'10:00:00+02' sorts above '09:30:00+00' as text, though it is earlier");
  if (type === 'user-defined') return textOrder('an enum orders by the order its labels were declared in, not alphabetically');
  return textOrder("'10' sorts below '9' as text");
}

/**
 * Why a column of this PostgreSQL type (as an export's `originalType` or the source catalog spells
 * it: information_schema's names, 'USER-DEFINED', 'ARRAY', a domain by its base type) cannot be a
 * cursor, or undefined. A window reads the rows from the lake's max up, so it must compare values
 * in the order PostgreSQL gives them: numbers, dates and timestamps are compared natively, the
 * types of TEXT_ORDERED_CURSORS as text; for any other type a new row could sort below the lake's
 * max as text though it is larger, and would never be read.
 */
export function unorderedCursorProblem(originalType: string): string | undefined {
  const type = typeBase(originalType);
  const array = type === 'array' || type.endsWith('[]');
  if (!array && (cursorKind(originalType) !== 'other' || TEXT_ORDERED_CURSORS.has(type))) return undefined;
  return `is of type ${array ? 'array' : type}, which a window cannot follow: ${unorderedReason(type)}, so new rows would never be read: ${CURSOR_TYPES_FIX}`;
}

export function defaultLookback(kind: CursorKind): string {
  return kind === 'temporal' ? DEFAULT_TEMPORAL_LOOKBACK : DEFAULT_NUMERIC_LOOKBACK;
}

/** Why a (valid) lookback does not fit a cursor of this kind, or undefined; 0 fits every kind. */
export function lookbackKindProblem(text: string, kind: CursorKind): string | undefined {
  const isDuration = DURATION.test(text);
  if (isDuration ? Number(DURATION.exec(text)![1]) === 0 : Number(text) === 0) return undefined;
  if (kind === 'temporal' && !isDuration) return 'the lookback of a date or timestamp cursor is a duration: write e.g. "1h", "15m" or "1d"';
  if (kind === 'numeric' && isDuration) return 'the lookback of a numeric cursor is a number of cursor units: write e.g. 1000, or 0';
  if (kind === 'other') return 'a cursor of this type has no distance to look back by: write 0 (rows that tie with the lake\'s max are still read)';
  return undefined;
}
