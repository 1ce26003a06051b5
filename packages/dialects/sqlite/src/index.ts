/**
 * `@cmpkg/dialect-sqlite`: the SQLite dialect of cmpkg, on better-sqlite3.
 *
 * @example
 * import { SqliteDialect } from '@cmpkg/dialect-sqlite';
 * const conn = await new SqliteDialect().connect('sqlite:./app.db');
 *
 * @packageDocumentation
 */
export {
  SQLITE_TYPES,
  sqliteCapabilities,
  sqliteNativeType,
  sqlitePortableType,
  sqliteSplitterOptions,
} from './sqlite-adapter.js';
export { createSqliteBulkWriter, sqliteReadExpression } from './sqlite-bulk.js';
export {
  isSqliteUrl,
  openSqliteConnection,
  parseSqliteUrl,
  SqliteConnection,
  type SqliteConnectionOptions,
  type SqliteLocation,
} from './sqlite-connection.js';
export { quoteSqliteIdentifier, renderSqliteDdl } from './sqlite-ddl.js';
export { type SqliteBackupOptions, SqliteDialect, type SqliteDialectOptions } from './sqlite-dialect.js';
export {
  classifySqliteError,
  SQLITE_STATEMENT_TIMEOUT,
  SqliteStatementTimeoutError,
} from './sqlite-errors.js';
export { introspectSqlite } from './sqlite-introspector.js';
export { acquireSqliteLock, LOCK_TABLE, type SqliteLockHolder, sqliteLockFile } from './sqlite-lock.js';
