/**
 * `@cmpkg/cli`: the `cmpkg` command, also callable in-process.
 *
 * @example
 * import { main } from '@cmpkg/cli';
 * const code = await main(['up', '--db', 'sqlite:./app.db']);
 *
 * @packageDocumentation
 */
import { UsageError } from '@cmpkg/core';
import type { Command } from 'commander';
import type { CommandContext } from './context.js';
import { exitCodeFor, isCommanderError } from './exit-codes.js';
import { type CliIo, Output, toJsonError } from './output.js';
import { buildProgram, globalOptionsOf } from './program.js';

export { ExitCode, type ExitCodeValue, exitCodeFor } from './exit-codes.js';
export type { CliInputStream, CliIo, CliOutputStream } from './output.js';

let pipeGuarded = false;

/** The process's own streams, environment and working directory. */
function processIo(): CliIo {
  if (!pipeGuarded) {
    pipeGuarded = true;
    // `cmpkg history | head -1`: the reader left, so there is nobody to tell; stop quietly instead
    // of crashing with an EPIPE stack trace. Other stream errors still surface.
    process.stdout.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE') throw err;
    });
  }
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    env: process.env,
    cwd: process.cwd(),
  };
}

/**
 * `process.argv` starts with the node binary and the script; anything else is taken as the user's
 * arguments, so both `main(process.argv)` and `main(['status'])` work.
 */
function userArgs(argv: readonly string[]): string[] {
  if (argv === process.argv || (argv.length >= 2 && argv[0] === process.execPath)) return argv.slice(2);
  return [...argv];
}

/**
 * Runs the `cmpkg` command line and resolves to its exit code; it never throws and never calls
 * `process.exit`, so it can be embedded and tested in-process.
 *
 * @param argv `process.argv`, or just the arguments (`['up', '--dry-run']`).
 * @param io streams, environment and working directory (default: the process's).
 * @returns 0 success, 1 failure, 2 bad input or usage, 3 refused for safety.
 *
 * @example
 * let out = '';
 * const code = await main(['status', '--json', '--db', 'sqlite:./app.db'], {
 *   stdout: { write: (s: string) => (out += s) },
 *   stderr: process.stderr,
 * });
 * const report = JSON.parse(out); // StatusReport
 */
export async function main(argv: readonly string[], io: CliIo = processIo()): Promise<number> {
  const args = userArgs(argv);
  const env = io.env ?? process.env;
  const cwd = io.cwd ?? process.cwd();
  const debug = env.CMPKG_DEBUG === '1' || env.CMPKG_DEBUG === 'true';
  // Until commander has parsed the options (and for its own errors) guess the modes from argv.
  let out = new Output(io, args.includes('--json'), debug || args.includes('--verbose'));
  let exitCode = 0;

  const run = async (command: Command, action: (ctx: CommandContext) => Promise<number>): Promise<void> => {
    const flags = globalOptionsOf(command);
    out = new Output(io, flags.json === true, debug || flags.verbose === true);
    exitCode = await action({ io, out, flags, cwd, env });
  };

  try {
    await buildProgram(io, run).parseAsync(args, { from: 'user' });
    return exitCode;
  } catch (err) {
    if (isCommanderError(err)) {
      // Help and --version are "errors" with exit code 0; `cmpkg` alone printed help on stderr.
      if (err.exitCode === 0) return 0;
      if (err.code === 'commander.help') {
        out.emitJson({
          ok: false,
          error: toJsonError(new UsageError('no command given (see cmpkg --help)')),
        });
        return exitCodeFor(err);
      }
    }
    try {
      out.error(err);
    } catch {
      // Printing must never turn an error into a crash; the exit code still says what happened.
    }
    return exitCodeFor(err);
  }
}
