import type { ErrorClass } from '@cmpkg/core';

/**
 * The `code` of {@link PostgresStatementTimeoutError}; shaped like a driver code so it reads alongside
 * SQLSTATEs.
 *
 * @example
 * if ((err as { code?: string }).code === POSTGRES_STATEMENT_TIMEOUT) console.error('too slow');
 */
export const POSTGRES_STATEMENT_TIMEOUT = 'CMPKG_POSTGRES_TIMEOUT';

/**
 * The `code` of {@link PostgresTransactionLostError}.
 *
 * @example
 * if ((err as { code?: string }).code === POSTGRES_TRANSACTION_LOST) await conn.execute('ROLLBACK');
 */
export const POSTGRES_TRANSACTION_LOST = 'CMPKG_POSTGRES_TRANSACTION_LOST';

/**
 * A statement ran longer than the `timeoutMs` given to `Connection.execute` and the server cancelled it
 * (`pg_cancel_backend`). The statement did not complete; inside a transaction, the transaction is now
 * aborted (roll it back), outside one nothing of the statement remains. The connection stays usable.
 *
 * This is a driver-level error (like pg's `DatabaseError`), not a `CmpkgError`: the engine classifies it
 * with `classifyError` (it reports `'timeout'`) and wraps it into its own step error. `cause` is the
 * server's `57014` error.
 *
 * @example
 * try { await conn.execute('select pg_sleep(60)', [], { timeoutMs: 1000 }); } catch (e) {
 *   if (e instanceof PostgresStatementTimeoutError) console.error(`cancelled after ${e.timeoutMs} ms`);
 * }
 */
export class PostgresStatementTimeoutError extends Error {
  readonly code = POSTGRES_STATEMENT_TIMEOUT;
  readonly timeoutMs: number;
  readonly elapsedMs: number;

  constructor(timeoutMs: number, elapsedMs: number, cause: unknown) {
    super(
      `statement cancelled by the server after ${elapsedMs} ms: it exceeded its ${timeoutMs} ms timeout`,
      {
        cause,
      },
    );
    this.name = 'PostgresStatementTimeoutError';
    this.timeoutMs = timeoutMs;
    this.elapsedMs = elapsedMs;
  }
}

/**
 * The connection dropped while a transaction was open; the server rolled that transaction back. The
 * connection has reconnected, but until the caller ends the transaction with `ROLLBACK` every statement
 * fails with this error (as PostgreSQL itself does in an aborted transaction), so that nothing meant for
 * the lost transaction runs in autocommit and a later `COMMIT` cannot report a success that never
 * happened. A `COMMIT` fails with it too and ends the lost transaction. Classified `'unknown'`: retrying
 * a statement cannot bring the transaction back.
 *
 * @example
 * try { await conn.execute('COMMIT'); } catch (e) {
 *   if (e instanceof PostgresTransactionLostError) console.error('nothing of the transaction was kept');
 * }
 */
export class PostgresTransactionLostError extends Error {
  readonly code = POSTGRES_TRANSACTION_LOST;

  constructor(cause?: unknown) {
    super(
      'the connection to PostgreSQL was lost inside a transaction, which the server rolled back; ' +
        'the connection has been re-established, ROLLBACK to continue',
      cause === undefined ? undefined : { cause },
    );
    this.name = 'PostgresTransactionLostError';
  }
}

