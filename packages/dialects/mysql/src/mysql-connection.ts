import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Connection, ExecuteOptions, QueryResult } from '@cmpkg/core';
import { backoffDelay, ConnectionError, UsageError } from '@cmpkg/core';
import { Kysely, MysqlDialect as KyselyMysqlDialect, type MysqlPool, type MysqlPoolConnection } from 'kysely';
import mysql from 'mysql2';
import type { MysqlFlavor } from './mysql-ddl.js';
import {
  describeConnectError,
  isConnectionLost,
  isInterruptError,
  MysqlReadOnlyError,
  MysqlStatementTimeoutError,
} from './mysql-errors.js';

// ------------------------------------------------------------------------------------------ URLs

/**
 * A `mysql://` or `mariadb://` URL taken apart.
 *
 * @example
 * const { host, port, database }: MysqlUrl = parseMysqlUrl('mysql://app:secret@db.internal/shop');
 */
export interface MysqlUrl {
  scheme: 'mysql' | 'mariadb';
  host: string;
  port: number;
  user: string;
  password?: string;
  database: string;
  /** `?socket=/run/mysqld/mysqld.sock`: connect through a Unix socket instead of TCP. */
  socketPath?: string;
  /** `?ssl=true` (verify the server certificate) or `?ssl=no-verify` (encrypt only). */
  ssl?: 'verify' | 'no-verify';
}

const SCHEME = /^(mysql|mariadb):\/\//i;

/**
 * True for `mysql://` and `mariadb://` URLs (any letter case).
 *
 * @example
 * isMysqlUrl('MariaDB://root@localhost/app'); // true
 * isMysqlUrl('postgres://localhost/app'); // false
 */
export function isMysqlUrl(url: string): boolean {
  return SCHEME.test(url);
}

/**
 * Parses `mysql://user:password@host:port/database?ssl=true` (or `mariadb://`). The database is
 * required; user, password and database are percent-decoded. The port defaults to 3306, the host to
 * `localhost` and the user, like the mysql client's, to the operating-system user. Query parameters:
 * `ssl=true|no-verify|false` and `socket=<path>`; anything else is a `UsageError`, not silently ignored.
 *
 * @example
 * parseMysqlUrl('mysql://root@127.0.0.1:3307/app');
 * // { scheme: 'mysql', host: '127.0.0.1', port: 3307, user: 'root', database: 'app' }
 */
export function parseMysqlUrl(url: string): MysqlUrl {
  const scheme = SCHEME.exec(url)?.[1]?.toLowerCase() as MysqlUrl['scheme'] | undefined;
  if (!scheme)
    throw new UsageError(`not a MySQL URL: "${safeForMessage(url)}" (expected mysql://user@host/database)`);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError(
      `invalid MySQL URL "${safeForMessage(url)}" (expected mysql://user:password@host:3306/database)`,
    );
  }
  const shown = displayMysqlUrl(url);
  const path = decode(parsed.pathname.replace(/^\//, ''), shown);
  if (path === '') {
    throw new UsageError(`MySQL URL "${shown}" names no database: add it as the path (mysql://host/app)`);
  }
  if (path.includes('/')) throw new UsageError(`MySQL URL "${shown}": "${path}" is not a database name`);
  let port = 3306;
  if (parsed.port !== '') {
    port = Number(parsed.port);
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw new UsageError(`MySQL URL "${shown}": invalid port ${parsed.port}`);
    }
  }
  const out: MysqlUrl = {
    scheme,
    // IPv6 literals come bracketed from URL; the driver wants them bare.
    host: parsed.hostname.replace(/^\[(.*)\]$/, '$1') || 'localhost',
    port,
    user: decode(parsed.username, shown) || defaultUser(),
    database: path,
  };
  if (parsed.password !== '') out.password = decode(parsed.password, shown, 'the password');
  for (const [key, value] of parsed.searchParams) {
    if (key === 'ssl') {
      const v = value.toLowerCase();
      if (['true', '1', 'required', 'verify'].includes(v)) out.ssl = 'verify';
      else if (v === 'no-verify') out.ssl = 'no-verify';
      else if (!['false', '0', 'disabled'].includes(v)) {
        throw new UsageError(`MySQL URL "${shown}": ssl must be true, no-verify or false, not "${value}"`);
      }
    } else if (key === 'socket') {
      out.socketPath = value;
    } else {
      throw new UsageError(`MySQL URL "${shown}": unknown parameter "${key}" (supported: ssl, socket)`);
    }
  }
  return out;
}

/**
 * The URL with any password removed: safe to print and log.
 *
 * @example
 * displayMysqlUrl('mysql://app:secret@db:3306/shop'); // 'mysql://app@db:3306/shop'
 */
export function displayMysqlUrl(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.password = '';
    return parsed.toString();
  } catch {
    return safeForMessage(url);
  }
}

