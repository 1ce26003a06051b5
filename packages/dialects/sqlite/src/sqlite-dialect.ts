import { existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import type {
  BackupResult,
  BulkColumn,
  BulkWriter,
  BulkWriterOptions,
  Connection,
  ConnectOptions,
  Dialect,
  DialectCapabilities,
  ErrorClass,
  IntrospectOptions,
  LockOptions,
  PortableType,
  ReleaseLock,
  SchemaChange,
  SchemaObjectCounts,
  SchemaSnapshot,
  SplitterOptions,
} from '@cmpkg/core';
import { BackupRequiredError, splitStatements, UsageError } from '@cmpkg/core';
import { sqliteCapabilities, sqliteNativeType, sqliteSplitterOptions } from './sqlite-adapter.js';
import { createSqliteBulkWriter, sqliteReadExpression } from './sqlite-bulk.js';
import {
  asSqliteConnection,
  isSqliteUrl,
  openSqliteConnection,
  type SqliteConnection,
} from './sqlite-connection.js';
import { quoteSqliteIdentifier, renderSqliteDdl } from './sqlite-ddl.js';
import { classifySqliteError } from './sqlite-errors.js';
import { introspectSqlite } from './sqlite-introspector.js';
import { acquireSqliteLock } from './sqlite-lock.js';

/**
 * Options of {@link SqliteDialect}.
 *
 * @example
 * const options: SqliteDialectOptions = { busyTimeoutMs: 1000 };
 * new SqliteDialect(options);
 */
export interface SqliteDialectOptions {
  /**
   * How long a statement waits for another connection's lock on the database before failing with
   * `SQLITE_BUSY` (classified `transient`). Default 5000. SQLite waits synchronously, blocking the
   * event loop meanwhile, so keep it modest.
   */
  busyTimeoutMs?: number;
}

/**
 * Options of {@link SqliteDialect.backup}.
 *
 * @example
 * const options: SqliteBackupOptions = { label: 'pre-2.0.0', directory: './backups' };
 * await dialect.backup(conn, options);
 */
export interface SqliteBackupOptions {
  /** Part of the file name (`app.db.<label>.<timestamp>.bak`); characters unsafe in file names become `-`. */
  label: string;
  /** Where to write; created if missing. Default: the database's own directory. */
  directory?: string;
}

/**
 * The cmpkg dialect for SQLite, on better-sqlite3. Bulk writes (copy, import, transforms) run one
 * prepared INSERT per row inside a savepoint (see `bulkWriter`).
 *
 * @example
 * import { SqliteDialect } from '@cmpkg/dialect-sqlite';
 * const dialect = new SqliteDialect({ busyTimeoutMs: 2000 });
 * const conn = await dialect.connect('sqlite:./app.db');
 * const release = await dialect.acquireLock(conn, 'cmpkg', { timeoutMs: 10_000 });
 * try {
 *   for (const stmt of dialect.splitStatements('create table a (x); create table b (y);')) {
 *     await conn.execute(stmt);
 *   }
 * } finally {
 *   await release();
 *   await conn.close();
 * }
 */
export class SqliteDialect implements Dialect {
  readonly engine = 'sqlite' as const;
  readonly capabilities: Readonly<DialectCapabilities> = sqliteCapabilities;
  readonly splitter: Readonly<SplitterOptions> = sqliteSplitterOptions;
  readonly busyTimeoutMs: number;

  constructor(options: SqliteDialectOptions = {}) {
    const busyTimeoutMs = options.busyTimeoutMs ?? 5000;
    if (!Number.isInteger(busyTimeoutMs) || busyTimeoutMs < 0) {
      throw new UsageError(`busyTimeoutMs must be a whole number of milliseconds >= 0, got ${busyTimeoutMs}`);
    }
    this.busyTimeoutMs = busyTimeoutMs;
  }

  /**
   * True for `sqlite:` URLs.
   *
   * @example
   * new SqliteDialect().handles('sqlite::memory:'); // true
   */
  handles(url: string): boolean {
    return isSqliteUrl(url);
  }

  /**
   * Opens `sqlite:./file.db`, `sqlite:file.db`, `sqlite:/abs.db`, `sqlite://./file.db` or
   * `sqlite::memory:` (relative to the current directory). The file is created if missing; its
   * directory must exist. With `readOnly`, nothing is created or changed (see
   * {@link openSqliteConnection}).
   *
   * @example
   * const conn = await new SqliteDialect().connect('sqlite::memory:');
   * const peek = await new SqliteDialect().connect('sqlite:./app.db', { readOnly: true });
   */
  connect(url: string, options: ConnectOptions = {}): Promise<SqliteConnection> {
    return openSqliteConnection(url, { busyTimeoutMs: this.busyTimeoutMs, readOnly: options.readOnly });
  }

  /**
   * Takes the cross-process migration lock `name` (see {@link acquireSqliteLock} and the README).
   *
   * @example
   * const release = await dialect.acquireLock(conn, 'cmpkg', { timeoutMs: 5000, holder: 'ci' });
   * await release();
   */
  acquireLock(conn: Connection, name: string, options: LockOptions): Promise<ReleaseLock> {
    return acquireSqliteLock(asSqliteConnection(conn), name, options);
  }

  /**
   * Splits a script with core's one splitter, configured for SQLite (trigger bodies stay whole).
   *
   * @example
   * dialect.splitStatements('create table t (x); insert into t values (1);'); // two statements
   */
  splitStatements(sql: string): string[] {
    return splitStatements(sql, this.splitter);
  }

  /**
   * Classifies a driver error (see {@link classifySqliteError}).
   *
   * @example
   * dialect.classifyError(err) === 'transient'; // SQLITE_BUSY: worth a retry
   */
  classifyError(err: unknown): ErrorClass {
    return classifySqliteError(err);
  }

  /**
   * Counts user tables and indexes (SQLite's internal `sqlite_*` objects excluded, including the
   * automatic indexes behind UNIQUE and PRIMARY KEY constraints).
   *
   * @example
   * const { tables, indexes } = await dialect.countSchemaObjects(conn);
   */
  async countSchemaObjects(conn: Connection): Promise<SchemaObjectCounts> {
    const c = asSqliteConnection(conn);
    const rows = c.handle
      .prepare<[], { type: string; n: number }>(
        `select type, count(*) as n from sqlite_master
          where type in ('table', 'index') and name not like 'sqlite\\_%' escape '\\'
          group by type`,
      )
      .all();
    const count = (type: string) => rows.find((r) => r.type === type)?.n ?? 0;
    return { tables: count('table'), indexes: count('index') };
  }

  /**
   * Reads the `main` schema into the portable model (see {@link introspectSqlite} and the README):
   * tables with exact row counts, views and triggers; SQLite has no routines.
   *
   * @example
   * const snapshot = await dialect.introspect(conn, { tables: ['users'] });
   * console.log(snapshot.tables[0]?.createSql.join(';\n'));
   */
  introspect(conn: Connection, options?: IntrospectOptions): Promise<SchemaSnapshot> {
    return introspectSqlite(conn, options);
  }

  /**
   * Renders a portable schema change as SQLite statements (see {@link renderSqliteDdl}).
   *
   * @example
   * for (const s of dialect.renderDdl({ kind: 'createTable', table: users })) await conn.execute(s);
   */
  renderDdl(change: SchemaChange): string[] {
    return renderSqliteDdl(change);
  }

  /**
   * The declared SQLite type of a portable type (see `SQLITE_TYPES`).
   *
   * @example
   * dialect.nativeType('varchar(20)'); // 'VARCHAR(20)'
   */
  nativeType(type: PortableType): string {
    return sqliteNativeType(type);
  }

  /**
   * Quotes an identifier with double quotes, doubling any inside.
   *
   * @example
   * dialect.quoteIdentifier('a"b'); // '"a""b"'
   */
  quoteIdentifier(name: string): string {
    return quoteSqliteIdentifier(name);
  }

  /**
   * One prepared INSERT per row inside a savepoint (see {@link createSqliteBulkWriter}).
   *
   * @example
   * const writer = await dialect.bulkWriter(conn, 'entries', [{ name: 'id', type: 'integer' }]);
   */
  bulkWriter(
    conn: Connection,
    table: string,
    columns: readonly BulkColumn[],
    options?: BulkWriterOptions,
  ): Promise<BulkWriter> {
    return createSqliteBulkWriter(conn, table, columns, options);
  }

  /**
   * See {@link sqliteReadExpression}.
   *
   * @example
   * dialect.readExpression('"id"', 'integer'); // '"id"'
   */
  readExpression(column: string, type: PortableType): string {
    return sqliteReadExpression(column, type);
  }

  /**
   * Nothing to do: SQLite hands out max(rowid) + 1 and moves `sqlite_sequence` past explicit values
   * on its own.
   *
   * @example
   * await dialect.syncAutoIncrement(conn, 'entries', 'id');
   */
  async syncAutoIncrement(conn: Connection, _table: string, _column: string): Promise<void> {
    asSqliteConnection(conn);
  }

  /**
   * Copies the database with SQLite's online backup API (consistent even while others write) to
   * `<directory or the database's directory>/<db file name>.<label>.<UTC timestamp>.bak`.
   * An in-memory database cannot be backed up: there is no file an operator could restore from.
   *
   * @example
   * const { location, bytes } = await dialect.backup(conn, { label: 'pre-1.2.0' });
   */
  async backup(conn: Connection, options: SqliteBackupOptions): Promise<BackupResult> {
    const c = asSqliteConnection(conn);
    if (c.memory) {
      throw new BackupRequiredError(
        `cannot back up ${c.displayUrl}: an in-memory database exists only inside this process, so a copy ` +
          'could not be restored after a failed migration; use a file database (sqlite:./app.db) for ' +
          'migrations that require a backup',
      );
    }
    if (c.handle.memory) {
      // A read-only connection to a file that does not exist yet: there is nothing to copy.
      throw new BackupRequiredError(`cannot back up ${c.displayUrl}: the database file does not exist yet`);
    }
    const dir = path.resolve(options.directory ?? path.dirname(c.filename));
    mkdirSync(dir, { recursive: true });
    const label = options.label.replace(/[^A-Za-z0-9._-]+/g, '-') || 'backup';
    const stem = `${path.basename(c.filename)}.${label}.${utcStamp(new Date())}`;
    // Two backups in the same second must not overwrite each other.
    let location = path.join(dir, `${stem}.bak`);
    for (let n = 1; existsSync(location); n++) location = path.join(dir, `${stem}-${n}.bak`);
    try {
      await c.handle.backup(location);
    } catch (err) {
      // A half-written copy looks restorable but is not.
      rmSync(location, { force: true });
      throw err;
    }
    return { location, bytes: statSync(location).size };
  }
}

/** `20250102T030405Z`: sortable, and free of `:` (not allowed in Windows file names). */
function utcStamp(d: Date): string {
  return d
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}Z$/, 'Z');
}
