import {
  DEFAULT_SPLITTER_OPTIONS,
  type DialectCapabilities,
  type PortableType,
  type PortableTypeKind,
  parsePortableType,
  type SplitterOptions,
} from '@cmpkg/core';

/**
 * What MySQL 8 and MariaDB 10.11+ can do, as the engine in core sees it.
 *
 * - `transactionalDdl: false`: every DDL statement commits implicitly, so a migration cannot be rolled
 *   back as a whole. The engine then runs each migration step by step and journals every finished
 *   step, so a failed run resumes at the failed step (see the README).
 * - `concurrentIndex: true`: InnoDB builds indexes online (`ALGORITHM=INPLACE, LOCK=NONE`).
 * - `returning: false`: MariaDB has `INSERT ... RETURNING`, MySQL 8 does not.
 * - `statementTimeout: true`: a statement over its timeout is stopped with `KILL QUERY`.
 * - `partialIndexes: false`: neither server has `CREATE INDEX ... WHERE`.
 * - `expressionIndexes: false`: MariaDB has none. MySQL 8 has functional key parts; they are
 *   introspected and rendered there (`((expr))`), but a portable schema cannot rely on them.
 *
 * @example
 * import { mysqlCapabilities } from '@cmpkg/dialect-mysql';
 * if (!mysqlCapabilities.transactionalDdl) console.log('migrations run step by step');
 */
export const mysqlCapabilities: Readonly<DialectCapabilities> = Object.freeze({
  transactionalDdl: false,
  concurrentIndex: true,
  returning: false,
  savepoints: true,
  statementTimeout: true,
  partialIndexes: false,
  expressionIndexes: false,
});

/**
 * The hooks MySQL's SQL needs from core's statement splitter: backslash escapes in strings,
 * `` `name` `` identifiers and `# comments`. `CREATE TRIGGER/PROCEDURE/FUNCTION ... BEGIN ... END`
 * bodies stay one statement, so scripts need no `DELIMITER` (which is a mysql client command, not SQL).
 *
 * @example
 * import { splitStatements } from '@cmpkg/core';
 * import { mysqlSplitterOptions } from '@cmpkg/dialect-mysql';
 * splitStatements("insert into t values ('it\\'s; fine'); # done\nselect 1;", mysqlSplitterOptions);
 */
export const mysqlSplitterOptions: Readonly<SplitterOptions> = Object.freeze({
  ...DEFAULT_SPLITTER_OPTIONS,
  backslashEscapes: true,
  backtickIdentifiers: true,
  hashComments: true,
});

/**
 * The one mapping table from portable column types to MySQL / MariaDB types. `n`, `p` and `s` stand
 * for the portable type's parameters.
 *
 * - `timestamptz` is `TIMESTAMP(6)`: stored as UTC and converted from and to the session time zone,
 *   which the dialect sets to `+00:00`. Its range is 1970-01-01 00:00:01 to 2038-01-19 03:14:07 UTC;
 *   use `timestamp` (`DATETIME(6)`, years 1000 to 9999, no time zone) for dates outside it.
 * - `json` is `JSON`; on MariaDB that is an alias of `LONGTEXT` with an implicit `json_valid` check.
 * - `vector(n)` is a JSON array in a `JSON` column marked with the column comment `cmpkg:vector(n)`,
 *   which introspection reads back.
 *
 * @example
 * import { MYSQL_TYPE_MAP } from '@cmpkg/dialect-mysql';
 * MYSQL_TYPE_MAP.timestamptz; // 'TIMESTAMP(6)'
 */
export const MYSQL_TYPE_MAP: Readonly<Record<PortableTypeKind, string>> = Object.freeze({
  uuid: 'CHAR(36)',
  text: 'LONGTEXT',
  varchar: 'VARCHAR(n)',
  integer: 'INT',
  bigint: 'BIGINT',
  smallint: 'SMALLINT',
  boolean: 'TINYINT(1)',
  real: 'FLOAT',
  double: 'DOUBLE',
  decimal: 'DECIMAL(p,s)',
  date: 'DATE',
  timestamp: 'DATETIME(6)',
  timestamptz: 'TIMESTAMP(6)',
  json: 'JSON',
  blob: 'LONGBLOB',
  vector: 'JSON',
});

/**
 * The column comment that marks a `JSON` column as a portable `vector(n)`: `cmpkg:vector(3)`.
 *
 * @example
 * const marker = `${VECTOR_COMMENT_PREFIX}(3)`; // 'cmpkg:vector(3)'
 */
export const VECTOR_COMMENT_PREFIX = 'cmpkg:vector';

/**
 * The MySQL type of a portable type, through {@link MYSQL_TYPE_MAP}. Throws core's `UsageError` for
 * anything that is not a portable type.
 *
 * @example
 * mysqlNativeType('varchar(200)'); // 'VARCHAR(200)'
 * mysqlNativeType('decimal(10,2)'); // 'DECIMAL(10,2)'
 */
