import { isCmpkgError } from '@cmpkg/core';
import { CommanderError } from 'commander';

/**
 * The exit codes of `cmpkg`, as documented in the README.
 *
 * @example
 * process.exitCode = ExitCode.Safety; // 3: refused for safety
 */
export const ExitCode = {
  /** Success, including "nothing to do". */
  Ok: 0,
  /** The operation failed: a migration failed, the database is unreachable, anything unexpected. */
  Failure: 1,
  /** Bad input or usage: the message names the file and the field or line. */
  Usage: 2,
  /** Refused for safety: drift, lock timeout, rollback without `--force`, backup impossible. */
  Safety: 3,
} as const;

/**
 * One of the values of {@link ExitCode}.
 *
 * @example
 * const code: ExitCodeValue = exitCodeFor(err);
 */
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/**
 * Maps an error to the process exit code. This is the one place that decides it; every command
 * returns `exitCodeFor(err)` instead of choosing numbers itself.
 *
 * - no error (`undefined` / `null`) → 0, so `exitCodeFor(result.error)` works for run results;
 * - a cmpkg error → by category: `input` → 2, `safety` → 3, `failure` → 1;
 * - a commander parse error (unknown command or option, missing argument) → 2, except help and
 *   `--version`, which commander reports as errors with exit code 0 → 0;
 * - anything else → 1.
 *
 * @example
 * import { DriftError } from '@cmpkg/core';
 * exitCodeFor(new DriftError('0002_add_tags changed since it was applied')); // 3
 * exitCodeFor(undefined); // 0
 * exitCodeFor(new TypeError('boom')); // 1
 */
export function exitCodeFor(err: unknown): ExitCodeValue {
  if (err === undefined || err === null) return ExitCode.Ok;
  if (isCommanderError(err)) return err.exitCode === 0 ? ExitCode.Ok : ExitCode.Usage;
  if (isCmpkgError(err)) {
    switch (err.category) {
      case 'input':
        return ExitCode.Usage;
      case 'safety':
        return ExitCode.Safety;
      default:
        return ExitCode.Failure;
    }
  }
  return ExitCode.Failure;
}

/** Commander's own errors; duck-typed too, in case two copies of commander are loaded. */
export function isCommanderError(err: unknown): err is CommanderError {
  return (
    err instanceof CommanderError ||
    (typeof err === 'object' &&
      err !== null &&
      typeof (err as { code?: unknown }).code === 'string' &&
      (err as { code: string }).code.startsWith('commander.') &&
      typeof (err as { exitCode?: unknown }).exitCode === 'number')
  );
}
