/** The embedded mode's side of one source's config: its work dir and its database. */
import { join, resolve } from 'node:path';
import type { SourceConfig } from '../config/schema';
import { excludeMatches } from '../config/tables';
import { ConfigError } from '../errors';
import { fileSafe } from '../local/files';
import type { LocalSettings } from '../local';

export function localSettings(sourceName: string, source: SourceConfig, dataRoot: string): LocalSettings {
  const db = source.source;
  const workDir = resolve(source.local.workDir ?? join(dataRoot, fileSafe(sourceName)));
  if (db.kind === 'dynamodb') {
    if (!db.endpoint) {
      throw new ConfigError([{ path: `sources.${sourceName}.source.endpoint`, message: 'backend local reads DynamoDB tables from the embedded DynamoDB: set endpoint (e.g. http://127.0.0.1:5000, the moto server the demo starts)' }]);
    }
    return { source: sourceName, database: source.database, workDir, db: { kind: 'dynamodb', region: db.region, endpoint: db.endpoint, ...(db.tables ? { tables: db.tables } : {}) } };
  }
  if (db.kind !== 'pglite' && db.kind !== 'postgres') {
    throw new ConfigError([{ path: `sources.${sourceName}.source.kind`, value: db.kind, message: 'backend local exports pglite, postgres or dynamodb sources: use backend aws for rds' }]);
  }
  return {
    source: sourceName,
    database: source.database,
    workDir,
    db: db.kind === 'pglite' ? { kind: 'pglite', demo: db.demo, ...(db.dataDir ? { dataDir: db.dataDir } : {}) } : { kind: 'postgres', url: db.url },
    ...(source.local.exportReaders !== undefined ? { exportReaders: source.local.exportReaders } : {}),
    excludedBy: (table) => source.exclude.find((glob) => excludeMatches(table, glob)),
  };
}
