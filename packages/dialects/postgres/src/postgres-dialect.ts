import type {
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
import { splitStatements, UsageError } from '@cmpkg/core';
import {
  type PostgresVectorType,
  postgresCapabilities,
  postgresNativeType,
  postgresSplitterOptions,
  quotePostgresIdentifier,
} from './postgres-adapter.js';
import {
  createPostgresBulkWriter,
  postgresReadExpression,
  syncPostgresAutoIncrement,
} from './postgres-bulk.js';
import {
  asPostgresConnection,
  isPostgresUrl,
  openPostgresConnection,
  type PostgresConnection,
} from './postgres-connection.js';
import { renderPostgresDdl } from './postgres-ddl.js';
import { classifyPostgresError } from './postgres-errors.js';
import { introspectPostgres } from './postgres-introspector.js';
import { acquirePostgresLock } from './postgres-lock.js';

/**
 * Options of {@link PostgresDialect}.
 *
 * @example
 * const options: PostgresDialectOptions = { connectTimeoutMs: 5000, vectorType: 'pgvector' };
 * new PostgresDialect(options);
 */
export interface PostgresDialectOptions {
  /** Give up connecting (and reconnecting) after this long; 0 waits as long as the OS does. Default 10000. */
  connectTimeoutMs?: number;
  /**
   * How portable `vector(n)` columns are stored: `'array'` (default; `REAL[]` plus a `cmpkg:vector(n)`
   * column comment, nothing to install) or `'pgvector'` (`VECTOR(n)`; needs the pgvector extension).
   */
  vectorType?: PostgresVectorType;
}

/**
 * The cmpkg dialect for PostgreSQL, on pg (node-postgres) and Kysely. Bulk writes (copy, import,
 * transforms) stream `COPY … FROM STDIN`; `merge` upserts through a temp table (see `bulkWriter`).
 *
 * @example
 * import { PostgresDialect } from '@cmpkg/dialect-postgres';
 * const dialect = new PostgresDialect({ connectTimeoutMs: 5000 });
 * const conn = await dialect.connect('postgres://app@localhost:5432/shop?schema=sales');
 * const release = await dialect.acquireLock(conn, 'cmpkg', { timeoutMs: 10_000, holder: 'deploy@ci' });
 * try {
 *   for (const stmt of dialect.splitStatements(script)) await conn.execute(stmt);
 * } finally {
 *   await release();
 *   await conn.close();
 * }
 */
export class PostgresDialect implements Dialect {
  readonly engine = 'postgresql' as const;
  readonly capabilities: Readonly<DialectCapabilities> = postgresCapabilities;
  readonly splitter: Readonly<SplitterOptions> = postgresSplitterOptions;
  readonly connectTimeoutMs: number;
  readonly vectorType: PostgresVectorType;

  constructor(options: PostgresDialectOptions = {}) {
    const connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
    if (!Number.isInteger(connectTimeoutMs) || connectTimeoutMs < 0) {
      throw new UsageError(
        `connectTimeoutMs must be a whole number of milliseconds >= 0, got ${connectTimeoutMs}`,
      );
    }
    const vectorType = options.vectorType ?? 'array';
    if (vectorType !== 'array' && vectorType !== 'pgvector') {
      throw new UsageError(`vectorType must be 'array' or 'pgvector', got "${String(vectorType)}"`);
    }
    this.connectTimeoutMs = connectTimeoutMs;
    this.vectorType = vectorType;
  }

  /**
   * True for `postgres://` and `postgresql://` URLs (any letter case).
   *
   * @example
   * new PostgresDialect().handles('postgresql://localhost/app'); // true
   */
  handles(url: string): boolean {
    return isPostgresUrl(url);
  }

  /**
   * Opens ONE session to the server (see {@link PostgresConnection}). `?schema=name` sets the session's
   * `search_path`; `readOnly` makes every transaction read-only. Failures are core `ConnectionError`s:
   * `cannot connect to PostgreSQL at host:port/db: <reason>`.
   *
   * @example
   * const conn = await new PostgresDialect().connect('postgres://postgres@localhost/app');
   * const peek = await new PostgresDialect().connect('postgres://postgres@localhost/app', { readOnly: true });
   */
  connect(url: string, options: ConnectOptions = {}): Promise<PostgresConnection> {
    return openPostgresConnection(url, {
      connectTimeoutMs: this.connectTimeoutMs,
      readOnly: options.readOnly,
    });
  }

  /**
   * Takes the migration lock `name`: a session-level advisory lock, with the holder shown to waiters
   * through `application_name` (see {@link acquirePostgresLock}).
   *
   * @example
   * const release = await dialect.acquireLock(conn, 'cmpkg', { timeoutMs: 5000, holder: 'ci' });
   * await release();
   */
  acquireLock(conn: Connection, name: string, options: LockOptions): Promise<ReleaseLock> {
    return acquirePostgresLock(asPostgresConnection(conn), name, options);
  }

  /**
   * Splits a script with core's one splitter, configured for PostgreSQL (dollar quotes, nested
   * comments, `BEGIN ATOMIC ... END` bodies).
   *
   * @example
   * dialect.splitStatements('create function f() returns int as $$ select 1; $$ language sql; select f();'); // two
   */
  splitStatements(sql: string): string[] {
    return splitStatements(sql, this.splitter);
  }

  /**
   * Classifies a driver error (see {@link classifyPostgresError}).
   *
   * @example
   * dialect.classifyError(err) === 'transient'; // deadlock, serialization failure: worth a retry
   */
  classifyError(err: unknown): ErrorClass {
    return classifyPostgresError(err);
  }

  /**
   * Counts the tables and indexes of the connection's current schema. The indexes behind primary keys
   * are not counted (like the automatic ones SQLite keeps out of its count); those behind UNIQUE
   * constraints are, as they are listed as unique indexes.
   *
   * @example
   * const { tables, indexes } = await dialect.countSchemaObjects(conn);
   */
  async countSchemaObjects(conn: Connection): Promise<SchemaObjectCounts> {
    const { rows } = await asPostgresConnection(conn).execute<{ tables: number; indexes: number }>(
      `select (select count(*) from pg_class c
                where c.relnamespace = n.oid and c.relkind in ('r', 'p'))::int as tables,
              (select count(*) from pg_index i join pg_class c on c.oid = i.indexrelid
                where c.relnamespace = n.oid and not i.indisprimary)::int as indexes
         from pg_namespace n where n.nspname = current_schema()`,
    );
    return { tables: rows[0]?.tables ?? 0, indexes: rows[0]?.indexes ?? 0 };
  }

  /**
   * Reads the connection's current schema into the portable model (see {@link introspectPostgres}).
   *
   * @example
   * const snapshot = await dialect.introspect(conn, { tables: ['users'], exactCounts: true });
   */
  introspect(conn: Connection, options: IntrospectOptions = {}): Promise<SchemaSnapshot> {
    return introspectPostgres(asPostgresConnection(conn), options, (change) => this.renderDdl(change));
  }

  /**
   * Renders a portable schema change as PostgreSQL statements (see {@link renderPostgresDdl}).
   *
   * @example
   * for (const s of dialect.renderDdl({ kind: 'createTable', table })) await conn.execute(s);
   */
  renderDdl(change: SchemaChange): string[] {
    return renderPostgresDdl(change, { vectorType: this.vectorType });
  }

  /**
   * The PostgreSQL type of a portable type (the mapping table `POSTGRES_TYPES`).
   *
   * @example
   * dialect.nativeType('json'); // 'JSONB'
   */
  nativeType(type: PortableType): string {
    return postgresNativeType(type, this.vectorType);
  }

  /**
   * Quotes an identifier: `"name"`, with `"` doubled.
   *
   * @example
   * dialect.quoteIdentifier('user'); // '"user"'
   */
  quoteIdentifier(name: string): string {
    return quotePostgresIdentifier(name);
  }

  /**
   * A COPY-based writer for `table` (see {@link createPostgresBulkWriter}): `insert` streams
   * `COPY … FROM STDIN`, `merge` upserts on `key` through a temp table. Each write runs in a savepoint
   * of the caller's transaction (or a transaction of its own), so a failed write leaves none of its rows.
   *
   * @example
   * const writer = await dialect.bulkWriter(conn, 'entries', [{ name: 'id', type: 'bigint' }], { mode: 'merge', key: ['id'] });
   * try { await writer.write([[1], [2]]); } finally { await writer.close(); }
   */
  bulkWriter(
    conn: Connection,
    table: string,
    columns: readonly BulkColumn[],
    options: BulkWriterOptions = {},
  ): Promise<BulkWriter> {
    return createPostgresBulkWriter(conn, table, columns, { ...options, vectorType: this.vectorType });
  }

  /**
   * How to SELECT a column so `decodeValue` gets its exact value (see {@link postgresReadExpression}).
   *
   * @example
   * dialect.readExpression('"day"', 'date'); // `to_char("day", 'YYYY-MM-DD')`
   */
  readExpression(column: string, type: PortableType): string {
    return postgresReadExpression(column, type, this.vectorType);
  }

  /**
   * `setval` on the column's identity or serial sequence so the next generated value is max + 1 (see
   * {@link syncPostgresAutoIncrement}); a no-op for a column without one.
   *
   * @example
   * await dialect.syncAutoIncrement(conn, 'entries', 'id');
   */
  syncAutoIncrement(conn: Connection, table: string, column: string): Promise<void> {
    return syncPostgresAutoIncrement(conn, table, column);
  }
}
