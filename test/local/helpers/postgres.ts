/**
 * A private PostgreSQL server for a test: Debian's postgresql (installed by
 * scripts/setup-postgres.sh when missing), initdb in a temp folder, started on a free
 * loopback port; stop() ends it and removes the folder. PostgreSQL refuses to run as root,
 * so as root the server runs as the postgres user.
 *
 * The server is a child of the test's process, in its process group (pg_ctl would start it in a
 * session of its own): a test lane stopped at its time limit, or a test file ending without its
 * clean-up, stops the server with everything else it started (scripts/lib/process-group.sh).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chownSync, closeSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from '../../../src/devserver';
import { repoRoot } from '../../../src/toolchain';

export interface TestPostgres {
  url: string;
  port: number;
  /** The server's own process (the postmaster). */
  pid: number;
  /** The folder holding its data and log, removed by stop(). */
  dir: string;
  query<T extends Record<string, unknown> = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  stop(): Promise<void>;
}

export async function startPostgres(): Promise<TestPostgres> {
  const bin = execFileSync('bash', [join(repoRoot(), 'scripts', 'setup-postgres.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
  const asRoot = process.getuid?.() === 0;
  const dir = mkdtempSync(join(tmpdir(), 'lakesync-pg-'));
  const owner = asRoot ? { uid: Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim()), gid: Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim()) } : {};
  if (owner.uid !== undefined) chownSync(dir, owner.uid, owner.gid);
  const data = join(dir, 'data');
  const port = await freePort();
  execFileSync(join(bin, 'initdb'), ['-D', data, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--locale=C.UTF-8', '--no-sync'], { ...owner, stdio: ['ignore', 'ignore', 'pipe'] });
  const log = openSync(join(dir, 'server.log'), 'a');
  const server = spawn(join(bin, 'postgres'), ['-D', data, '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off'], { ...owner, stdio: ['ignore', log, log] });
  closeSync(log);
  // Not a reason for the test's process to stay: one that ends without stop() leaves the server to its lane's clean-up.
  server.unref();
  await ready(server, join(bin, 'pg_isready'), port, dir);
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  pool.on('error', () => undefined);
  let stopped = false;
  return {
    url,
    port,
    pid: server.pid!,
    dir,
    async query<T extends Record<string, unknown>>(sql: string, params: unknown[] = []) {
      return (await pool.query(sql, params)).rows as T[];
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await pool.end().catch(() => undefined);
      try {
        // SIGQUIT: an immediate shutdown, as pg_ctl -m immediate sends.
        if (server.exitCode === null && server.signalCode === null) {
          const ended = new Promise((resolve) => server.once('exit', resolve));
          server.ref();
          server.kill('SIGQUIT');
          await ended;
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

/** Waits until the server accepts connections (pg_isready), for up to 60 s; fails with its log if it ended first. */
async function ready(server: ChildProcess, pgIsReady: string, port: number, dir: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (server.exitCode !== null || server.signalCode !== null) throw new Error(`PostgreSQL ended while starting (${server.exitCode ?? server.signalCode}); its log is ${join(dir, 'server.log')}`);
    try {
      execFileSync(pgIsReady, ['-q', '-h', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
      return;
    } catch {
      if (Date.now() > deadline) throw new Error(`PostgreSQL did not accept connections within 60 s; its log is ${join(dir, 'server.log')}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}
