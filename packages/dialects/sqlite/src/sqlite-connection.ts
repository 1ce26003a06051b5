import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Connection, ExecuteOptions, QueryResult } from '@cmpkg/core';
import { ConnectionError, UsageError } from '@cmpkg/core';
import Database from 'better-sqlite3';
import { Kysely, SqliteDialect as KyselySqliteDialect } from 'kysely';
import { SqliteStatementTimeoutError } from './sqlite-errors.js';

/**
 * Where a `sqlite:` URL points.
 *
 * @example
 * const { filename, memory }: SqliteLocation = parseSqliteUrl('sqlite:./app.db');
 */
export interface SqliteLocation {
  /** Absolute path of the database file, or `:memory:`. */
  filename: string;
  /** True for `sqlite::memory:`: a private database that lives and dies with its connection. */
  memory: boolean;
}

const SCHEME = 'sqlite:';

/**
 * True when `url` is a `sqlite:` URL (any letter case).
 *
 * @example
 * isSqliteUrl('sqlite:./app.db'); // true
 * isSqliteUrl('postgres://localhost/app'); // false
 */
export function isSqliteUrl(url: string): boolean {
  return url.slice(0, SCHEME.length).toLowerCase() === SCHEME;
}

/**
 * Resolves a `sqlite:` URL to a file. Accepted forms: `sqlite:./file.db`, `sqlite:file.db`,
 * `sqlite:/abs/path.db`, `sqlite://./file.db`, `sqlite:///abs/path.db` and `sqlite::memory:`. Relative
 * paths are resolved against `cwd` (default `process.cwd()`). The path is taken literally (no percent
 * decoding); query strings are rejected rather than silently becoming part of a file name.
 *
 * @example
 * parseSqliteUrl('sqlite:./data/app.db', '/srv'); // { filename: '/srv/data/app.db', memory: false }
 * parseSqliteUrl('sqlite::memory:'); // { filename: ':memory:', memory: true }
 */
export function parseSqliteUrl(url: string, cwd: string = process.cwd()): SqliteLocation {
  if (!isSqliteUrl(url)) throw new UsageError(`not a SQLite URL: "${url}" (expected sqlite:./file.db)`);
  let rest = url.slice(SCHEME.length);
  // `sqlite://x` is the URL-shaped spelling of `sqlite:x`; `sqlite:///abs` keeps the leading slash.
  if (rest.startsWith('//')) rest = rest.slice(2);
  if (rest === ':memory:') return { filename: ':memory:', memory: true };
  if (rest === '') throw new UsageError(`SQLite URL "${url}" names no file (e.g. sqlite:./app.db)`);
  if (rest.includes('?')) {
    throw new UsageError(`SQLite URL "${url}": query parameters are not supported; give only the file path`);
  }
  // `sqlite:///C:/x.db` on Windows: drop the slash that URL syntax puts before the drive letter.
  if (/^\/[A-Za-z]:[\\/]/.test(rest)) rest = rest.slice(1);
  return { filename: path.resolve(cwd, rest), memory: false };
}

/**
 * Options for {@link openSqliteConnection}.
 *
 * @example
 * const options: SqliteConnectionOptions = { busyTimeoutMs: 2000 };
 */
export interface SqliteConnectionOptions {
  /** How long SQLite waits on a locked database before `SQLITE_BUSY`. It blocks the thread (see README). */
  busyTimeoutMs: number;
  /**
   * Open without creating or changing anything (status, plan, dry runs): an existing file is opened
   * read-only; a missing file reads as an empty database and is not created.
   */
  readOnly?: boolean;
}

/** Values better-sqlite3 binds as they are. */
type SqliteValue = string | number | bigint | Buffer | null;

/**
 * Makes a parameter bindable. better-sqlite3 rejects booleans, Dates and undefined; the engine passes
 * the same values to every dialect, so they are mapped the way SQLite stores them (0/1, ISO text, NULL).
 */
function toSqliteValue(value: unknown): unknown {
  if (value === undefined) return null;
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (value instanceof Date) return value.toISOString();
  if (value instanceof Uint8Array && !Buffer.isBuffer(value)) {
    return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  }
  // Anything else goes through unchanged so better-sqlite3 raises its own clear TypeError.
  return value as SqliteValue;
}