/**
 * Best effort for URLs that do not even parse: keep only the user name of everything up to the LAST
 * `@`. A password with an unencoded `/`, `#` or `?` is what usually breaks the URL, and it runs past
 * the first `/` or `#`, so a narrower pattern would print it.
 */
function safeForMessage(url: string): string {
  const m = /^([a-z][a-z0-9+.-]*:\/\/)(.*)@/is.exec(url);
  if (!m) return url;
  return `${m[1]}${m[2]!.split(':')[0]}@${url.slice(m[0].length)}`;
}

/** Percent-decodes a URL part; `what` names it in the error, which never repeats a password. */
function decode(text: string, shown: string, what = `"${text}"`): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new UsageError(`MySQL URL "${shown}": invalid percent-encoding in ${what}`);
  }
}

function defaultUser(): string {
  try {
    return os.userInfo().username;
  } catch {
    // userInfo() throws for uids without a passwd entry (common in containers).
    return 'root';
  }
}

// ------------------------------------------------------------------------------- parameters

/** Index of the quote that closes the one at `start`, or the last index when it never closes. */
function skipQuoted(sql: string, start: number, quote: string, backslash: boolean): number {
  for (let j = start + 1; j < sql.length; j++) {
    const c = sql[j];
    if (backslash && c === '\\') j++;
    else if (c === quote) {
      if (sql[j + 1] === quote) j++;
      else return j;
    }
  }
  return sql.length - 1;
}

/** Index of the last character of a comment starting at `i`, or -1 when no comment starts there. */
function skipComment(sql: string, i: number): number {
  const c = sql[i];
  const next = sql[i + 1];
  // MySQL needs whitespace (or the end) after `--`; `--1` is minus minus one.
  if (c === '-' && next === '-' && (i + 2 >= sql.length || /\s/.test(sql[i + 2]!))) {
    const end = sql.indexOf('\n', i);
    return end < 0 ? sql.length - 1 : end;
  }
  if (c === '#') {
    const end = sql.indexOf('\n', i);
    return end < 0 ? sql.length - 1 : end;
  }
  // `/*! ... */` is an executable comment: its content runs, so it is scanned as code.
  if (c === '/' && next === '*' && sql[i + 2] !== '!') {
    const end = sql.indexOf('*/', i + 2);
    return end < 0 ? sql.length - 1 : end + 1;
  }
  return -1;
}

/**
 * Binds positional `?` parameters the way Kysely's MySQL driver does: mysql2's own client-side
 * formatting (sqlstring), with Dates in UTC to match the session's time zone. Statements without
 * parameters (every migration statement) are sent exactly as written.
 */
function bind(session: MysqlSession, sql: string, params: readonly unknown[]): string {
  return params.length === 0
    ? sql
    : session.raw.format(
        sql,
        params.map((p) => (p === undefined ? null : p)),
      );
}

// ------------------------------------------------------------------------------- read-only guard

interface Token {
  word: string;
  depth: number;
}

/** Upper-cased words of a statement with their parenthesis depth; strings and comments skipped. */
function tokens(sql: string, limit = 400): Token[] {
  const out: Token[] = [];
  let depth = 0;
  for (let i = 0; i < sql.length && out.length < limit; i++) {
    const c = sql[i]!;
    if (c === "'" || c === '"' || c === '`') {
      i = skipQuoted(sql, i, c, c !== '`');
      continue;
    }
    const end = skipComment(sql, i);
    if (end >= 0) {
      i = end;
      continue;
    }
    if (c === '(') depth++;
    else if (c === ')') depth = Math.max(0, depth - 1);
    else if (/[A-Za-z_@$]/.test(c)) {
      const m = /^[A-Za-z0-9_@$.]+/.exec(sql.slice(i, i + 200))!;
      out.push({ word: m[0].toUpperCase(), depth });
      i += m[0].length - 1;
    }
  }
  return out;
}

function followedBy(words: string[], a: string, b: string): boolean {
  return words.some((w, i) => w === a && words[i + 1] === b);
}

/** Statements read-only transaction mode does not stop on either server. */
function alwaysRefused(words: string[]): string | undefined {
  const first = words[0];
  if (first === 'SET') {
    if (
      words.some(
        (w) =>
          w === 'GLOBAL' ||
          w === 'PERSIST' ||
          w === 'PERSIST_ONLY' ||
          w.startsWith('@@GLOBAL.') ||
          w.startsWith('@@PERSIST'),
      )
    ) {
      return 'SET GLOBAL / PERSIST changes the server for every session';
    }
    if (
      words.some((w) => /^(@@(SESSION\.|LOCAL\.)?)?(TX_READ_ONLY|TRANSACTION_READ_ONLY)$/.test(w)) ||
      (words.includes('TRANSACTION') && followedBy(words, 'READ', 'WRITE'))
    ) {
      return 'it would make the read-only session writable';
    }
    if (words[1] === 'PASSWORD' || (words[1] === 'DEFAULT' && words[2] === 'ROLE')) {
      return 'it changes an account';
    }
  }
  if (first === 'START' && followedBy(words, 'READ', 'WRITE')) {
    return 'START TRANSACTION READ WRITE would make the transaction writable';
  }
  if (first && ['FLUSH', 'KILL', 'SHUTDOWN', 'RESET', 'PURGE'].includes(first)) {
    return `${first} changes the state of the server`;
  }
  return undefined;
}

