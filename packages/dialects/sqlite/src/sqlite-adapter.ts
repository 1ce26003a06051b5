import {
  DEFAULT_SPLITTER_OPTIONS,
  type DialectCapabilities,
  formatPortableType,
  type PortableType,
  type PortableTypeKind,
  parsePortableType,
  type SplitterOptions,
} from '@cmpkg/core';

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

/**
 * SQLite's one mapping table: the declared type `renderDdl` writes for each portable type (`n`, `p`
 * and `s` stand for the type's parameters).
 *
 * SQLite keeps a declared type verbatim and derives only a storage *affinity* from it, so the table
 * keeps the portable name: introspection reads the exact portable type back, and the affinity rules
 * (a name containing `INT` -> INTEGER, `CHAR`/`TEXT` -> TEXT, `REAL`/`DOUB` -> REAL, `BLOB` -> BLOB,
 * anything else -> NUMERIC) store the values the way cmpkg's design asks: uuid, dates and timestamps as
 * text, booleans as 0/1, json as text. See the README for the caveats of NUMERIC affinity.
 *
 * @example
 * import { SQLITE_TYPES } from '@cmpkg/dialect-sqlite';
 * SQLITE_TYPES.varchar; // 'VARCHAR(n)'
 * SQLITE_TYPES.json; // 'JSON'
 */
export const SQLITE_TYPES: Readonly<Record<PortableTypeKind, string>> = Object.freeze({
  uuid: 'UUID',
  text: 'TEXT',
  varchar: 'VARCHAR(n)',
  integer: 'INTEGER',
  bigint: 'BIGINT',
  smallint: 'SMALLINT',
  boolean: 'BOOLEAN',
  real: 'FLOAT',
  double: 'DOUBLE',
  decimal: 'DECIMAL(p,s)',
  date: 'DATE',
  timestamp: 'TIMESTAMP',
  timestamptz: 'TIMESTAMPTZ',
  json: 'JSON',
  blob: 'BLOB',
  vector: 'VECTOR(n)',
});

/**
 * The declared SQLite type for a portable type, from {@link SQLITE_TYPES}. Accepts any spelling
 * `parsePortableType` accepts; anything else throws core's `UsageError`.
 *
 * @example
 * sqliteNativeType('decimal(10,2)'); // 'DECIMAL(10,2)'
 * sqliteNativeType('vector(3)'); // 'VECTOR(3)'
 */
export function sqliteNativeType(type: PortableType): string {
  const parsed = parsePortableType(type);
  return SQLITE_TYPES[parsed.kind]
    .replace('(n)', `(${parsed.length ?? parsed.dimensions})`)
    .replace('(p,s)', `(${parsed.precision},${parsed.scale})`);
}

/** Foreign spellings without parameters (declared types are compared upper-cased, spaces collapsed). */
const SQLITE_TYPE_ALIASES: Readonly<Record<string, PortableType>> = Object.freeze({
  INT: 'integer',
  BOOL: 'boolean',
  'TINYINT(1)': 'boolean',
  CLOB: 'text',
  FLOAT: 'real',
  // SQLite's REAL is an 8-byte float: a hand-written `REAL` column holds doubles.
  REAL: 'double',
  'DOUBLE PRECISION': 'double',
  DATETIME: 'timestamp',
});

/**
 * The portable type of a declared SQLite column type, or `null` when it has none (the snapshot then
 * keeps the declared type in `nativeType`). Accepts the portable names in any letter case and common
 * spellings of other engines: `INT`, `TINYINT(1)`/`BOOL`, `CHARACTER VARYING(n)`/`NVARCHAR(n)`, `CLOB`,
 * `FLOAT`, `DOUBLE PRECISION`, `NUMERIC(p,s)`, `DATETIME`. An empty declared type is `null`.
 *
 * @example
 * sqlitePortableType('NVARCHAR(40)'); // 'varchar(40)'
 * sqlitePortableType('numeric(8, 3)'); // 'decimal(8,3)'
 * sqlitePortableType('MEDIUMINT'); // null
 */
export function sqlitePortableType(declared: string): PortableType | null {
  const t = declared
    .trim()
    .toUpperCase()
    .replace(/\s+/g, ' ')
    .replace(/ ?([(),]) ?/g, '$1');
  if (t === '') return null;
  const alias = SQLITE_TYPE_ALIASES[t];
  if (alias) return alias;
  const varchar = /^(?:CHARACTER VARYING|NVARCHAR)\((\d+)\)$/.exec(t);
  const decimal = /^(?:NUMERIC|DECIMAL)\((\d+)(?:,(\d+))?\)$/.exec(t);
  const candidate = varchar
    ? `varchar(${varchar[1]})`
    : decimal
      ? `decimal(${decimal[1]},${decimal[2] ?? 0})`
      : t;
  try {
    return formatPortableType(parsePortableType(candidate));
  } catch {
    // Not portable (or out of range, like VARCHAR(0)): the snapshot keeps the declared type.
    return null;
  }
}
