import { DEFAULT_SPLITTER_OPTIONS, type DialectCapabilities, type SplitterOptions } from '@cmpkg/core';

/**
 * What SQLite can do, as the engine in core sees it.
 *
 * - `transactionalDdl`: SQLite's DDL is ordinary writes to `sqlite_master`, so a whole migration can run
 *   in one transaction and roll back cleanly.
 * - `savepoints` / `returning`: native since 3.6.8 / 3.35 (better-sqlite3 12 bundles a far newer SQLite).
 * - `concurrentIndex`: there is only one writer at a time; `CREATE INDEX` always blocks writers.
 * - `statementTimeout`: better-sqlite3 is synchronous and exposes no `sqlite3_interrupt`, so a running
 *   statement cannot be cancelled; `execute` can only notice an overrun once the statement returns.
 *
 * @example
 * import { sqliteCapabilities } from '@cmpkg/dialect-sqlite';
 * if (!sqliteCapabilities.statementTimeout) console.warn('timeouts are checked after the fact');
 */
export const sqliteCapabilities: Readonly<DialectCapabilities> = Object.freeze({
  transactionalDdl: true,
  concurrentIndex: false,
  returning: true,
  savepoints: true,
  statementTimeout: false,
  partialIndexes: true,
  expressionIndexes: true,
});

/**
 * The hooks SQLite's SQL needs from core's statement splitter: `` `name` `` and `[name]` identifiers
 * (both accepted by SQLite for compatibility) and `CREATE TRIGGER ... BEGIN ... END` bodies. SQLite has
 * no dollar quotes, no backslash escapes in strings, no `#` comments and no nested block comments.
 *
 * @example
 * import { splitStatements } from '@cmpkg/core';
 * import { sqliteSplitterOptions } from '@cmpkg/dialect-sqlite';
 * splitStatements('create table [a] (x); select 1;', sqliteSplitterOptions);
 */
export const sqliteSplitterOptions: Readonly<SplitterOptions> = Object.freeze({
  ...DEFAULT_SPLITTER_OPTIONS,
  // SQLite accepts MySQL's and MSSQL's identifier quotes too.
  backtickIdentifiers: true,
  bracketIdentifiers: true,
});