/** Node and pg errors that mean the socket to the server is gone (the statement may or may not have run). */
const DROPPED_CODES = new Set([
  'ECONNRESET',
  'EPIPE',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);
const DROPPED_MESSAGE =
  /^(Connection terminated|Client has encountered a connection error|Client was closed and is not queryable)/;

/**
 * The SQLSTATE of a PostgreSQL error (pg's `DatabaseError.code`): five characters, digits and capitals.
 */
function sqlState(err: object): string | undefined {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/**
 * The SQLSTATE of an error pg raised, if it is one (`'23505'`, `'57014'`).
 *
 * @example
 * if (sqlStateOf(err) === '23505') console.error('duplicate key');
 */
export function sqlStateOf(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null ? sqlState(err) : undefined;
}

/**
 * True when an error means the session itself is gone (the server ended it, or the socket broke), as
 * opposed to a statement failing on a live session.
 *
 * @example
 * if (isConnectionLoss(err)) console.error('reconnecting on the next statement');
 */
export function isConnectionLoss(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && DROPPED_CODES.has(code)) return true;
  const state = sqlState(err);
  if (state !== undefined) return state.startsWith('08') || state === '57P01' || state === '57P02';
  const message = (err as { message?: unknown }).message;
  return typeof message === 'string' && DROPPED_MESSAGE.test(message);
}

/**
 * Sorts an error raised while talking to PostgreSQL into the classes the engine acts on (`transient`
 * errors are retried with backoff; the others are not):
 *
 * | class        | SQLSTATE / driver error                                                                 |
 * | ------------ | --------------------------------------------------------------------------------------- |
 * | `transient`  | 40001 serialization, 40P01 deadlock, 55P03 lock not available, 57P01-57P03 shutdown,     |
 * |              | class 08 connection exceptions, dropped sockets (ECONNRESET, EPIPE, "Connection terminated") |
 * | `timeout`    | 57014 query cancelled, {@link PostgresStatementTimeoutError}                             |
 * | `constraint` | class 23 integrity violations, class 22 data exceptions (a value the column cannot hold: |
 * |              | 22001 too long, 22003 out of range, 22P02 bad input syntax, 22007 bad datetime, ...)      |
 * | `permission` | 42501 insufficient privilege, 25006 read-only transaction                               |
 * | `syntax`     | the rest of class 42 (syntax errors, unknown tables and columns)                          |
 *
 * Looks through `cause` chains, so a driver error wrapped by another layer still classifies. A core
 * `ConnectionError` (a failed connect or reconnect) is final: it is `'unknown'` whatever its cause.
 *
 * @example
 * import { classifyPostgresError } from '@cmpkg/dialect-postgres';
 * try { await conn.execute('insert into t values (1)'); } catch (e) {
 *   if (classifyPostgresError(e) === 'constraint') console.error('duplicate');
 * }
 */
export function classifyPostgresError(err: unknown): ErrorClass {
  // A bounded walk: wrappers (the engine's step errors, Kysely) keep the driver error in `cause`.
  let current: unknown = err;
  for (let depth = 0; depth < 8 && typeof current === 'object' && current !== null; depth++) {
    const code = (current as { code?: unknown }).code;
    if (code === 'E_CONNECTION' || code === POSTGRES_TRANSACTION_LOST) return 'unknown';
    if (code === POSTGRES_STATEMENT_TIMEOUT) return 'timeout';
    // Before SQLSTATEs: EPIPE has their shape.
    if (typeof code === 'string' && DROPPED_CODES.has(code)) return 'transient';
    const state = sqlState(current);
    if (state !== undefined) return classifySqlState(state);
    const message = (current as { message?: unknown }).message;
    if (typeof message === 'string' && DROPPED_MESSAGE.test(message)) return 'transient';
    current = (current as { cause?: unknown }).cause;
  }
  return 'unknown';
}

/**
 * The class of one SQLSTATE (see {@link classifyPostgresError}).
 *
 * @example
 * classifySqlState('40P01'); // 'transient'
 */
export function classifySqlState(state: string): ErrorClass {
  switch (state) {
    case '40001': // serialization_failure
    case '40P01': // deadlock_detected
    case '55P03': // lock_not_available
    case '57P01': // admin_shutdown
    case '57P02': // crash_shutdown
    case '57P03': // cannot_connect_now
      return 'transient';
    case '57014': // query_canceled
      return 'timeout';
    case '42501': // insufficient_privilege
    case '25006': // read_only_sql_transaction
      return 'permission';
  }
  if (state.startsWith('08')) return 'transient';
  // Both are the fault of a row's values, not of the statement: a bulk write isolates such rows.
  if (state.startsWith('23') || state.startsWith('22')) return 'constraint';
  if (state.startsWith('42')) return 'syntax';
  return 'unknown';
}
