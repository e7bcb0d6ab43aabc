/** Small text helpers: aligned columns, durations, bars. No colours, so output pastes cleanly. */

export function columns(header: string[], rows: string[][]): string[] {
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

export function rowsText(rows: { inserted: number; updated: number; deleted: number } | undefined): string {
  return rows ? `+${rows.inserted} ~${rows.updated} -${rows.deleted}` : '';
}