const READ_STATEMENTS = new Set([
  'SELECT',
  'SHOW',
  'DESCRIBE',
  'DESC',
  'EXPLAIN',
  'WITH',
  'SET',
  'USE',
  // Transaction control changes nothing by itself.
  'BEGIN',
  'START',
  'COMMIT',
  'ROLLBACK',
  'SAVEPOINT',
  'RELEASE',
]);

/**
 * How a read-only connection screens statements before sending them:
 *
 * - `server`: the server refuses writes and DDL in a read-only session (verified at connect time); only
 *   what that mode does not stop is refused here (`SET GLOBAL`, `SET SESSION TRANSACTION READ WRITE`,
 *   `FLUSH`, `KILL`, ...).
 * - `statements`: the server would run DDL in a read-only session, so everything that is not
 *   `SELECT`, `SHOW`, `DESCRIBE`, `EXPLAIN`, `WITH ... SELECT`, `SET`, `USE` or transaction control is
 *   refused too.
 *
 * @example
 * const guard: MysqlReadOnlyGuard = conn.readOnlyGuard;
 */
export type MysqlReadOnlyGuard = 'server' | 'statements';

/**
 * Why a read-only connection refuses `sql`, or `undefined` when it may run.
 *
 * @example
 * readOnlyRefusal('create table t (x int)', 'statements'); // 'CREATE statements may change ...'
 * readOnlyRefusal('select 1', 'statements'); // undefined
 */
export function readOnlyRefusal(sql: string, guard: MysqlReadOnlyGuard): string | undefined {
  const toks = tokens(sql);
  const words = toks.map((t) => t.word);
  const first = words[0];
  if (first === undefined) return undefined;
  const always = alwaysRefused(words);
  if (always || guard === 'server') return always;
  if (!READ_STATEMENTS.has(first)) {
    return `${first} statements may change the database, and this server does not refuse them in a read-only session`;
  }
  if (first === 'START' && words[1] !== 'TRANSACTION') return `START ${words[1] ?? ''} is not a read`;
  if (first === 'RELEASE' && words[1] !== 'SAVEPOINT') return `RELEASE ${words[1] ?? ''} is not a read`;
  if (
    (first === 'SELECT' || first === 'WITH') &&
    (followedBy(words, 'INTO', 'OUTFILE') || followedBy(words, 'INTO', 'DUMPFILE'))
  ) {
    return 'SELECT ... INTO OUTFILE / DUMPFILE writes a file on the server';
  }
  if (first === 'WITH') {
    const main = toks.find(
      (t) =>
        t.depth === 0 &&
        ['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'REPLACE', 'TABLE', 'VALUES'].includes(t.word),
    )?.word;
    if (main && main !== 'SELECT' && main !== 'TABLE' && main !== 'VALUES')
      return `WITH ... ${main} changes data`;
  }
  if ((first === 'EXPLAIN' || first === 'DESCRIBE' || first === 'DESC') && words[1] === 'ANALYZE') {
    // EXPLAIN ANALYZE executes the statement it explains.
    if (!['SELECT', 'WITH', 'TABLE'].includes(words[2] ?? ''))
      return 'EXPLAIN ANALYZE runs the statement it explains';
  }
  return undefined;
}

// ------------------------------------------------------------------------------------ sessions

type RawConnection = mysql.Connection;
type PromiseConnection = ReturnType<RawConnection['promise']>;

/**
 * One physical connection; replaced by a new one when the server drops it.
 * @internal
 */
export interface MysqlSession {
  raw: RawConnection;
  promise: PromiseConnection;
  threadId: number;
  dead: boolean;
}

/**
 * What the server said about itself when the connection was opened.
 *
 * @example
 * const info: MysqlServerInfo = conn.server; // { version: '10.11.6-MariaDB', flavor: 'mariadb', ... }
 */
export interface MysqlServerInfo {
  /** `VERSION()`, such as `8.0.36` or `10.11.6-MariaDB-0+deb12u1`. */
  version: string;
  flavor: Exclude<MysqlFlavor, 'unknown'>;
  /** The session's `sql_mode` (the server default; the dialect does not change it). */
  sqlMode: string;
}

/**
 * Options of {@link openMysqlConnection}.
 *
 * @example
 * const options: MysqlConnectionOptions = { readOnly: true, connectTimeoutMs: 5000 };
 */
export interface MysqlConnectionOptions {
  /** A read-only session (`SET SESSION TRANSACTION READ ONLY`) for status, plan and dry runs. */
  readOnly?: boolean;
  /** How long connecting (and reconnecting) may take. Default 10000. */
  connectTimeoutMs?: number;
  /**
   * `auto` (the default) checks at connect time whether the server refuses DDL in a read-only session
   * and screens statements accordingly (see {@link MysqlReadOnlyGuard}); `statements` always screens
   * every statement.
   */
  readOnlyGuard?: 'auto' | 'statements';
}

/** Errors after which another connection attempt may succeed (a server restarting, a full server). */
function mayRetryConnect(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const { code, errno } = err as { code?: unknown; errno?: unknown };
  return (
    (typeof code === 'string' &&
      ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'PROTOCOL_CONNECTION_LOST', 'EPIPE', 'EAI_AGAIN'].includes(
        code,
      )) ||
    errno === 1040 ||
    errno === 1053
  );
}

