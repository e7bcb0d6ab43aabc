/** Runs a `lakesync` command in this process (the same code as bin/lakesync.js) and captures what it prints. */
import { runCli } from '../cli/main';
import type { CliIO } from '../cli/io';

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

export async function lakesync(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const io: CliIO = {
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text) },
    env: options.env ?? process.env,
    cwd: options.cwd ?? process.cwd(),
  };
  const code = await runCli(args, io);
  return { code, stdout, stderr };
}

/** The JSON a `--json` command printed; a clear error when it printed something else. */
export function jsonOf<T>(run: CliRun, command: string): T {
  try {
    return JSON.parse(run.stdout) as T;
  } catch {
    throw new Error(`lakesync ${command} exited ${run.code} without JSON output:\n${run.stdout}\n${run.stderr}`);
  }
}
