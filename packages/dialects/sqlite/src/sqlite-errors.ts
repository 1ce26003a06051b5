import type { ErrorClass } from '@cmpkg/core';

/**
 * The `code` of {@link SqliteStatementTimeoutError}; shaped like a driver code so it reads alongside them.
 *
 * @example
 * if ((err as { code?: string }).code === SQLITE_STATEMENT_TIMEOUT) console.error('too slow');
 */
export const SQLITE_STATEMENT_TIMEOUT = 'CMPKG_SQLITE_TIMEOUT';

/**
 * A statement ran longer than the `timeoutMs` given to `Connection.execute`.
 *
 * This is a driver-level error (like better-sqlite3's `SqliteError`), not a `CmpkgError`: the engine
 * classifies it with `classifyError` (it reports `'timeout'`) and wraps it into its own step error.
 * better-sqlite3 cannot interrupt a running statement, so this is raised when the statement returns:
 * the statement has completed, and outside a transaction its effects are already committed.
 *
 * @example
 * try { await conn.execute(sql, [], { timeoutMs: 1000 }); } catch (e) {
 *   if (e instanceof SqliteStatementTimeoutError) console.error(`took ${e.elapsedMs} ms`);
 * }
 */
export class SqliteStatementTimeoutError extends Error {
  readonly code = SQLITE_STATEMENT_TIMEOUT;
  readonly timeoutMs: number;
  readonly elapsedMs: number;

  constructor(timeoutMs: number, elapsedMs: number) {
    super(
      `statement ran for ${elapsedMs} ms, longer than its ${timeoutMs} ms timeout ` +
        '(SQLite cannot interrupt a running statement; the overrun was detected when it returned)',
    );
    this.name = 'SqliteStatementTimeoutError';
    this.timeoutMs = timeoutMs;
    this.elapsedMs = elapsedMs;
  }
}

/** The SQLite result code (`SQLITE_BUSY`, `SQLITE_CONSTRAINT_UNIQUE`, ...) of an error, if it has one. */
function sqliteCode(err: object): string | undefined {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && (code.startsWith('SQLITE_') || code === SQLITE_STATEMENT_TIMEOUT)
    ? code
    : undefined;
}

/** `SQLITE_ERROR` is SQLite's catch-all; only these messages mean the SQL text itself is malformed. */
const SYNTAX_MESSAGE = /syntax error|incomplete input|unrecognized token/i;

/**
 * Sorts an error raised while talking to SQLite into the classes the engine acts on (`transient` errors
 * are retried with backoff; the others are not).
 *
 * Looks through `cause` chains, so a driver error wrapped by another layer still classifies.
 *
 * @example
 * import { classifySqliteError } from '@cmpkg/dialect-sqlite';
 * try { await conn.execute('insert into t values (1)'); } catch (e) {
 *   if (classifySqliteError(e) === 'constraint') console.error('duplicate');
 * }
 */
export function classifySqliteError(err: unknown): ErrorClass {
  // Walk a bounded cause chain: wrappers (the engine's step errors, Kysely) keep the driver error there.
  let current: unknown = err;
  for (let depth = 0; depth < 8 && typeof current === 'object' && current !== null; depth++) {
    const code = sqliteCode(current);
    if (code !== undefined)
      return classifyCode(code, String((current as { message?: unknown }).message ?? ''));
    if ((current as { name?: unknown }).name === 'SqliteStatementTimeoutError') return 'timeout';
    current = (current as { cause?: unknown }).cause;
  }
  return 'unknown';
}

function classifyCode(code: string, message: string): ErrorClass {
  if (code === SQLITE_STATEMENT_TIMEOUT || code === 'SQLITE_INTERRUPT') return 'timeout';
  // Extended codes (SQLITE_BUSY_SNAPSHOT, SQLITE_LOCKED_SHAREDCACHE, ...) share their primary's meaning.
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) return 'transient';
  // A row's values at fault: constraints (STRICT tables' datatype checks among them), a value of the
  // wrong type for a rowid, or one over SQLITE_MAX_LENGTH.
  if (code.startsWith('SQLITE_CONSTRAINT') || code === 'SQLITE_MISMATCH' || code === 'SQLITE_TOOBIG')
    return 'constraint';
  if (code === 'SQLITE_PERM' || code === 'SQLITE_AUTH' || code.startsWith('SQLITE_READONLY'))
    return 'permission';
  if (code === 'SQLITE_ERROR' && SYNTAX_MESSAGE.test(message)) return 'syntax';
  return 'unknown';
}