function connectionOptions(url: MysqlUrl, connectTimeoutMs: number): mysql.ConnectionOptions {
  return {
    host: url.host,
    port: url.port,
    user: url.user,
    ...(url.password !== undefined ? { password: url.password } : {}),
    database: url.database,
    ...(url.socketPath !== undefined ? { socketPath: url.socketPath } : {}),
    ...(url.ssl ? { ssl: { rejectUnauthorized: url.ssl === 'verify' } } : {}),
    charset: 'utf8mb4',
    // Dates are written and read as UTC, matching the session's time_zone below.
    timezone: 'Z',
    supportBigNumbers: true,
    // Big numbers become strings only when a JS number cannot hold them exactly.
    bigNumberStrings: false,
    multipleStatements: false,
    // mysql2 asks for IGNORE_SPACE by default, which adds it to the session's sql_mode and makes built-in
    // function names reserved words; the server's own default mode is kept instead.
    flags: ['-IGNORE_SPACE'],
    connectTimeout: connectTimeoutMs,
  };
}

function where(url: MysqlUrl): string {
  return url.socketPath ? `${url.socketPath}/${url.database}` : `${url.host}:${url.port}/${url.database}`;
}

function connectFailure(url: MysqlUrl, err: unknown, connectTimeoutMs: number): ConnectionError {
  const reason = describeConnectError(err, {
    timeoutMs: connectTimeoutMs,
    database: url.database,
    user: url.user,
  });
  return new ConnectionError(`cannot connect to MySQL at ${where(url)}: ${reason}`, {
    cause: err,
    details: { host: url.host, port: url.port, database: url.database },
  });
}

function runRaw(raw: RawConnection, sql: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    raw.query(sql, (err, result) => (err ? reject(err) : resolve(result)));
  });
}

/**
 * A session the server dropped: the next statement reconnects. The socket is left to mysql2, which
 * fails the command still waiting on it (destroying it here would leave that command hanging).
 */
function markDead(session: MysqlSession): void {
  session.dead = true;
}

/**
 * Opens one physical connection and sets the session up. A drop is recorded on the session (so an idle
 * connection that breaks never becomes an unhandled 'error' event); the next statement reconnects.
 */
async function openSession(
  url: MysqlUrl,
  connectTimeoutMs: number,
  readOnly: boolean,
): Promise<{ session: MysqlSession; server: MysqlServerInfo }> {
  const raw = mysql.createConnection(connectionOptions(url, connectTimeoutMs));
  let session: MysqlSession | undefined;
  // Registered first and never removed: mysql2 emits 'error' on the connection for failures that no
  // command is waiting for, and an 'error' event without a listener would crash the process.
  raw.on('error', () => {
    if (session) markDead(session);
  });
  raw.on('end', () => {
    if (session) markDead(session);
  });
  try {
    await new Promise<void>((resolve, reject) => raw.connect((err) => (err ? reject(err) : resolve())));
  } catch (err) {
    raw.destroy();
    throw connectFailure(url, err, connectTimeoutMs);
  }
  try {
    await runRaw(raw, "SET time_zone = '+00:00'");
    if (readOnly) await runRaw(raw, 'SET SESSION TRANSACTION READ ONLY');
    const rows = (await runRaw(raw, 'SELECT VERSION() AS version, @@session.sql_mode AS sql_mode')) as Array<{
      version: string;
      sql_mode: string;
    }>;
    const version = String(rows[0]?.version ?? '');
    session = { raw, promise: raw.promise(), threadId: raw.threadId, dead: false };
    return {
      session,
      server: {
        version,
        flavor: /mariadb/i.test(version) ? 'mariadb' : 'mysql',
        sqlMode: String(rows[0]?.sql_mode ?? ''),
      },
    };
  } catch (err) {
    raw.destroy();
    throw connectFailure(url, err, connectTimeoutMs);
  }
}

