/** Where a command writes, and how: tests pass their own streams; `main.ts` passes the process's. */
export interface Output {
  write(text: string): unknown;
  /** True when this is a terminal (progress bars, cursor moves). */
  isTTY?: boolean;
  columns?: number;
  /** The terminal's height in rows. */
  rows?: number;
}

export interface CliIO {
  stdout: Output;
  stderr: Output;
  env: NodeJS.ProcessEnv;
  cwd: string;
}

export function processIO(): CliIO {
  return { stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd() };
}

export function printLine(out: Output, line = ''): void {
  out.write(`${line}\n`);
}

export function printJson(out: Output, value: unknown): void {
  out.write(`${JSON.stringify(value, null, 2)}\n`);
}