export function mysqlNativeType(type: PortableType): string {
  const parsed = parsePortableType(type);
  const template = MYSQL_TYPE_MAP[parsed.kind];
  switch (parsed.kind) {
    case 'varchar':
      return template.replace('n', String(parsed.length));
    case 'decimal':
      return template.replace('p', String(parsed.precision)).replace('s', String(parsed.scale));
    default:
      return template;
  }
}

/**
 * The `COMMENT` marker of a `vector(n)` column (`cmpkg:vector(3)`), or `undefined` for other types.
 *
 * @example
 * vectorComment('vector(3)'); // 'cmpkg:vector(3)'
 */
export function vectorComment(type: PortableType): string | undefined {
  const parsed = parsePortableType(type);
  return parsed.kind === 'vector' ? `${VECTOR_COMMENT_PREFIX}(${parsed.dimensions})` : undefined;
}

/**
 * What introspection knows about a column's type. `dataType` and `columnType` are
 * `information_schema.COLUMNS.DATA_TYPE` / `COLUMN_TYPE`.
 *
 * @example
 * const c: MysqlColumnType = { dataType: 'longtext', columnType: 'longtext', jsonCheck: true };
 */
export interface MysqlColumnType {
  dataType: string;
  columnType: string;
  /** MariaDB: the column carries the implicit `json_valid` check of a `JSON` column. */
  jsonCheck?: boolean;
  comment?: string;
}

/**
 * The reverse of {@link MYSQL_TYPE_MAP}: the portable type of an introspected column, or `null` when
 * there is none (unsigned and zerofill integers, enums, `tinyint(4)`, `char(10)`, ...). `vectorMarker` is
 * true when the column comment was consumed as the `vector(n)` marker.
 *
 * @example
 * mysqlPortableType({ dataType: 'tinyint', columnType: 'tinyint(1)' }); // { type: 'boolean', vectorMarker: false }
 * mysqlPortableType({ dataType: 'int', columnType: 'int(10) unsigned' }); // { type: null, vectorMarker: false }
 */
export function mysqlPortableType(column: MysqlColumnType): {
  type: PortableType | null;
  vectorMarker: boolean;
} {
  const dataType = column.dataType.toLowerCase();
  const columnType = column.columnType.toLowerCase().trim();
  const plain = (type: PortableType | null) => ({ type, vectorMarker: false });
  if (/\b(unsigned|zerofill)\b/.test(columnType)) return plain(null);
  const isJson = dataType === 'json' || (column.jsonCheck === true && /^(long|medium)?text$/.test(dataType));
  if (isJson) {
    const marker = new RegExp(`^${VECTOR_COMMENT_PREFIX}\\((\\d+)\\)$`).exec(column.comment ?? '');
    return marker
      ? { type: `vector(${Number(marker[1])})`, vectorMarker: true }
      : { type: 'json', vectorMarker: false };
  }
  switch (dataType) {
    case 'char':
      return plain(columnType === 'char(36)' ? 'uuid' : null);
    case 'varchar': {
      const m = /^varchar\((\d+)\)$/.exec(columnType);
      return plain(m ? `varchar(${Number(m[1])})` : null);
    }
    case 'text':
    case 'mediumtext':
    case 'longtext':
      return plain('text');
    case 'int':
      return plain(/^int(\(\d+\))?$/.test(columnType) ? 'integer' : null);
    case 'bigint':
      return plain(/^bigint(\(\d+\))?$/.test(columnType) ? 'bigint' : null);
    case 'smallint':
      return plain(/^smallint(\(\d+\))?$/.test(columnType) ? 'smallint' : null);
    case 'tinyint':
      return plain(columnType === 'tinyint(1)' ? 'boolean' : null);
    case 'float':
      return plain(columnType === 'float' ? 'real' : null);
    case 'double':
      return plain(columnType === 'double' ? 'double' : null);
    case 'decimal': {
      const m = /^decimal\((\d+),(\d+)\)$/.exec(columnType);
      return plain(m ? `decimal(${Number(m[1])},${Number(m[2])})` : null);
    }
    case 'date':
      return plain('date');
    case 'datetime':
      return plain('timestamp');
    case 'timestamp':
      return plain('timestamptz');
    case 'blob':
    case 'mediumblob':
    case 'longblob':
      return plain('blob');
    default:
      return plain(null);
  }
}

/**
 * Quotes an identifier with backticks, doubling any backtick inside it. Backticks work whatever the
 * server's `sql_mode` (double quotes are identifiers only under `ANSI_QUOTES`).
 *
 * @example
 * quoteMysqlIdentifier('order'); // '`order`'
 * quoteMysqlIdentifier('a`b'); // '`a``b`'
 */
export function quoteMysqlIdentifier(name: string): string {
  return `\`${name.replace(/`/g, '``')}\``;
}