/** Whether the server refuses DDL in a read-only session; probed with a statement that can never succeed. */
async function serverRefusesDdl(raw: RawConnection): Promise<boolean> {
  try {
    // A duplicate column: if the server lets DDL through in a read-only session, this still fails
    // (1060) and creates nothing; if it does not, it fails with 1792 before looking at the columns.
    await runRaw(raw, 'CREATE TABLE `cmpkg_read_only_probe` (`x` INT, `x` INT)');
    return false;
  } catch (err) {
    return (err as { errno?: unknown }).errno === 1792;
  }
}

/** How long a statement may keep running after `KILL QUERY` before the connection is given up on. */
const KILL_GRACE_MS = 10_000;
/** `SERVER_STATUS_IN_TRANS` of the OK packet. */
const SERVER_STATUS_IN_TRANS = 1;

/**
 * A lock this connection holds, re-taken by the connection after a reconnect.
 * @internal
 */
export interface HeldLock {
  /** The server-wide `GET_LOCK` name. */
  serverName: string;
  /** Takes the lock again on a fresh session (`run` executes on that session). */
  reacquire(
    run: (sql: string, params?: readonly unknown[]) => Promise<Record<string, unknown>[]>,
  ): Promise<void>;
}

function isHeader(value: unknown): value is { affectedRows: number; serverStatus?: number } {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && 'affectedRows' in value;
}

/**
 * One connection to a MySQL or MariaDB database: a single mysql2 connection (never a pool) plus a
 * Kysely instance over the same connection, so raw statements, Kysely queries, session settings and
 * `GET_LOCK` locks all share one server session.
 *
 * If the server drops the connection (`KILL`, a restart, "server has gone away"), the statement that
 * hit the dead connection fails with an error classified `transient`, and the next statement
 * reconnects with the same options, restores the session settings and re-takes every lock this
 * connection held. Create it with `MysqlDialect.connect` (or {@link openMysqlConnection}).
 *
 * @example
 * const conn = await new MysqlDialect().connect('mysql://root@127.0.0.1/app');
 * const { rows } = await conn.execute<{ n: number }>('select count(*) as n from users where active = ?', [true]);
 * await conn.close();
 */
export class MysqlConnection implements Connection {
  readonly engine = 'mysql' as const;
  /** The URL without its password. */
  readonly displayUrl: string;
  readonly host: string;
  readonly port: number;
  readonly database: string;
  readonly user: string;
  /** A read-only session: writes and DDL fail with an error classified `permission`. */
  readonly readOnly: boolean;
  /** How statements are screened on a read-only connection; `undefined` for read-write connections. */
  readonly readOnlyGuard: MysqlReadOnlyGuard | undefined;
  readonly db: Kysely<object>;
  readonly #url: MysqlUrl;
  readonly #connectTimeoutMs: number;
  #server: MysqlServerInfo;
  #session: MysqlSession;
  #reconnecting: Promise<MysqlSession> | undefined;
  #closed = false;
  #inTransaction = false;
  /** The server dropped the connection inside a transaction, which it then rolled back. */
  #lostTransaction = false;
  /** The tail of the statements queued on this connection (see `#exclusive`). */
  #queue: Promise<unknown> = Promise.resolve();
  readonly #locks = new Map<string, HeldLock>();
  readonly #cleanups = new Set<() => Promise<void>>();

