import { readFile, stat } from 'node:fs/promises';
import { DataTransferError, resolveSqliteUrl, UsageError } from '@cmpkg/core';
import {
  type CommandContext,
  loadSettings,
  type OpenDatabase,
  openDatabase,
  type Settings,
} from '../context.js';
import { dialectFor, redactUrl, resolveDatabaseUrl } from '../dialects.js';

// What `copy`, `export` and `import` share (opening databases by URL), and how every command reads
// the files given on its command line.

/**
 * Opens the database at `url` (a relative `sqlite:` path resolves against the working directory,
 * as for `--db`). An unknown URL exits 2 before anything is opened.
 *
 * @example
 * const source = await openUrl(ctx, settings, 'sqlite:./app.db', { readOnly: true });
 */
export async function openUrl(
  ctx: CommandContext,
  settings: Settings,
  url: string,
  options: { readOnly: boolean },
): Promise<OpenDatabase> {
  const resolved = resolveDatabaseUrl(url, ctx.cwd);
  const dialect = await dialectFor(resolved);
  return openDatabase(dialect, { ...settings, database: resolved }, options);
}

/**
 * The settings and the database of `--db` (else `DATABASE_URL`, the config, the default), opened.
 *
 * @example
 * const { settings, db } = await openSettingsDatabase(ctx, { readOnly: true });
 */
export async function openSettingsDatabase(
  ctx: CommandContext,
  options: { readOnly: boolean },
): Promise<{ settings: Settings; db: OpenDatabase }> {
  const settings = await loadSettings(ctx);
  const dialect = await dialectFor(settings.database);
  return { settings, db: await openDatabase(dialect, settings, options) };
}

/** Closes a connection without letting a failing close hide the error that is being reported. */
export async function closeQuietly(db: OpenDatabase | undefined): Promise<void> {
  await db?.connection.close().catch(() => undefined);
}

/**
 * Why a file given on the command line could not be read, as messages put it: `no such file`, or
 * the error itself.
 *
 * @example
 * unreadableReason(err); // 'no such file'
 */
export function unreadableReason(err: unknown): string {
  return (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : String(err);
}

/**
 * Reads the text of a file given on the command line. A file that cannot be read exits 2
 * (`E_USAGE`) naming the option and the file (`what` is how the message calls it).
 *
 * @example
 * const text = await readOptionFile('--map', '/p/mapping.json', 'mapping.json');
 */
export async function readOptionFile(
  option: string,
  file: string,
  shownAs: string,
  what = 'the file',
): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw new UsageError(`${option} ${shownAs}: cannot read ${what}: ${unreadableReason(err)}`, {
      details: { option, file },
      cause: err,
    });
  }
}

/**
 * Whether anything exists at `file`, for the choices that depend on it (`init` over an existing
 * config, `install NAME` as a file or a registry spec). Not a check before reading: read the file
 * and handle the error ({@link readOptionFile}).
 *
 * @example
 * if (await pathExists('/p/cmpkg.config.json')) refuse();
 */
export async function pathExists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch {
    return false;
  }
}

/**
 * Refuses to work on a database given twice (`copy --from X --to X`): reading and writing the same
 * tables would either fail on "not empty" or, with `--replace`, drop the source. Checked on the URLs,
 * before anything is opened (a relative SQLite path and its absolute form are the same file).
 *
 * @example
 * assertDifferentDatabases('sqlite:./a.db', 'sqlite:/p/a.db', '/p'); // throws UsageError
 */
export function assertDifferentDatabases(from: string, to: string, cwd: string): void {
  const a = resolveSqliteUrl(from, cwd);
  const b = resolveSqliteUrl(to, cwd);
  if (a === b && a !== 'sqlite::memory:') {
    throw new UsageError(`--from and --to are the same database (${redactUrl(a)}): copy needs two`, {
      details: { from: redactUrl(a), to: redactUrl(b) },
    });
  }
}

/**
 * Runs `work` with an `AbortSignal` that Ctrl-C (SIGINT) or SIGTERM aborts, so a long copy, export
 * or import stops at its next batch and cleans up (an import or export leaves nothing; a copy keeps
 * its committed batches and checkpoints) instead of dying mid-write. Whatever `work` throws after the
 * signal becomes one `E_INTERRUPTED` error saying how to go on.
 *
 * @example
 * const report = await interruptible('the copy', 'run the same command again to resume', (signal) =>
 *   copyDatabase({ from, to, signal }));
 */
export async function interruptible<T>(
  what: string,
  next: string,
  work: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const controller = new AbortController();
  let signalName: string | undefined;
  const stop = (name: NodeJS.Signals) => {
    signalName = name;
    controller.abort();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    return await work(controller.signal);
  } catch (err) {
    if (signalName === undefined) throw err;
    throw new DataTransferError('E_INTERRUPTED', `${what} was interrupted (${signalName}): ${next}`, {
      cause: err,
    });
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}
