import type { Kysely } from 'kysely';
import type { PortableValue } from './data/portable-value.js';
import type { Engine } from './model/schema.js';
import type { PortableType } from './schema/portable-types.js';
import type { IntrospectOptions, SchemaChange, SchemaSnapshot } from './schema/snapshot.js';
import type { SplitterOptions } from './sql/splitter.js';

/**
 * What an engine can do; the engine picks its strategy from these flags, never from the engine name.
 */
export interface DialectCapabilities {
  /** DDL can be rolled back: a whole migration runs in one transaction. */
  transactionalDdl: boolean;
  /** `CREATE INDEX CONCURRENTLY` or an online equivalent exists. */
  concurrentIndex: boolean;
  /** `INSERT ... RETURNING` is available. */
  returning: boolean;
  /** `SAVEPOINT` / `ROLLBACK TO SAVEPOINT` work inside a transaction. */
  savepoints: boolean;
  /** The server can cancel a statement after a timeout (statement_timeout, max_execution_time). */
  statementTimeout: boolean;
  /** `CREATE INDEX ... WHERE` (PostgreSQL, SQLite). */
  partialIndexes: boolean;
  /** Index key parts that are expressions, such as `lower(email)`. */
  expressionIndexes: boolean;
}

export interface ConnectOptions {
  /**
   * Never create or change anything: status, plan, validate and dry runs use this. A SQLite file
   * that does not exist reads as an empty database instead of being created; servers open a
   * read-only session.
   */
  readOnly?: boolean;
}

/** The outcome of one raw statement. */
export interface QueryResult<R = Record<string, unknown>> {
  rows: R[];
  /** Rows inserted, updated or deleted; 0 for statements that change no rows. */
  rowsAffected: number;
}

/**
 * Options of `Connection.execute`.
 *
 * @example
 * const { rows } = await conn.execute<unknown[]>('SELECT id, title FROM entries', [], { rowMode: 'array' });
 */
export interface ExecuteOptions {
  /**
   * Cancel the statement after this many milliseconds where the server can; dialects that cannot
   * interrupt a running statement check the elapsed time when it returns and fail then.
   */
  timeoutMs?: number;
  /**
   * `array`: each row is an array of its values in select-list order instead of an object keyed by
   * column name (no object and no name lookups per row: what bulk reads use). Default `object`.
   */
  rowMode?: 'object' | 'array';
}

/**
 * One pinned database connection. The engine runs every statement of a run on the same connection
 * so that locks, transactions and session settings hold.
 */
export interface Connection {
  readonly engine: Engine;
  /** The connection URL with any password removed; safe to print. */
  readonly displayUrl: string;
  /** Kysely bound to this one connection. */
  readonly db: Kysely<object>;
  /**
   * Whether a transaction is open on this session (tracked from the driver or the server's status
   * flags, never by asking the server), so a writer can choose a savepoint or a transaction of its own.
   */
  readonly inTransaction: boolean;
  execute<R = Record<string, unknown>>(
    sql: string,
    params?: readonly unknown[],
    options?: ExecuteOptions,
  ): Promise<QueryResult<R>>;
  close(): Promise<void>;
}

/** How the engine should treat an error a driver raised. */
export type ErrorClass = 'transient' | 'constraint' | 'syntax' | 'permission' | 'timeout' | 'unknown';

export interface LockOptions {
  /** Give up (with `LockTimeoutError`, naming the holder when known) after this long. */
  timeoutMs: number;
  /** Recorded as the holder where the dialect can show it to waiters. */
  holder?: string;
}

/** Releases a lock taken by `acquireLock`; safe to call twice. */
export type ReleaseLock = () => Promise<void>;

/** Counts the engine uses to check a step's `expectedChanges`. */
export interface SchemaObjectCounts {
  tables: number;
  indexes: number;
}

export interface BackupResult {
  /** A path or URL an operator can restore from. */
  location: string;
  bytes?: number;
}

/**
 * A column a {@link BulkWriter} writes: its name and the portable type its values have.
 *
 * @example
 * const columns: BulkColumn[] = [{ name: 'id', type: 'bigint' }, { name: 'title', type: 'text' }];
 */
export interface BulkColumn {
  name: string;
  type: PortableType;
}

/**
 * Options of `Dialect.bulkWriter`.
 *
 * @example
 * const options: BulkWriterOptions = { mode: 'merge', key: ['id'] };
 */
export interface BulkWriterOptions {
  /**
   * `insert` (default): a row whose key exists fails the batch. `merge`: such a row updates the
   * existing one (upsert on `key`).
   */
  mode?: 'insert' | 'merge';
  /** The unique key `merge` matches on (usually the primary key); required for `merge`. */
  key?: readonly string[];
}

