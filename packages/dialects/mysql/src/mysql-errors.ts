import type { ErrorClass } from '@cmpkg/core';

/**
 * The `code` of {@link MysqlStatementTimeoutError}; shaped like a driver code so it reads alongside them.
 *
 * @example
 * if ((err as { code?: string }).code === MYSQL_STATEMENT_TIMEOUT) console.error('too slow');
 */
export const MYSQL_STATEMENT_TIMEOUT = 'CMPKG_MYSQL_TIMEOUT';

/**
 * A statement ran longer than the `timeoutMs` given to `Connection.execute` and was stopped.
 *
 * The dialect stops it on the server with `KILL QUERY <thread id>` from a short-lived side connection;
 * `cause` is the driver error the interrupted statement failed with (`ER_QUERY_INTERRUPTED`, 1317).
 * Like better-sqlite3's and mysql2's own errors this is a driver-level error, not a `CmpkgError`: the
 * engine classifies it with `classifyError` (it reports `'timeout'`) and wraps it into its own step
 * error. The connection stays usable.
 *
 * @example
 * try { await conn.execute('select sleep(10)', [], { timeoutMs: 1000 }); } catch (e) {
 *   if (e instanceof MysqlStatementTimeoutError) console.error(`stopped after ${e.elapsedMs} ms`);
 * }
 */
export class MysqlStatementTimeoutError extends Error {
  readonly code = MYSQL_STATEMENT_TIMEOUT;
  readonly timeoutMs: number;
  readonly elapsedMs: number;

  constructor(timeoutMs: number, elapsedMs: number, options: { cause?: unknown; detail?: string } = {}) {
    super(
      `statement stopped after ${elapsedMs} ms: it exceeded its ${timeoutMs} ms timeout` +
        (options.detail ? ` (${options.detail})` : ''),
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.name = 'MysqlStatementTimeoutError';
    this.timeoutMs = timeoutMs;
    this.elapsedMs = elapsedMs;
  }
}

/**
 * A statement refused by a read-only connection before it reached the server (see the README: the
 * session is read-only on the server too; this catches what that mode does not cover, such as
 * `SET SESSION TRANSACTION READ WRITE` or `SET GLOBAL`).
 *
 * It carries the server's own code for the same refusal (`ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION`,
 * 1792), so it classifies as `'permission'` exactly like a refusal by the server.
 *
 * @example
 * try { await readOnlyConn.execute('set global max_connections = 10'); } catch (e) {
 *   if (e instanceof MysqlReadOnlyError) console.error(e.message);
 * }
 */
export class MysqlReadOnlyError extends Error {
  readonly code = 'ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION';
  readonly errno = 1792;
  readonly sqlState = '25006';

