/** Small text helpers: aligned columns, durations, bars. No colours, so output pastes cleanly. */

/** C0 and C1 control characters and DEL: a terminal acts on them (ESC starts a sequence) instead of showing them. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;
const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/**
 * Text from elsewhere (a source's table names, a backend's message) as one printable line: every
 * control character and newline shown escaped (`\x1b`, `\n`), so it can neither drive the terminal
 * nor break a layout. For text output only; JSON escapes them itself.
 */
export function shown(text: string): string {
  return text.replace(CONTROL, (c) => NAMED[c] ?? `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** As `shown`, keeping the line breaks of a message written as several lines. */
export function shownLines(text: string): string {
  return text.split('\n').map(shown).join('\n');
}

/** Aligned columns; every cell and heading is `shown` (a query's headings are column names), so each is one line whatever it holds. */
export function columns(rawHeader: string[], raw: string[][]): string[] {
  const header = rawHeader.map(shown);
  const rows = raw.map((r) => r.map(shown));
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(header), ...rows.map(line)];
}

export function duration(ms: number | undefined): string {
  if (ms === undefined) return '';
  const total = Math.round(ms / 1000);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : m > 0 ? `${m}m${String(s).padStart(2, '0')}s` : `${s}s`;
}

/** A bar of `width` cells filled to `fraction` (0..1). */
export function bar(fraction: number, width: number): string {
  const filled = Math.round(Math.min(1, Math.max(0, fraction)) * width);
  return `${'█'.repeat(filled)}${'░'.repeat(width - filled)}`;
}

/** What a load changed in values on purpose: `3 value(s) stored as NULL (born: 3)`; empty when nothing. */
export function valueChangesText(t: { nulledValues?: Record<string, number> | undefined; clampedValues?: Record<string, number> | undefined }): string {
  const part = (counts: Record<string, number> | undefined, what: string) => {
    const entries = Object.entries(counts ?? {}).filter(([, n]) => n > 0);
    if (entries.length === 0) return undefined;
    const total = entries.reduce((sum, [, n]) => sum + n, 0);
    return `${total} value(s) ${what} (${entries.map(([c, n]) => `${c}: ${n}`).join(', ')})`;
  };
  return [part(t.nulledValues, 'stored as NULL'), part(t.clampedValues, 'clamped to the lake range')].filter(Boolean).join('; ');
}

export function rowsText(rows: { inserted: number; updated: number; deleted: number; changesUnknown?: true } | undefined): string {
  if (rows?.changesUnknown) return 'unknown';
  return rows ? `+${rows.inserted} ~${rows.updated} -${rows.deleted}` : '';
}
