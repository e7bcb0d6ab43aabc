/** Paths of the tools the bootstrap script installed (.lakesync/toolchain.json); env vars override. */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export interface Toolchain {
  temporal: string;
  python: string;
  icebergJar: string;
  /** The PostgreSQL JDBC driver the local Spark session reads direct-extract tables with (undefined until bootstrapped). */
  postgresJdbcJar: string | undefined;
  javaHome: string;
  root: string;
}

export function repoRoot(): string {
  // dist/src/toolchain.js or src/toolchain.ts: the repo is two or one levels up.
  const candidates = [resolve(__dirname, '..', '..'), resolve(__dirname, '..')];
  return candidates.find((dir) => existsSync(join(dir, 'package.json'))) ?? process.cwd();
}

/**
 * The tools, each resolved when first used: a worker that never starts a dev server needs no
 * Temporal CLI, and a missing tool is reported by name with the fix.
 */
export function toolchain(file = join(repoRoot(), '.lakesync', 'toolchain.json')): Toolchain {
  const fromFile: Partial<Toolchain> = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Partial<Toolchain>) : {};
  const pick = (env: string, key: keyof Toolchain): string => {
    const value = process.env[env] ?? fromFile[key];
    if (!value) throw new Error(`${key} is not installed: run "npm run bootstrap" (or set ${env})`);
    return value;
  };
  return {
    get temporal() {
      return pick('LAKESYNC_TEMPORAL_BIN', 'temporal');
    },
    get python() {
      return pick('LAKESYNC_PYTHON', 'python');
    },
    get icebergJar() {
      return pick('LAKESYNC_ICEBERG_JAR', 'icebergJar');
    },
    // Optional: only direct-extract loads need it, and they report a missing driver by name.
    get postgresJdbcJar() {
      return process.env.LAKESYNC_POSTGRES_JDBC_JAR ?? fromFile.postgresJdbcJar;
    },
    get javaHome() {
      return pick('JAVA_HOME', 'javaHome');
    },
    root: fromFile.root ?? repoRoot(),
  };
}
