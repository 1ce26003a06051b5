/**
 * `@cmpkg/dialect-mysql`: the MySQL 8 / MariaDB 10.11+ dialect of cmpkg, on mysql2.
 *
 * @example
 * import { MysqlDialect } from '@cmpkg/dialect-mysql';
 * const conn = await new MysqlDialect().connect('mysql://root@127.0.0.1:3306/app');
 *
 * @packageDocumentation
 */
export {
  MYSQL_TYPE_MAP,
  type MysqlColumnType,
  mysqlCapabilities,
  mysqlNativeType,
  mysqlPortableType,
  mysqlSplitterOptions,
  quoteMysqlIdentifier,
  VECTOR_COMMENT_PREFIX,
  vectorComment,
} from './mysql-adapter.js';
export { createMysqlBulkWriter, mysqlReadExpression } from './mysql-bulk.js';
export {
  displayMysqlUrl,
  isMysqlUrl,
  MysqlConnection,
  type MysqlConnectionOptions,
  type MysqlReadOnlyGuard,
  type MysqlServerInfo,
  type MysqlUrl,
  openMysqlConnection,
  parseMysqlUrl,
  readOnlyRefusal,
} from './mysql-connection.js';
export {
  type MysqlColumnDefinition,
  type MysqlDdlOptions,
  type MysqlFlavor,
  type MysqlIndexPart,
  mysqlStringLiteral,
  renderMysqlDdl,
  renderMysqlDefault,
} from './mysql-ddl.js';
export { MysqlDialect, type MysqlDialectOptions } from './mysql-dialect.js';
export {
  classifyMysqlError,
  describeConnectError,
  MYSQL_STATEMENT_TIMEOUT,
  MysqlReadOnlyError,
  MysqlStatementTimeoutError,
} from './mysql-errors.js';
export {
  type DefaultContext,
  introspectMysql,
  portableMysqlDefault,
  stripDefiner,
  stripSchemaQualifier,
} from './mysql-introspector.js';
export { acquireMysqlLock, LOCK_TABLE, type MysqlLockHolder, mysqlLockName } from './mysql-lock.js';
