/** Entry point of the `lakesync` command (bin/lakesync.js). `runCli` never exits the process, so tests call it in-process. */
import { CommanderError } from 'commander';
import { exitQuietlyOnBrokenPipe } from './broken-pipe';
import type { CliDeps } from './context';
import { errorText, exitCodeOf } from './errors';
import { type CliIO, processIO } from './io';
import { buildProgram } from './program';

export async function runCli(argv: string[], io: CliIO = processIO(), deps: CliDeps = {}): Promise<number> {
  // Every command's output may be piped into `head`: a reader that has gone ends the command quietly.
  exitQuietlyOnBrokenPipe(io.stdout);
  const program = buildProgram({ io, deps });
  try {
    await program.command.parseAsync(argv, { from: 'user' });
    return program.exitCode();
  } catch (err) {
    // Commander has already printed its own usage errors (and help).
    if (!(err instanceof CommanderError)) io.stderr.write(`${errorText(err)}\n`);
    return exitCodeOf(err);
  }
}

if (require.main === module) {
  runCli(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`${errorText(err)}\n`);
      process.exitCode = 1;
    },
  );
}
