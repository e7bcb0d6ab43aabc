/**
 * What `lakesync query` may send to Athena: exactly one SELECT (also WITH ... SELECT), SHOW,
 * DESCRIBE or EXPLAIN of a query. Athena also runs writes (INSERT INTO, MERGE INTO, UPDATE, DELETE,
 * CREATE, DROP, ALTER, OPTIMIZE, VACUUM, UNLOAD, MSCK, PREPARE / EXECUTE), so the statement is read
 * token by token before it is sent: comments, string literals and quoted names as Athena reads them,
 * and a CTE list is skipped to the statement it belongs to. Text that Athena's two engines (Trino
 * for queries, Hive for DDL) could split differently is refused rather than guessed at.
 * The workgroup and IAM policy of docs/aws-setup.md are the boundary; this check is the first fence.
 */
import { PortError } from '../errors';
import { athenaCatalog } from './settings';

interface Token {
  kind: 'word' | 'name' | 'string' | 'symbol';
  text: string;
}

/** Text this check will not guess about; the message says what was found. */
class Unreadable extends Error {}

// Letters, digits and anything beyond ASCII: an odd character merges into a word, which then
// matches no keyword and is refused.
const WORD_CHAR = /[A-Za-z0-9_$@\u0080-\uffff]/;
const SPACE = /[ \t\n\r\f\v]/;

function tokenize(sql: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < sql.length) {
    const c = sql[i]!;
    if (SPACE.test(c)) {
      i++;
    } else if (sql.startsWith('--', i)) {
      while (i < sql.length && sql[i] !== '\n' && sql[i] !== '\r') i++;
    } else if (sql.startsWith('/*', i)) {
      const end = sql.indexOf('*/', i + 2);
      if (end === -1) throw new Unreadable('an unclosed /* comment');
      // Trino ends a block comment at the first */, other SQL dialects nest them.
      if (sql.slice(i + 2, end).includes('/*')) throw new Unreadable('a /* comment inside a /* comment');
      i = end + 2;
    } else if (c === "'" || c === '"' || c === '`') {
      let j = i + 1;
      let text = '';
      for (;;) {
        if (j >= sql.length) throw new Unreadable(`an unclosed ${c} quote`);
        const d = sql[j]!;
        if (d === c && sql[j + 1] === c) {
          text += c;
          j += 2;
        } else if (d === c) {
          break;
        } else if (d === '\\' && c !== '`' && sql[j + 1] === c) {
          // Trino reads \' as a backslash then the closing quote; Hive as an escaped quote.
          throw new Unreadable(`a backslash before a ${c} inside a quoted text (Athena's engines read it differently)`);
        } else {
          text += d;
          j++;
        }
      }
      out.push({ kind: c === "'" ? 'string' : 'name', text });
      i = j + 1;
    } else if (WORD_CHAR.test(c)) {
      let j = i;
      while (j < sql.length && WORD_CHAR.test(sql[j]!)) j++;
      out.push({ kind: 'word', text: sql.slice(i, j) });
      i = j;
    } else {
      out.push({ kind: 'symbol', text: c });
      i++;
    }
  }
  return out;
}

/** A keyword as written, in ASCII upper case only (no Unicode case mapping turns a word into one). */
function keyword(token: Token | undefined): string | undefined {
  return token?.kind === 'word' ? token.text.replace(/[a-z]/g, (ch) => ch.toUpperCase()) : undefined;
}

function isSymbol(token: Token | undefined, symbol: string): boolean {
  return token?.kind === 'symbol' && token.text === symbol;
}

/** The index after the parenthesised group that opens at `i`. */
function skipGroup(tokens: Token[], i: number): number {
  let depth = 0;
  for (let j = i; j < tokens.length; j++) {
    if (isSymbol(tokens[j], '(')) depth++;
    else if (isSymbol(tokens[j], ')') && --depth === 0) return j + 1;
  }
  throw new Unreadable('an unclosed parenthesis');
}

/** The index of the statement after a CTE list `name [(columns)] AS (...) [, ...]` starting at `i`. */
function skipCtes(tokens: Token[], i: number): number {
  if (keyword(tokens[i]) === 'RECURSIVE') i++;
  for (;;) {
    const name = tokens[i];
    if (name?.kind !== 'word' && name?.kind !== 'name') throw new Unreadable('a WITH clause without a name');
    i++;
    if (isSymbol(tokens[i], '(')) i = skipGroup(tokens, i);
    if (keyword(tokens[i]) !== 'AS' || !isSymbol(tokens[i + 1], '(')) throw new Unreadable('a WITH clause that is not "name AS (query)"');
    i = skipGroup(tokens, i + 1);
    if (!isSymbol(tokens[i], ',')) return i;
    i++;
  }
}

