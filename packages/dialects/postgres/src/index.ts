/**
 * `@cmpkg/dialect-postgres`: the PostgreSQL dialect of cmpkg, on pg (node-postgres) and Kysely.
 *
 * @example
 * import { PostgresDialect } from '@cmpkg/dialect-postgres';
 * const conn = await new PostgresDialect().connect('postgres://postgres@localhost:5432/app');
 *
 * @packageDocumentation
 */
export {
  POSTGRES_TYPES,
  type PostgresVectorType,
  portableTypeOf,
  postgresCapabilities,
  postgresNativeType,
  postgresSplitterOptions,
  quotePostgresIdentifier,
  VECTOR_COMMENT_PREFIX,
} from './postgres-adapter.js';
export {
  createPostgresBulkWriter,
  type PostgresBulkWriterOptions,
  postgresReadExpression,
  syncPostgresAutoIncrement,
} from './postgres-bulk.js';
export {
  connectFailureReason,
  displayPostgresUrl,
  isPostgresUrl,
  openPostgresConnection,
  PostgresConnection,
  type PostgresConnectionOptions,
  type PostgresServer,
  type PostgresUrl,
  parsePostgresUrl,
} from './postgres-connection.js';
export { type PostgresDdlOptions, renderPostgresDdl } from './postgres-ddl.js';
export { PostgresDialect, type PostgresDialectOptions } from './postgres-dialect.js';
export {
  classifyPostgresError,
  classifySqlState,
  POSTGRES_STATEMENT_TIMEOUT,
  POSTGRES_TRANSACTION_LOST,
  PostgresStatementTimeoutError,
  PostgresTransactionLostError,
} from './postgres-errors.js';
export { introspectPostgres } from './postgres-introspector.js';
export {
  ADVISORY_LOCK_CLASS_ID,
  acquirePostgresLock,
  advisoryLockKey,
  describeLockHolder,
  findPostgresLockHolder,
  type PostgresLockHolder,
} from './postgres-lock.js';
