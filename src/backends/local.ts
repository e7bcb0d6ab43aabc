/** The embedded mode's side of one source's config: its work dir and its database. */
import { join, resolve } from 'node:path';
import type { SourceConfig } from '../config/schema';
import { ConfigError } from '../errors';
import { fileSafe } from '../local/files';
import type { LocalSettings } from '../local';

export function localSettings(sourceName: string, source: SourceConfig, dataRoot: string): LocalSettings {
  const db = source.source;
  if (db.kind !== 'pglite' && db.kind !== 'postgres') {
    throw new ConfigError([{ path: `sources.${sourceName}.source.kind`, value: db.kind, message: 'backend local exports pglite or postgres sources: use backend aws for rds' }]);
  }
  return {
    source: sourceName,
    database: source.database,
    workDir: resolve(source.local.workDir ?? join(dataRoot, fileSafe(sourceName))),
    db: db.kind === 'pglite' ? { kind: 'pglite', demo: db.demo, ...(db.dataDir ? { dataDir: db.dataDir } : {}) } : { kind: 'postgres', url: db.url },
    ...(source.local.exportReaders !== undefined ? { exportReaders: source.local.exportReaders } : {}),
  };
}
