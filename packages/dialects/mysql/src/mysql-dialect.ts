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
  mysqlCapabilities,
  mysqlNativeType,
  mysqlSplitterOptions,
  quoteMysqlIdentifier,
} from './mysql-adapter.js';
import { createMysqlBulkWriter, mysqlReadExpression } from './mysql-bulk.js';
import {
  asMysqlConnection,
  isMysqlUrl,
  type MysqlConnection,
  openMysqlConnection,
} from './mysql-connection.js';
import { renderMysqlDdl } from './mysql-ddl.js';
import { classifyMysqlError } from './mysql-errors.js';
import { introspectMysql } from './mysql-introspector.js';
import { acquireMysqlLock } from './mysql-lock.js';

/**
 * Options of {@link MysqlDialect}.
 *
 * @example
 * const options: MysqlDialectOptions = { connectTimeoutMs: 5000 };
 * new MysqlDialect(options);
 */
export interface MysqlDialectOptions {
  /**
   * How long connecting may take before failing with `ConnectionError` ("timed out after N ms").
   * It also bounds a reconnect after the server dropped the connection. Default 10000.
   */
  connectTimeoutMs?: number;
}

/**
 * The cmpkg dialect for MySQL 8 and MariaDB 10.11+, on mysql2. Bulk writes (copy, import, transforms)
 * are multi-row INSERTs sized under `max_allowed_packet` (see `bulkWriter`).
 *
 * MySQL has no transactional DDL, so the engine runs migrations on it step by step and journals each
 * finished step (see the README).
 *
 * @example
 * import { MysqlDialect } from '@cmpkg/dialect-mysql';
 * const dialect = new MysqlDialect({ connectTimeoutMs: 5000 });
 * const conn = await dialect.connect('mysql://app:secret@127.0.0.1:3306/shop');
 * const release = await dialect.acquireLock(conn, 'cmpkg', { timeoutMs: 10_000, holder: 'deploy@ci' });
 * try {
 *   for (const stmt of dialect.splitStatements('create table a (x int); create table b (y int);')) {
 *     await conn.execute(stmt);
 *   }
 * } finally {
 *   await release();
 *   await conn.close();
 * }
 */
export class MysqlDialect implements Dialect {
  readonly engine = 'mysql' as const;
  readonly capabilities: Readonly<DialectCapabilities> = mysqlCapabilities;
  readonly splitter: Readonly<SplitterOptions> = mysqlSplitterOptions;
  readonly connectTimeoutMs: number;

  constructor(options: MysqlDialectOptions = {}) {
    const connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
    if (!Number.isInteger(connectTimeoutMs) || connectTimeoutMs <= 0) {
      throw new UsageError(
        `connectTimeoutMs must be a whole number of milliseconds > 0, got ${connectTimeoutMs}`,
      );
    }
    this.connectTimeoutMs = connectTimeoutMs;
  }

  /**
   * True for `mysql://` and `mariadb://` URLs (any letter case).
   *
   * @example
   * new MysqlDialect().handles('mariadb://root@localhost/app'); // true
   */
  handles(url: string): boolean {
    return isMysqlUrl(url);
  }

  /**
   * Opens ONE connection (never a pool) to `mysql://user:password@host:port/database` (see
   * `openMysqlConnection`). With `readOnly`, the session is read-only on the server and statements
   * that mode does not stop are refused before they are sent.
   *
   * @example
   * const conn = await new MysqlDialect().connect('mysql://root@127.0.0.1/app');
   * const peek = await new MysqlDialect().connect('mysql://root@127.0.0.1/app', { readOnly: true });
   */
  connect(url: string, options: ConnectOptions = {}): Promise<MysqlConnection> {
    return openMysqlConnection(url, { readOnly: options.readOnly, connectTimeoutMs: this.connectTimeoutMs });
  }

  /**
   * Takes the migration lock `name` of the connection's database (`GET_LOCK`; see `acquireMysqlLock`).
   *
   * @example
   * const release = await dialect.acquireLock(conn, 'cmpkg', { timeoutMs: 5000, holder: 'ci' });
   * await release();
   */
  acquireLock(conn: Connection, name: string, options: LockOptions): Promise<ReleaseLock> {
    return acquireMysqlLock(asMysqlConnection(conn), name, options);
  }

  /**
   * Splits a script with core's one splitter, configured for MySQL: backslash escapes, backticks,
   * `#` comments, and `BEGIN ... END` bodies of triggers and routines kept whole (no `DELIMITER`).
   *
   * @example
   * dialect.splitStatements("insert into t values ('a;b'); # note\nselect 1;"); // two statements
   */
  splitStatements(sql: string): string[] {
    return splitStatements(sql, this.splitter);
  }