  /** @internal use {@link openMysqlConnection} */
  constructor(
    url: string,
    parsed: MysqlUrl,
    init: {
      session: MysqlSession;
      server: MysqlServerInfo;
      connectTimeoutMs: number;
      readOnly: boolean;
      readOnlyGuard: MysqlReadOnlyGuard | undefined;
    },
  ) {
    this.displayUrl = displayMysqlUrl(url);
    this.#url = parsed;
    this.host = parsed.host;
    this.port = parsed.port;
    this.database = parsed.database;
    this.user = parsed.user;
    this.readOnly = init.readOnly;
    this.readOnlyGuard = init.readOnlyGuard;
    this.#connectTimeoutMs = init.connectTimeoutMs;
    this.#session = init.session;
    this.#server = init.server;
    this.db = new Kysely<object>({ dialect: new KyselyMysqlDialect({ pool: this.#kyselyPool() }) });
  }

  /** The server's version and flavor, as of the last (re)connect. */
  get server(): MysqlServerInfo {
    return this.#server;
  }

  /** Whether the session is inside a transaction, from the server's status flags on the last OK packet. */
  get inTransaction(): boolean {
    return this.#inTransaction;
  }

  /** The server's thread (connection) id of the current session; it changes on a reconnect. */
  get threadId(): number {
    return this.#session.threadId;
  }

  /** False once `close()` has been called. */
  get isOpen(): boolean {
    return !this.#closed;
  }

  /**
   * Runs ONE statement (split scripts with `splitStatements`) with positional `?` parameters, bound
   * client-side with MySQL escaping. Result sets give `rows`; writes give `rowsAffected` (the server's
   * affected-rows count, which for `UPDATE` counts matched rows).
   *
   * With `timeoutMs`, a statement still running after that long is stopped on the server with
   * `KILL QUERY` and the call fails with {@link MysqlStatementTimeoutError} (classified `timeout`); the
   * connection stays usable.
   *
   * @example
   * await conn.execute('update users set active = ? where id = ?', [false, 42]);
   * await conn.execute('select sleep(10)', [], { timeoutMs: 500 }); // MysqlStatementTimeoutError
   */
  async execute<R = Record<string, unknown>>(
    sql: string,
    params: readonly unknown[] = [],
    options: ExecuteOptions = {},
  ): Promise<QueryResult<R>> {
    const timeoutMs = options.timeoutMs;
    if (timeoutMs !== undefined && timeoutMs !== Number.POSITIVE_INFINITY && !(timeoutMs > 0)) {
      throw new UsageError(`invalid statement timeout ${timeoutMs}: expected a number of milliseconds > 0`);
    }
    const limit = timeoutMs === Number.POSITIVE_INFINITY ? undefined : timeoutMs;
    const rowsAsArray = options.rowMode === 'array';
    const result = await this.#exclusive(() => this.#run(sql, params, limit, rowsAsArray));
    return toQueryResult<R>(result, rowsAsArray);
  }

  /**
   * Releases locks taken through this connection, then ends the session (the server rolls back an open
   * transaction). Safe to call more than once.
   *
   * @example
   * await conn.close(); await conn.close(); // the second call does nothing
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const cleanup of [...this.#cleanups]) {
      await cleanup().catch(() => undefined);
    }
    this.#cleanups.clear();
    await this.db.destroy().catch(() => undefined);
    await this.#reconnecting?.catch(() => undefined);
    const session = this.#session;
    if (session.dead) {
      session.raw.destroy();
      return;
    }
    session.dead = true;
    await new Promise<void>((resolve) => {
      // end() sends COM_QUIT after anything still queued; a broken socket may never answer, so it
      // gets a short grace before the socket is simply destroyed.
      const timer = setTimeout(() => {
        session.raw.destroy();
        resolve();
      }, 2000);
      session.raw.end(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  // ------------------------------------------------------------------ internals used by the lock

  /**
   * Registers work `close()` must do first (used by the lock); returns an unregister function.
   * @internal
   */
  onClose(cleanup: () => Promise<void>): () => void {
    this.#cleanups.add(cleanup);
    return () => {
      this.#cleanups.delete(cleanup);
    };
  }

  /**
   * Records a `GET_LOCK` lock this connection holds, so a reconnect takes it again; returns a function
   * that forgets it.
   * @internal
   */
  trackLock(lock: HeldLock): () => void {
    this.#locks.set(lock.serverName, lock);
    return () => {
      if (this.#locks.get(lock.serverName) === lock) this.#locks.delete(lock.serverName);
    };
  }

  /** @internal */
  holdsLock(serverName: string): boolean {
    return this.#locks.has(serverName);
  }

  /**
   * Runs a statement on the current session only if it is alive: never reconnects (a dropped session
   * has lost its locks already) and works during `close()`. For releasing locks.
   * @internal
   */
  runIfAlive(sql: string, params: readonly unknown[] = []): Promise<boolean> {
    return this.#exclusive(async () => {
      const session = this.#session;
      if (session.dead) return false;
      await session.promise.query(bind(session, sql, params));
      return true;
    });
  }

  // ---------------------------------------------------------------------------------- running

  /**
   * Runs statements one at a time. mysql2 would pipeline a second statement right behind the first;
   * waiting for the whole of `execute` instead means a `KILL QUERY` sent for a timed-out statement
   * has landed before the next statement starts, so it can never stop the wrong one.
   */
  #exclusive<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(work, work);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #run(
    sql: string,
    params: readonly unknown[],
    timeoutMs: number | undefined,
    rowsAsArray = false,
  ): Promise<unknown> {
    if (this.#closed) throw new UsageError(`the connection to ${this.displayUrl} is closed`);
    if (this.readOnlyGuard) {
      const refusal = readOnlyRefusal(sql, this.readOnlyGuard);
      if (refusal) throw new MysqlReadOnlyError(refusal);
    }
    const session = await this.#ready();
    const text = bind(session, sql, params);
    if (this.#lostTransaction) {
      const words = tokens(sql, 3).map((t) => t.word);
      const resets =
        (words[0] === 'ROLLBACK' && words[1] !== 'TO') ||
        words[0] === 'BEGIN' ||
        (words[0] === 'START' && words[1] === 'TRANSACTION');
      if (!resets) {
        throw new ConnectionError(
          `the connection to MySQL at ${where(this.#url)} was lost inside a transaction: the server rolled ` +
            'the transaction back, so nothing since its BEGIN was applied; ROLLBACK and start it again',
          { details: { host: this.host, port: this.port, database: this.database } },
        );
      }
      this.#lostTransaction = false;
    }
    const result =
      timeoutMs === undefined
        ? await this.#send(session, text, rowsAsArray)
        : await this.#sendWithTimeout(session, text, timeoutMs, rowsAsArray);
    const header = Array.isArray(result) ? result.findLast(isHeader) : isHeader(result) ? result : undefined;
    if (header?.serverStatus !== undefined) {
      this.#inTransaction = (header.serverStatus & SERVER_STATUS_IN_TRANS) !== 0;
    }
    return result;
  }

  async #send(session: MysqlSession, text: string, rowsAsArray = false): Promise<unknown> {
    try {
      const [result] = rowsAsArray
        ? await session.promise.query({ sql: text, rowsAsArray })
        : await session.promise.query(text);
      return result;
    } catch (err) {
      if (isConnectionLost(err)) markDead(session);
      throw err;
    }
  }

  async #sendWithTimeout(
    session: MysqlSession,
    text: string,
    timeoutMs: number,
    rowsAsArray = false,
  ): Promise<unknown> {
    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);
    let kill: Promise<void> | undefined;
    let hardTimer: NodeJS.Timeout | undefined;
    const sent = this.#send(session, text, rowsAsArray);
    const killTimer = setTimeout(() => {
      kill = this.#killQuery(session.threadId);
    }, timeoutMs);
    const gaveUp = Symbol('gave up');
    const hard = new Promise<typeof gaveUp>((resolve) => {
      hardTimer = setTimeout(() => resolve(gaveUp), timeoutMs + KILL_GRACE_MS);
    });
    try {
      const outcome = await Promise.race([sent, hard]);
      if (outcome === gaveUp) {
        // KILL QUERY did not stop it (or could not be sent): give the session up so the next statement
        // runs on a fresh one instead of queueing behind this one forever.
        sent.catch(() => undefined);
        markDead(session);
        session.raw.destroy();
        throw new MysqlStatementTimeoutError(timeoutMs, elapsed(), {
          detail: `the server did not stop it within ${KILL_GRACE_MS} ms of KILL QUERY, so the connection was closed`,
        });
      }
      return outcome;
    } catch (err) {
      if (kill !== undefined && isInterruptError(err)) {
        throw new MysqlStatementTimeoutError(timeoutMs, elapsed(), { cause: err });
      }
      throw err;
    } finally {
      clearTimeout(killTimer);
      clearTimeout(hardTimer);
      // Our KILL QUERY must land before the next statement starts, or it could stop that one instead.
      if (kill !== undefined) await kill;
    }
  }