/**
 * One connection to a SQLite database: a better-sqlite3 handle plus a Kysely instance over the same
 * handle, so a raw `BEGIN`/`SAVEPOINT` and Kysely queries share one transaction.
 *
 * Create it with `SqliteDialect.connect` (or {@link openSqliteConnection}).
 *
 * @example
 * const conn = await new SqliteDialect().connect('sqlite:./app.db');
 * await conn.execute('begin');
 * await sql`insert into t (x) values (${1})`.execute(conn.db); // same transaction
 * await conn.execute('commit');
 * await conn.close();
 */
export class SqliteConnection implements Connection {
  readonly engine = 'sqlite' as const;
  /** The URL as given; SQLite URLs carry no secrets. */
  readonly displayUrl: string;
  /** Absolute path of the database file, or `:memory:`. */
  readonly filename: string;
  readonly memory: boolean;
  /** Opened with `readOnly`: every write fails with `SQLITE_READONLY` (classified `permission`). */
  readonly readOnly: boolean;
  /** The better-sqlite3 handle, for work Kysely does not cover (bulk inserts, backups). */
  readonly handle: Database.Database;
  readonly db: Kysely<object>;
  #closed = false;
  #totalChanges: Database.Statement<[], number> | undefined;
  #changes: Database.Statement<[], number> | undefined;
  /** Releases of locks taken through this connection, run by `close()` so nothing outlives it. */
  readonly #cleanups = new Set<() => Promise<void>>();

  constructor(displayUrl: string, location: SqliteLocation, handle: Database.Database, readOnly = false) {
    this.displayUrl = displayUrl;
    this.filename = location.filename;
    this.memory = location.memory;
    this.readOnly = readOnly;
    this.handle = handle;
    this.db = new Kysely<object>({ dialect: new KyselySqliteDialect({ database: handle }) });
  }

  /** Whether a transaction (or a savepoint, which opens one) is open on the handle. */
  get inTransaction(): boolean {
    return this.handle.open && this.handle.inTransaction;
  }

  /** False once `close()` has been called. */
  get isOpen(): boolean {
    return !this.#closed && this.handle.open;
  }

  /**
   * Runs ONE statement with positional `?` parameters. Statements that return rows (`SELECT`,
   * `PRAGMA`, `... RETURNING`) give `rows`; the others give `rowsAffected`.
   *
   * With `timeoutMs`, an overrun is detected when the statement returns and raised as
   * {@link SqliteStatementTimeoutError}: SQLite through better-sqlite3 cannot be interrupted.
   *
   * @example
   * const { rows } = await conn.execute<{ n: number }>('select count(*) as n from t where x > ?', [5]);
   */
  async execute<R = Record<string, unknown>>(
    sql: string,
    params: readonly unknown[] = [],
    options: ExecuteOptions = {},
  ): Promise<QueryResult<R>> {
    const started = performance.now();
    const stmt = this.handle.prepare(sql);
    const bound = params.map(toSqliteValue);
    let result: QueryResult<R>;
    if (stmt.reader) {
      // `INSERT ... RETURNING` is a reader too. Like better-sqlite3's own run(), trust changes() only when
      // total_changes() moved: otherwise changes() still reports some earlier statement.
      const before = stmt.readonly ? 0 : this.#countTotalChanges();
      const rows = (options.rowMode === 'array' ? stmt.raw(true).all(...bound) : stmt.all(...bound)) as R[];
      const rowsAffected = stmt.readonly || this.#countTotalChanges() === before ? 0 : this.#countChanges();
      result = { rows, rowsAffected };
    } else {
      result = { rows: [], rowsAffected: stmt.run(...bound).changes };
    }
    const timeoutMs = options.timeoutMs;
    if (timeoutMs !== undefined) {
      const elapsedMs = Math.round(performance.now() - started);
      if (elapsedMs > timeoutMs) throw new SqliteStatementTimeoutError(timeoutMs, elapsedMs);
    }
    return result;
  }

