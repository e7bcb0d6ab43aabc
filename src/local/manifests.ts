/** ManifestStore of the embedded mode: JSON files under manifests/, referenced as file:// URLs. */
import { rmSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { PortError } from '../errors';
import type { ManifestStore } from '../ports';
import { readJsonIfExists, writeJsonAtomic } from './files';

export function createManifestStore(dir: string): ManifestStore {
  const root = resolve(dir);
  const inside = (file: string) => {
    const rel = relative(root, file);
    return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel);
  };
  const fileOf = (key: string) => {
    const file = resolve(join(root, key));
    if (!inside(file)) throw new PortError('validation', 'InvalidManifestKey', `manifest key "${key}" leaves the manifests folder`);
    return file;
  };
  const fileOfRef = (ref: string) => {
    let file: string;
    try {
      file = fileURLToPath(ref);
    } catch {
      throw new PortError('validation', 'InvalidManifestRef', `manifest reference "${ref}" is not a file:// URL of this work dir`);
    }
    if (!inside(file)) throw new PortError('validation', 'InvalidManifestRef', `manifest reference "${ref}" is outside ${root}`);
    return file;
  };
  return {
    async put(key, value) {
      const file = fileOf(key);
      writeJsonAtomic(file, value);
      return pathToFileURL(file).href;
    },
    ref: (key) => pathToFileURL(fileOf(key)).href,
    async delete(ref: string) {
      rmSync(fileOfRef(ref), { force: true });
    },
    async get<T>(ref: string) {
      const file = fileOfRef(ref);
      const value = readJsonIfExists<T>(file);
      if (value === undefined) throw new PortError('not-found', 'ManifestNotFound', `manifest ${file} is missing: the work dir was cleaned during the cycle; run a new sync`);
      return value;
    },
  };
}
