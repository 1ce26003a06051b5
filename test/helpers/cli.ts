import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (this file is test/helpers/cli.ts). */
export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The committed launcher of the built CLI: the same file `pnpm demo` and users run. */
export const cliBin = join(repoRoot, 'packages', 'cli', 'bin', 'cmpkg.js');

export interface CliResult {
  /** The exit code; null when the process was ended by a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  /** Working directory of the CLI (relative `--db sqlite:./x.db` and config paths resolve from it). */
  cwd: string;
  env?: Record<string, string>;
}

/** True when the CLI has been built (`pnpm exec turbo run build`). */
export function cliIsBuilt(): boolean {
  return existsSync(join(repoRoot, 'packages', 'cli', 'dist', 'bin.js'));
}

/**
 * A clean environment: no colour codes to strip, and no DATABASE_URL or CMPKG_* inherited from the
 * developer's shell that could point the CLI at another database.
 */
function cliEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (key === 'DATABASE_URL' || key.startsWith('CMPKG_') || key === 'FORCE_COLOR') continue;
    env[key] = value;
  }
  return { ...env, NO_COLOR: '1', ...extra };
}

export interface RunningCli {
  child: ChildProcess;
  /** Settles when the process has exited and its output is drained. */
  done: Promise<CliResult>;
  /** What it has printed so far. */
  output(): { stdout: string; stderr: string };
}

/** Starts `node cmpkg.js ...args` without waiting for it (for concurrency and kill tests). */
export function startCli(args: readonly string[], options: CliOptions): RunningCli {
  const child = spawn(process.execPath, [cliBin, ...args], {
    cwd: options.cwd,
    env: cliEnv(options.env),
    // No stdin: the CLI must not wait for a prompt (a TTY check must see "not interactive").
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const done = new Promise<CliResult>((resolve, reject) => {
    child.on('error', reject);
    // 'close' (not 'exit') fires after stdout/stderr are fully read.
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return { child, done, output: () => ({ stdout, stderr }) };
}

/** Runs `node cmpkg.js ...args` to completion. */
export function runCli(args: readonly string[], options: CliOptions): Promise<CliResult> {
  return startCli(args, options).done;
}

/** stdout and stderr together, for "the message says ..." checks that should not care which stream. */
export function allOutput(result: CliResult): string {
  return `${result.stdout}\n${result.stderr}`;
}

/** A readable failure message: the command's whole output. */
export function describeRun(args: readonly string[], result: CliResult): string {
  return [
    `cmpkg ${args.join(' ')} -> code ${result.code}${result.signal ? ` (signal ${result.signal})` : ''}`,
    `--- stdout ---\n${result.stdout}`,
    `--- stderr ---\n${result.stderr}`,
  ].join('\n');
}

/** Parses stdout as exactly one JSON document (the `--json` contract); throws with the output if not. */
export function parseJsonOutput<T = Record<string, unknown>>(result: CliResult): T {
  try {
    return JSON.parse(result.stdout) as T;
  } catch (err) {
    throw new Error(
      `stdout is not one JSON document (${(err as Error).message}):\n${describeRun(['--json'], result)}`,
    );
  }
}