  /** `KILL QUERY <thread>` from a short-lived side connection; failures are left to the hard timeout. */
  async #killQuery(threadId: number): Promise<void> {
    const side = mysql.createConnection(connectionOptions(this.#url, Math.min(this.#connectTimeoutMs, 5000)));
    side.on('error', () => undefined);
    try {
      await runRaw(side, `KILL QUERY ${Number(threadId)}`);
    } catch {
      // Unreachable server, or the statement ended meanwhile ("Unknown thread id" if the session died).
    } finally {
      side.destroy();
    }
  }

  /** The live session, reconnecting first if the server dropped the last one. */
  #ready(): Promise<MysqlSession> {
    if (!this.#session.dead) return Promise.resolve(this.#session);
    if (this.#inTransaction) {
      // The server rolled that transaction back when the connection died.
      this.#lostTransaction = true;
      this.#inTransaction = false;
    }
    this.#reconnecting ??= this.#reconnect().finally(() => {
      this.#reconnecting = undefined;
    });
    return this.#reconnecting;
  }

  async #reconnect(): Promise<MysqlSession> {
    // Statements run one at a time, so nothing waits on the old socket any more. Closing it makes sure
    // the server ends that session and frees its locks, even when the error that condemned it (1927,
    // say) came over a socket that was still open; otherwise the old session could block taking the
    // locks back below.
    this.#session.raw.destroy();
    const deadline = Date.now() + this.#connectTimeoutMs;
    let opened: { session: MysqlSession; server: MysqlServerInfo } | undefined;
    for (let attempt = 0; opened === undefined; attempt++) {
      try {
        opened = await openSession(this.#url, this.#connectTimeoutMs, this.readOnly);
      } catch (err) {
        // A server restarting refuses connections for a moment; anything else will not get better.
        const delay = backoffDelay(attempt, 100, 1000);
        if (!mayRetryConnect((err as { cause?: unknown }).cause) || Date.now() + delay > deadline) throw err;
        await sleep(delay);
      }
      if (this.#closed) {
        opened?.session.raw.destroy();
        throw new UsageError(`the connection to ${this.displayUrl} is closed`);
      }
    }
    const { session, server } = opened;
    this.#session = session;
    this.#server = server;
    const run = async (sql: string, params: readonly unknown[] = []) => {
      const [rows] = await session.promise.query(bind(session, sql, params));
      return Array.isArray(rows) ? (rows as Record<string, unknown>[]) : [];
    };
    const lost: string[] = [];
    let cause: unknown;
    for (const lock of [...this.#locks.values()]) {
      try {
        await lock.reacquire(run);
      } catch (err) {
        lost.push(lock.serverName);
        cause ??= err;
        this.#locks.delete(lock.serverName);
      }
    }
    if (lost.length > 0) {
      throw new ConnectionError(
        `reconnected to MySQL at ${where(this.#url)} after the server dropped the connection, but could not ` +
          `take back lock ${lost.map((n) => `"${n}"`).join(', ')} within 10 s: ${describeLockLoss(cause)}`,
        { cause, details: { host: this.host, port: this.port, database: this.database, locks: lost } },
      );
    }
    return session;
  }

  /** The pool Kysely's MySQL driver asks for connections: always this one session, never released. */
  #kyselyPool(): MysqlPool {
    const poolConnection: MysqlPoolConnection = {
      query: ((sql: string, parameters: unknown[], callback?: (error: unknown, result: never) => void) => {
        if (callback === undefined) {
          // Streaming (`db.selectFrom(...).stream()`): runs directly on the current session.
          return this.#session.raw.query(bind(this.#session, sql, parameters));
        }
        this.#exclusive(() => this.#run(sql, parameters, undefined)).then(
          (result) => callback(null, result as never),
          (err) => callback(err, undefined as never),
        );
        return undefined;
      }) as MysqlPoolConnection['query'],
      release: () => undefined,
    };
    return {
      getConnection: (callback) => {
        if (this.#closed) {
          callback(new UsageError(`the connection to ${this.displayUrl} is closed`), poolConnection);
          return;
        }
        // Reconnecting happens in `#run`, one statement at a time, never here.
        callback(null, poolConnection);
      },
      // The session belongs to this MysqlConnection; close() ends it.
      end: (callback) => callback(null),
    };
  }
}