  constructor(reason: string) {
    super(`refused on a read-only connection: ${reason}`);
    this.name = 'MysqlReadOnlyError';
  }
}

// Server error numbers (MySQL and MariaDB share them unless noted).
const TRANSIENT_ERRNOS = new Set([
  1213, // ER_LOCK_DEADLOCK: InnoDB rolled the transaction back; a retry normally succeeds
  1205, // ER_LOCK_WAIT_TIMEOUT
  1020, // ER_CHECKREAD: record changed since last read
  2006, // CR_SERVER_GONE_ERROR
  2013, // CR_SERVER_LOST
  2055, // CR_SERVER_LOST_EXTENDED
  1053, // ER_SERVER_SHUTDOWN
  1927, // ER_CONNECTION_KILLED (MariaDB); our own KILL QUERY is turned into a timeout before this
]);
const TIMEOUT_ERRNOS = new Set([
  1317, // ER_QUERY_INTERRUPTED
  3024, // ER_QUERY_TIMEOUT (MySQL max_execution_time)
  1969, // ER_STATEMENT_TIMEOUT (MariaDB max_statement_time)
]);
const CONSTRAINT_ERRNOS = new Set([
  1062, // ER_DUP_ENTRY
  1451, // ER_ROW_IS_REFERENCED_2
  1452, // ER_NO_REFERENCED_ROW_2
  1048, // ER_BAD_NULL_ERROR
  1364, // ER_NO_DEFAULT_FOR_FIELD
  3819, // ER_CHECK_CONSTRAINT_VIOLATED (MySQL)
  4025, // ER_CONSTRAINT_FAILED (MariaDB)
  // Values a column cannot hold (strict sql_mode). Several carry SQLSTATE HY000 or 01000, not class
  // 22, so they are listed; any other class 22/23 SQLSTATE counts too (see classifyOne).
  1264, // ER_WARN_DATA_OUT_OF_RANGE
  1265, // WARN_DATA_TRUNCATED
  1292, // ER_TRUNCATED_WRONG_VALUE (incorrect datetime / double value)
  1365, // ER_DIVISION_BY_ZERO
  1366, // ER_TRUNCATED_WRONG_VALUE_FOR_FIELD (incorrect integer / string value)
  1406, // ER_DATA_TOO_LONG
  1411, // ER_WRONG_VALUE_FOR_TYPE
  3140, // ER_INVALID_JSON_TEXT (MySQL; MariaDB's JSON is a CHECK, 4025)
]);
const SYNTAX_ERRNOS = new Set([
  1064, // ER_PARSE_ERROR
  1054, // ER_BAD_FIELD_ERROR
  1146, // ER_NO_SUCH_TABLE
  1049, // ER_BAD_DB_ERROR: a statement naming a database that does not exist does not fit the schema
  1060, // ER_DUP_FIELDNAME
  1061, // ER_DUP_KEYNAME
  1050, // ER_TABLE_EXISTS_ERROR
]);
const PERMISSION_ERRNOS = new Set([
  1044, // ER_DBACCESS_DENIED_ERROR
  1045, // ER_ACCESS_DENIED_ERROR
  1142, // ER_TABLEACCESS_DENIED_ERROR
  1143, // ER_COLUMNACCESS_DENIED_ERROR
  1227, // ER_SPECIFIC_ACCESS_DENIED_ERROR
  1792, // ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION
]);
/** Client-side codes of a connection that broke while in use. */
const TRANSIENT_CODES = new Set(['PROTOCOL_CONNECTION_LOST', 'ECONNRESET', 'EPIPE']);

/**
 * The server error number of an error, if it has one (mysql2 sets `errno` on server errors; network
 * errors carry a negative libuv `errno`, which is not a server code).
 */
function serverErrno(err: object): number | undefined {
  const errno = (err as { errno?: unknown }).errno;
  return typeof errno === 'number' && errno > 0 ? errno : undefined;
}

function classifyOne(err: object): ErrorClass | undefined {
  if (
    err instanceof MysqlStatementTimeoutError ||
    (err as { code?: unknown }).code === MYSQL_STATEMENT_TIMEOUT
  ) {
    return 'timeout';
  }
  const errno = serverErrno(err);
  if (errno !== undefined) {
    if (TRANSIENT_ERRNOS.has(errno)) return 'transient';
    if (TIMEOUT_ERRNOS.has(errno)) return 'timeout';
    if (CONSTRAINT_ERRNOS.has(errno)) return 'constraint';
    if (SYNTAX_ERRNOS.has(errno)) return 'syntax';
    if (PERMISSION_ERRNOS.has(errno)) return 'permission';
    const state = (err as { sqlState?: unknown }).sqlState;
    if (typeof state === 'string' && /^2[23]/.test(state)) return 'constraint';
    return 'unknown';
  }
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (TRANSIENT_CODES.has(code)) return 'transient';
    // A timeout while connecting is the server being unreachable, not a hiccup of a working session.
    if (code === 'ETIMEDOUT')
      return (err as { syscall?: unknown }).syscall === 'connect' ? 'unknown' : 'transient';
  }
  // mysql2 refuses new commands on a connection that already broke; the next one reconnects.
  if (
    (err as { fatal?: unknown }).fatal === true &&
    /closed state/i.test(String((err as { message?: unknown }).message ?? ''))
  ) {
    return 'transient';
  }
  return undefined;
}