  /**
   * Releases locks taken through this connection, then closes Kysely and the handle (an open
   * transaction is rolled back by SQLite). Safe to call more than once.
   *
   * @example
   * await conn.close(); await conn.close(); // the second call does nothing
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const cleanup of [...this.#cleanups]) await cleanup();
    this.#cleanups.clear();
    // Kysely closes the handle only if it was ever used, so close it here too.
    await this.db.destroy();
    if (this.handle.open) this.handle.close();
  }

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

  #countTotalChanges(): number {
    this.#totalChanges ??= this.handle.prepare<[], number>('select total_changes()').pluck();
    return this.#totalChanges.get() ?? 0;
  }

  #countChanges(): number {
    this.#changes ??= this.handle.prepare<[], number>('select changes()').pluck();
    return this.#changes.get() ?? 0;
  }
}

/**
 * A read-only view of an existing file. Opened writable with `query_only` rather than with
 * SQLITE_OPEN_READONLY, because a database left with a hot journal by a killed process must be
 * rolled back before anyone can read it, and a read-only handle cannot do that ("attempt to write
 * a readonly database"). Falls back to a true read-only handle when the file is not writable.
 */
function openReadOnly(filename: string, timeout: number | undefined): Database.Database {
  let handle: Database.Database;
  try {
    handle = new Database(filename, { timeout, fileMustExist: true });
  } catch {
    return new Database(filename, { timeout, readonly: true, fileMustExist: true });
  }
  handle.pragma('query_only = on');
  return handle;
}

/**
 * Opens a `sqlite:` URL. The file is created if missing, but its directory must exist (a typo in a
 * path should fail, not create a stray database somewhere). Sets only `busy_timeout`: `foreign_keys`,
 * `journal_mode` and other persistent or behavioural settings belong to the host application.
 *
 * With `readOnly`, an existing file is opened query-only and a missing one is stood in for by an empty,
 * query-only in-memory database, so `status` against a database that does not exist yet shows
 * everything pending without creating the file.
 *
 * @example
 * const conn = await openSqliteConnection('sqlite:./app.db', { busyTimeoutMs: 5000 });
 * const peek = await openSqliteConnection('sqlite:./app.db', { busyTimeoutMs: 5000, readOnly: true });
 */
export async function openSqliteConnection(
  url: string,
  options: SqliteConnectionOptions,
): Promise<SqliteConnection> {
  const location = parseSqliteUrl(url);
  if (!location.memory) {
    const dir = path.dirname(location.filename);
    let isDir: boolean;
    try {
      isDir = statSync(dir).isDirectory();
    } catch (err) {
      throw new ConnectionError(
        `cannot open SQLite database ${location.filename}: directory ${dir} does not exist or cannot be read (${reason(err)})`,
        { cause: err, details: { path: location.filename } },
      );
    }
    if (!isDir) {
      throw new ConnectionError(
        `cannot open SQLite database ${location.filename}: ${dir} is not a directory`,
        { details: { path: location.filename } },
      );
    }
  }
  const readOnly = options.readOnly === true;
  let handle: Database.Database;
  try {
    if (readOnly && (location.memory || !existsSync(location.filename))) {
      // Reads as empty, and query_only makes an accidental write fail instead of landing in memory.
      handle = new Database(':memory:', { timeout: options.busyTimeoutMs });
      handle.pragma('query_only = on');
    } else if (readOnly) {
      handle = openReadOnly(location.filename, options.busyTimeoutMs);
    } else {
      handle = new Database(location.filename, { timeout: options.busyTimeoutMs });
    }
  } catch (err) {
    throw new ConnectionError(`cannot open SQLite database ${location.filename}: ${reason(err)}`, {
      cause: err,
      details: { path: location.filename },
    });
  }
  try {
    // Opening is lazy in SQLite: read the schema now so "file is not a database" surfaces as a
    // connection error here, not as a baffling failure of the first migration.
    handle.prepare('select count(*) from sqlite_master').get();
  } catch (err) {
    handle.close();
    throw new ConnectionError(`cannot open SQLite database ${location.filename}: ${reason(err)}`, {
      cause: err,
      details: { path: location.filename },
    });
  }
  return new SqliteConnection(url, location, handle, readOnly);
}

function reason(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Narrows a core `Connection` to this dialect's, failing with a usage error for foreign connections.
 * @internal
 */
export function asSqliteConnection(conn: Connection): SqliteConnection {
  if (conn instanceof SqliteConnection) return conn;
  throw new UsageError(
    `the SQLite dialect was given a ${conn.engine} connection (${conn.displayUrl}); ` +
      'use the connection returned by SqliteDialect.connect',
  );
}