function describeLockLoss(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

function toQueryResult<R>(result: unknown, rowsAsArray = false): QueryResult<R> {
  if (Array.isArray(result)) {
    // CALL returns its result sets followed by an OK packet. (With rows as arrays, every row of a
    // plain SELECT is an array too, so only the trailing OK packet tells a CALL apart.)
    const isCall = rowsAsArray
      ? result.length > 0 && isHeader(result[result.length - 1])
      : result.some((r) => Array.isArray(r));
    if (isCall) {
      const rows = (result.find((r) => Array.isArray(r)) ?? []) as R[];
      const header = result.findLast(isHeader);
      return { rows, rowsAffected: header ? Number(header.affectedRows) : 0 };
    }
    return { rows: result as R[], rowsAffected: 0 };
  }
  if (isHeader(result)) return { rows: [], rowsAffected: Number(result.affectedRows) };
  return { rows: [], rowsAffected: 0 };
}

/**
 * Opens a connection (see {@link MysqlConnection}). Sets the session up: `utf8mb4`, `time_zone = '+00:00'`
 * (TIMESTAMP columns read and write UTC), the server's default `sql_mode` left as it is (the dialect
 * quotes identifiers with backticks, so `ANSI_QUOTES` is never assumed) and, with `readOnly`,
 * `SET SESSION TRANSACTION READ ONLY`. Failures are core `ConnectionError`s with one line:
 * `cannot connect to MySQL at <host>:<port>/<db>: <reason>`.
 *
 * @example
 * const conn = await openMysqlConnection('mysql://root@127.0.0.1:3306/app', { connectTimeoutMs: 5000 });
 */
export async function openMysqlConnection(
  url: string,
  options: MysqlConnectionOptions = {},
): Promise<MysqlConnection> {
  const parsed = parseMysqlUrl(url);
  const connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
  if (!Number.isInteger(connectTimeoutMs) || connectTimeoutMs <= 0) {
    throw new UsageError(
      `connectTimeoutMs must be a whole number of milliseconds > 0, got ${connectTimeoutMs}`,
    );
  }
  const readOnly = options.readOnly === true;
  const opened = await openSession(parsed, connectTimeoutMs, readOnly);
  let readOnlyGuard: MysqlReadOnlyGuard | undefined;
  if (readOnly) {
    readOnlyGuard =
      options.readOnlyGuard === 'statements' || !(await serverRefusesDdl(opened.session.raw))
        ? 'statements'
        : 'server';
  }
  return new MysqlConnection(url, parsed, { ...opened, connectTimeoutMs, readOnly, readOnlyGuard });
}

/**
 * Narrows a core `Connection` to this dialect's, failing with a usage error for foreign connections.
 * @internal
 */
export function asMysqlConnection(conn: Connection): MysqlConnection {
  if (conn instanceof MysqlConnection) return conn;
  throw new UsageError(
    `the MySQL dialect was given a ${conn.engine} connection (${conn.displayUrl}); ` +
      'use the connection returned by MysqlDialect.connect',
  );
}