/**
 * Writes rows into one table in the engine's fastest way (PostgreSQL COPY, MySQL multi-row INSERT
 * sized under `max_allowed_packet`, SQLite one prepared INSERT). Each `write` is atomic: a savepoint
 * inside the caller's transaction (the caller decides what a batch commits with), or a transaction
 * of its own when the caller holds none. A failed `write` leaves none of its rows.
 *
 * @example
 * const writer = await dialect.bulkWriter(conn, 'entries', [{ name: 'id', type: 'bigint' }, { name: 'title', type: 'text' }]);
 * try { await writer.write([[1, 'a'], [2, 'b']]); } finally { await writer.close(); }
 */
export interface BulkWriter {
  /** Writes one batch; values in the order of the writer's columns. Resolves with the rows written. */
  write(rows: readonly (readonly PortableValue[])[]): Promise<number>;
  /** Releases what the writer holds (prepared statements, temporary tables); safe to call twice. */
  close(): Promise<void>;
}

/**
 * A database engine. Implemented by `@cmpkg/dialect-*` packages; the engine in core only talks to
 * this interface.
 *
 * @example
 * import { SqliteDialect } from '@cmpkg/dialect-sqlite';
 * const dialect = new SqliteDialect();
 * const conn = await dialect.connect('sqlite:./app.db');
 * const release = await dialect.acquireLock(conn, 'cmpkg', { timeoutMs: 10_000 });
 * try { await conn.execute('select 1'); } finally { await release(); await conn.close(); }
 */
export interface Dialect {
  readonly engine: Engine;
  readonly capabilities: DialectCapabilities;
  /** The hooks this engine's SQL needs from the one statement splitter in core. */
  readonly splitter: SplitterOptions;
  /** Whether this dialect serves a URL (`sqlite:`, `postgres://`, ...). */
  handles(url: string): boolean;
  connect(url: string, options?: ConnectOptions): Promise<Connection>;
  /** Takes the engine's native migration lock (advisory lock, GET_LOCK, lock file). */
  acquireLock(conn: Connection, name: string, options: LockOptions): Promise<ReleaseLock>;
  /** Splits a script into statements with `splitStatements(sql, this.splitter)`. */
  splitStatements(sql: string): string[];
  classifyError(err: unknown): ErrorClass;
  countSchemaObjects(conn: Connection): Promise<SchemaObjectCounts>;
  /**
   * Reads the schema: tables (columns, keys, indexes, foreign keys, checks, sizes, row counts,
   * CREATE statements), views, triggers and routines, in the portable model.
   */
  introspect(conn: Connection, options?: IntrospectOptions): Promise<SchemaSnapshot>;
  /** Renders a change of the portable model as this engine's statements, in order. */
  renderDdl(change: SchemaChange): string[];
  /** This engine's type for a portable type: the dialect's one mapping table. */
  nativeType(type: PortableType): string;
  /** Quotes an identifier for this engine (`"a"`, `` `a` ``), doubling any quote inside it. */
  quoteIdentifier(name: string): string;
  /**
   * A writer for many rows of one table; `table` and `columns` are unquoted names. Values must
   * already be {@link PortableValue}s of each column's type (`decodeValue`).
   *
   * @example
   * const writer = await dialect.bulkWriter(conn, 'tags', [{ name: 'id', type: 'bigint' }, { name: 'name', type: 'text' }]);
   */
  bulkWriter(
    conn: Connection,
    table: string,
    columns: readonly BulkColumn[],
    options?: BulkWriterOptions,
  ): Promise<BulkWriter>;
  /**
   * A SELECT-list expression that reads the (already quoted) `column` of portable type `type` in a
   * form `decodeValue` turns into the exact value: times as text in UTC with microseconds, 64-bit
   * integers and decimals as text where the driver would round them, JSON as text.
   *
   * @example
   * const select = `SELECT ${dialect.readExpression(dialect.quoteIdentifier('created_at'), 'timestamptz')} FROM entries`;
   */
  readExpression(column: string, type: PortableType): string;
  /**
   * After rows were written with explicit values in an auto-increment column: makes the next
   * generated value follow the largest one (PostgreSQL `setval`; MySQL and SQLite move on their own,
   * but the call is still safe).
   *
   * @example
   * await dialect.syncAutoIncrement(conn, 'entries', 'id');
   */
  syncAutoIncrement(conn: Connection, table: string, column: string): Promise<void>;
  /** Makes a restorable copy of the database; absent where the dialect cannot. */
  backup?(conn: Connection, options: { label: string; directory?: string }): Promise<BackupResult>;
}
