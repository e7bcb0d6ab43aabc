/**
 * Packages the Glue job's scripts: the entry script as it is, and the `lakesync_glue`
 * package zipped for `--extra-py-files`. The content hash names the upload, so a changed
 * script gets a new S3 key and the job definition is updated to point at it.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { zipSync } from 'fflate';
import { PortError } from '../errors';

export const ENTRY_SCRIPT = 'glue_entry.py';
export const LIBRARY_PACKAGE = 'lakesync_glue';
export const LIBRARY_ZIP = `${LIBRARY_PACKAGE}.zip`;

export interface GlueScripts {
  /** First 16 hex digits of the SHA-256 over every packaged file's path and content. */
  hash: string;
  entryScript: Buffer;
  libraryZip: Uint8Array;
  files: string[];
}

/** A fixed timestamp keeps the zip byte-identical for identical sources. */
const ZIP_MTIME = new Date('2000-01-01T00:00:00Z');

export function packageGlueScripts(dir: string): GlueScripts {
  const entryPath = join(dir, ENTRY_SCRIPT);
  const libraryDir = join(dir, LIBRARY_PACKAGE);
  if (!existsSync(entryPath) || !existsSync(libraryDir)) {
    throw new PortError(
      'validation',
      'GlueScriptsMissing',
      `the Glue job scripts are missing: expected ${entryPath} and the folder ${libraryDir}; run lakesync from a complete checkout or install`,
    );
  }
  const libraryFiles = listFiles(libraryDir).map((abs) => relative(dir, abs).split(sep).join('/'));
  const hash = createHash('sha256');
  const entryScript = readFileSync(entryPath);
  hash.update(`${ENTRY_SCRIPT}\0`).update(entryScript);
  const zipEntries: Record<string, [Uint8Array, { mtime: Date }]> = {};
  for (const rel of libraryFiles) {
    const content = readFileSync(join(dir, rel));
    hash.update(`\0${rel}\0`).update(content);
    zipEntries[rel] = [content, { mtime: ZIP_MTIME }];
  }
  return {
    hash: hash.digest('hex').slice(0, 16),
    entryScript,
    libraryZip: zipSync(zipEntries, { level: 6 }),
    files: [ENTRY_SCRIPT, ...libraryFiles],
  };
}

/** Every file of the package in a stable order, without caches and compiled files. */
function listFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    if (name === '__pycache__' || name.endsWith('.pyc') || name.startsWith('.')) continue;
    const abs = join(dir, name);
    if (statSync(abs).isDirectory()) out.push(...listFiles(abs));
    else out.push(abs);
  }
  return out;
}