  /**
   * Classifies a driver error (see `classifyMysqlError`).
   *
   * @example
   * dialect.classifyError(err) === 'transient'; // deadlock or dropped connection: worth a retry
   */
  classifyError(err: unknown): ErrorClass {
    return classifyMysqlError(err);
  }

  /**
   * Counts the database's base tables and indexes (the primary key excluded; an index InnoDB built for
   * a foreign key counts, since it is real).
   *
   * @example
   * const { tables, indexes } = await dialect.countSchemaObjects(conn);
   */
  async countSchemaObjects(conn: Connection): Promise<SchemaObjectCounts> {
    const c = asMysqlConnection(conn);
    const { rows } = await c.execute<{ tables: unknown; indexes: unknown }>(
      `SELECT
         (SELECT COUNT(*) FROM information_schema.TABLES
           WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED')) AS tables,
         (SELECT COUNT(DISTINCT TABLE_NAME, INDEX_NAME) FROM information_schema.STATISTICS
           WHERE TABLE_SCHEMA = DATABASE() AND INDEX_NAME <> 'PRIMARY') AS indexes`,
    );
    return { tables: Number(rows[0]?.tables ?? 0), indexes: Number(rows[0]?.indexes ?? 0) };
  }

  /**
   * Reads the connection's database in the portable model (see `introspectMysql`).
   *
   * @example
   * const snapshot = await dialect.introspect(conn, { exactCounts: true });
   */
  introspect(conn: Connection, options?: IntrospectOptions): Promise<SchemaSnapshot> {
    return introspectMysql(asMysqlConnection(conn), options);
  }

  /**
   * Renders a portable schema change for both MySQL 8 and MariaDB (see `renderMysqlDdl`; expression
   * key parts are refused since MariaDB has none).
   *
   * @example
   * dialect.renderDdl({ kind: 'dropIndex', table: 'users', name: 'users_email' });
   * // ['DROP INDEX `users_email` ON `users`']
   */
  renderDdl(change: SchemaChange): string[] {
    return renderMysqlDdl(change);
  }

  /**
   * The MySQL type of a portable type (the dialect's one mapping table, `MYSQL_TYPE_MAP`).
   *
   * @example
   * dialect.nativeType('timestamptz'); // 'TIMESTAMP(6)'
   */
  nativeType(type: PortableType): string {
    return mysqlNativeType(type);
  }

  /**
   * Quotes an identifier with backticks.
   *
   * @example
   * dialect.quoteIdentifier('order'); // '`order`'
   */
  quoteIdentifier(name: string): string {
    return quoteMysqlIdentifier(name);
  }

  /**
   * A multi-row INSERT writer for `table` (see {@link createMysqlBulkWriter}): statements sized under
   * `max_allowed_packet`, `merge` as `ON DUPLICATE KEY UPDATE`. Each write runs in a savepoint of the
   * caller's transaction (or a transaction of its own), so a failed write leaves none of its rows.
   *
   * @example
   * const writer = await dialect.bulkWriter(conn, 'entries', [{ name: 'id', type: 'bigint' }], { mode: 'merge', key: ['id'] });
   * try { await writer.write([[1], [2]]); } finally { await writer.close(); }
   */
  bulkWriter(
    conn: Connection,
    table: string,
    columns: readonly BulkColumn[],
    options?: BulkWriterOptions,
  ): Promise<BulkWriter> {
    return createMysqlBulkWriter(conn, table, columns, options);
  }

  /**
   * How to SELECT a column so `decodeValue` gets its exact value (see {@link mysqlReadExpression}).
   *
   * @example
   * dialect.readExpression('`at`', 'timestamp'); // "DATE_FORMAT(`at`, '%Y-%m-%dT%H:%i:%s.%f')"
   */
  readExpression(column: string, type: PortableType): string {
    return mysqlReadExpression(column, type);
  }

  /**
   * Nothing to run: InnoDB moves a table's AUTO_INCREMENT past every explicit value written, so the
   * next generated id is already max + 1. (`ALTER TABLE … AUTO_INCREMENT` would also commit the
   * caller's transaction.)
   *
   * @example
   * await dialect.syncAutoIncrement(conn, 'entries', 'id');
   */
  async syncAutoIncrement(conn: Connection, _table: string, _column: string): Promise<void> {
    asMysqlConnection(conn);
  }
}