/**
 * Sorts an error raised while talking to MySQL or MariaDB into the classes the engine acts on
 * (`transient` errors are retried with backoff; the others are not). Looks through `cause` chains,
 * so a driver error wrapped by another layer (Kysely, the engine's step errors) still classifies.
 *
 * | class        | errors                                                                              |
 * |--------------|-------------------------------------------------------------------------------------|
 * | `transient`  | 1213 deadlock, 1205 lock wait timeout, 1020, 2006/2013/2055 server gone, 1053 shutdown, 1927 connection killed, `PROTOCOL_CONNECTION_LOST`, `ECONNRESET`, `EPIPE`, `ETIMEDOUT` on an established connection |
 * | `timeout`    | {@link MysqlStatementTimeoutError}, 1317 interrupted, 3024 / 1969 server statement timeouts |
 * | `constraint` | 1062 duplicate, 1451 / 1452 foreign keys, 1048 / 1364 NOT NULL, 3819 / 4025 CHECK, and data exceptions: 1264 / 1265 / 1292 / 1365 / 1366 / 1406 / 1411 / 3140, any SQLSTATE of class 22 or 23 |
 * | `syntax`     | 1064 parse error, 1054 / 1146 / 1049 unknown column / table / database, 1060 / 1061 / 1050 already exists |
 * | `permission` | 1044 / 1045 / 1142 / 1143 / 1227 access denied, 1792 read-only transaction          |
 *
 * @example
 * import { classifyMysqlError } from '@cmpkg/dialect-mysql';
 * try { await conn.execute('insert into users (id) values (1)'); } catch (e) {
 *   if (classifyMysqlError(e) === 'constraint') console.error('duplicate');
 * }
 */
export function classifyMysqlError(err: unknown): ErrorClass {
  let current: unknown = err;
  for (let depth = 0; depth < 8 && typeof current === 'object' && current !== null; depth++) {
    const found = classifyOne(current);
    if (found !== undefined) return found;
    current = (current as { cause?: unknown }).cause;
  }
  return 'unknown';
}

/**
 * True for the errors a statement fails with when `KILL QUERY` stops it.
 * @internal
 */
export function isInterruptError(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const errno = serverErrno(err);
  return errno === 1317 || errno === 1927 || errno === 1969 || errno === 3024;
}

/**
 * True when the error means the connection itself is gone (mysql2 marks those `fatal`), so the next
 * statement must run on a new connection.
 * @internal
 */
export function isConnectionLost(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  if ((err as { fatal?: unknown }).fatal === true) return true;
  const errno = serverErrno(err);
  if (errno === 2006 || errno === 2013 || errno === 2055 || errno === 1053 || errno === 1927) return true;
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && TRANSIENT_CODES.has(code);
}

/**
 * The reason part of a connection failure, in words an operator acts on: `connection refused`,
 * `timed out after 10000 ms`, `access denied for user 'app'@'10.0.0.5'`, `unknown database 'shop'`.
 *
 * @example
 * describeConnectError({ code: 'ECONNREFUSED' }, { timeoutMs: 10_000, database: 'app', user: 'root' });
 * // 'connection refused'
 */
export function describeConnectError(
  err: unknown,
  context: { timeoutMs: number; database: string; user: string },
): string {
  if (typeof err !== 'object' || err === null) return String(err);
  const code = (err as { code?: unknown }).code;
  const errno = serverErrno(err);
  const message = String((err as { message?: unknown }).message ?? '');
  if (code === 'ECONNREFUSED') return 'connection refused';
  if (code === 'ETIMEDOUT') return `timed out after ${context.timeoutMs} ms`;
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'host not found';
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH') return 'host unreachable';
  if (code === 'ENOENT') return 'socket file not found';
  if (errno === 1045 || errno === 1044) {
    const m = /access denied for user '([^']*)'@'([^']*)'/i.exec(message);
    const who = m ? `'${m[1]}'@'${m[2]}'` : `'${context.user}'`;
    return errno === 1044
      ? `access denied for user ${who} to database '${context.database}'`
      : `access denied for user ${who}`;
  }
  if (errno === 1049) return `unknown database '${context.database}'`;
  if (errno === 1040) return 'too many connections';
  if (code === 'PROTOCOL_CONNECTION_LOST') return 'the server closed the connection during the handshake';
  // Keep it one line: the driver's own text, without its trailing period.
  const line = message.split('\n')[0]?.replace(/\.$/, '') ?? '';
  return line ? line.charAt(0).toLowerCase() + line.slice(1) : String(code ?? 'unknown error');
}