/** The statement's verb: the first keyword, past opening parentheses and any CTE list. */
function verbOf(tokens: Token[], i: number): { verb: string | undefined; withCtes: boolean } {
  while (isSymbol(tokens[i], '(')) i++;
  if (keyword(tokens[i]) === 'WITH') return { verb: verbOf(tokens, skipCtes(tokens, i + 1)).verb, withCtes: true };
  return { verb: keyword(tokens[i]), withCtes: false };
}

function statementName(verb: string | undefined, withCtes: boolean): string {
  if (verb === undefined) return 'a statement that does not start with a keyword';
  const name = withCtes ? `WITH ... ${verb}` : verb;
  return `${/^[AEIOU]/.test(name) ? 'an' : 'a'} ${name} statement`;
}

/**
 * Why Athena must not run `sql` under `lakesync query`, or undefined when it is one SELECT,
 * WITH ... SELECT, SHOW, DESCRIBE or EXPLAIN [ANALYZE] of a query.
 */
export function athenaReadOnlyRefusal(sql: string): string | undefined {
  return refusal(sql, false);
}

/**
 * Why `sql` is not one SELECT or WITH ... SELECT, or undefined when it is: a verify check is a query
 * of the lake's rows. SHOW and DESCRIBE (which Athena runs on its DDL engine, reading text
 * differently) and EXPLAIN are `lakesync query`'s, never a check's.
 */
export function athenaSelectRefusal(sql: string): string | undefined {
  return refusal(sql, true);
}

function refusal(sql: string, selectOnly: boolean): string | undefined {
  try {
    const statements: Token[][] = [[]];
    for (const token of tokenize(sql)) {
      if (isSymbol(token, ';')) statements.push([]);
      else statements[statements.length - 1]!.push(token);
    }
    const nonEmpty = statements.filter((s) => s.length > 0);
    if (nonEmpty.length === 0) return 'no statement';
    if (nonEmpty.length > 1) return `${nonEmpty.length} statements separated by ';'`;
    const tokens = nonEmpty[0]!;
    const first = keyword(tokens[0]);
    if (selectOnly && (first === 'SHOW' || first === 'DESCRIBE' || first === 'EXPLAIN')) return statementName(first, false);
    if (first === 'SHOW' || first === 'DESCRIBE') return undefined;
    if (first === 'EXPLAIN') {
      // EXPLAIN ANALYZE runs its statement: whatever follows EXPLAIN must be a query itself.
      let i = 1;
      if (keyword(tokens[i]) === 'ANALYZE') i++;
      if (keyword(tokens[i]) === 'VERBOSE') i++;
      if (isSymbol(tokens[i], '(') && ['FORMAT', 'TYPE'].includes(keyword(tokens[i + 1]) ?? '')) i = skipGroup(tokens, i);
      const explained = verbOf(tokens, i);
      return explained.verb === 'SELECT' ? undefined : `EXPLAIN of ${statementName(explained.verb, explained.withCtes)}`;
    }
    const { verb, withCtes } = verbOf(tokens, 0);
    return verb === 'SELECT' ? undefined : statementName(verb, withCtes);
  } catch (err) {
    if (err instanceof Unreadable) return `text with ${err.message}`;
    throw err;
  }
}

/** A lake table's name in Athena SQL: `"s3tablescatalog/<bucket>"."<namespace>"."<table>"`. */
export function athenaQualifiedName(settings: Parameters<typeof athenaCatalog>[0], namespace: string, lakeTable: string): string {
  return [athenaCatalog(settings), namespace, lakeTable].map((part) => `"${part.replaceAll('"', '""')}"`).join('.');
}

/**
 * Why a verify check's SQL must not run, or undefined when it is one SELECT (or WITH ... SELECT): as written, and as Athena
 * receives it, with {table} replaced by `qualifiedName`. A table bucket's name may hold "--", which
 * starts a comment outside quotes: {table} inside a quoted name could otherwise turn what the check
 * hid in that name into a statement of its own.
 */
export function athenaCheckRefusal(sql: string, qualifiedName: string): string | undefined {
  const written = athenaSelectRefusal(sql);
  if (written !== undefined) return written;
  const sent = athenaSelectRefusal(sql.replaceAll('{table}', qualifiedName));
  return sent === undefined ? undefined : `${sent} once {table} is replaced by ${qualifiedName}`;
}

/** Refuses (PortError ReadOnlyQuery) anything but one SELECT, SHOW, DESCRIBE or EXPLAIN statement. */
export function assertAthenaReadOnly(sql: string): void {
  const refusal = athenaReadOnlyRefusal(sql);
  if (refusal !== undefined) {
    throw new PortError(
      'validation',
      'ReadOnlyQuery',
      `lakesync query is read-only and sends Athena one SELECT (or WITH ... SELECT), SHOW, DESCRIBE or EXPLAIN statement: this is ${refusal}. The lake changes only through lakesync sync and rerun`,
    );
  }
}
