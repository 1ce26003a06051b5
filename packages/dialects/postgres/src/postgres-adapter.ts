import {
  DEFAULT_SPLITTER_OPTIONS,
  type DialectCapabilities,
  type PortableType,
  type PortableTypeKind,
  parsePortableType,
  type SplitterOptions,
} from '@cmpkg/core';

/**
 * What PostgreSQL can do, as the engine in core sees it.
 *
 * - `transactionalDdl`: PostgreSQL's DDL is transactional, so a whole migration rolls back as one.
 * - `concurrentIndex`: `CREATE INDEX CONCURRENTLY` (outside a transaction).
 * - `statementTimeout`: a running statement is cancelled on the server (`pg_cancel_backend`), so a
 *   runaway statement really stops.
 * - `partialIndexes` / `expressionIndexes`: `CREATE INDEX ... WHERE` and `(lower(email))` key parts.
 *
 * @example
 * import { postgresCapabilities } from '@cmpkg/dialect-postgres';
 * if (postgresCapabilities.concurrentIndex) console.log('indexes can be built online');
 */
export const postgresCapabilities: Readonly<DialectCapabilities> = Object.freeze({
  transactionalDdl: true,
  concurrentIndex: true,
  returning: true,
  savepoints: true,
  statementTimeout: true,
  partialIndexes: true,
  expressionIndexes: true,
});

/**
 * The hooks PostgreSQL's SQL needs from core's statement splitter: `$tag$ ... $tag$` strings (function
 * bodies) and nested block comments, on top of ANSI quoting and `BEGIN ... END` bodies (`BEGIN ATOMIC`).
 *
 * @example
 * import { splitStatements } from '@cmpkg/core';
 * import { postgresSplitterOptions } from '@cmpkg/dialect-postgres';
 * splitStatements('create function f() returns int as $$ select 1; $$ language sql; select f();', postgresSplitterOptions);
 */
export const postgresSplitterOptions: Readonly<SplitterOptions> = Object.freeze({
  ...DEFAULT_SPLITTER_OPTIONS,
  dollarQuotes: true,
  nestedBlockComments: true,
});

/**
 * How vector columns are stored: `'array'` (default) needs nothing installed — a `REAL[]` column marked
 * with a `cmpkg:vector(n)` column comment; `'pgvector'` uses the pgvector extension's `VECTOR(n)`.
 *
 * @example
 * const vectorType: PostgresVectorType = 'pgvector';
 */
export type PostgresVectorType = 'array' | 'pgvector';

/**
 * The one mapping table of the dialect: portable type kind -> PostgreSQL type. `n`, `p` and `s` stand for
 * the portable type's length, precision/scale and dimensions. `vector` is the `'array'` storage; with
 * `vectorType: 'pgvector'` it is `VECTOR(n)` (see {@link postgresNativeType}).
 *
 * @example
 * import { POSTGRES_TYPES } from '@cmpkg/dialect-postgres';
 * POSTGRES_TYPES.json; // 'JSONB'
 */
export const POSTGRES_TYPES: Readonly<Record<PortableTypeKind, string>> = Object.freeze({
  uuid: 'UUID',
  text: 'TEXT',
  varchar: 'VARCHAR(n)',
  integer: 'INTEGER',
  bigint: 'BIGINT',
  smallint: 'SMALLINT',
  boolean: 'BOOLEAN',
  real: 'REAL',
  double: 'DOUBLE PRECISION',
  decimal: 'NUMERIC(p,s)',
  date: 'DATE',
  timestamp: 'TIMESTAMP',
  timestamptz: 'TIMESTAMPTZ',
  json: 'JSONB',
  blob: 'BYTEA',
  vector: 'REAL[]',
});

/**
 * The column comment that marks a `REAL[]` column as a portable `vector(n)`: `cmpkg:vector(3)`.
 *
 * @example
 * `COMMENT ON COLUMN "t"."c" IS '${VECTOR_COMMENT_PREFIX}(3)'`;
 */
export const VECTOR_COMMENT_PREFIX = 'cmpkg:vector';

/**
 * The PostgreSQL type of a portable type, from {@link POSTGRES_TYPES}. Throws core's `UsageError` for
 * anything that is not a portable type.
 *
 * @example
 * postgresNativeType('varchar(200)'); // 'VARCHAR(200)'
 * postgresNativeType('vector(3)'); // 'REAL[]'
 * postgresNativeType('vector(3)', 'pgvector'); // 'VECTOR(3)'
 */
export function postgresNativeType(type: PortableType, vectorType: PostgresVectorType = 'array'): string {
  const t = parsePortableType(type);
  switch (t.kind) {
    case 'varchar':
      return `VARCHAR(${t.length})`;
    case 'decimal':
      return `NUMERIC(${t.precision},${t.scale})`;
    case 'vector':
      return vectorType === 'pgvector' ? `VECTOR(${t.dimensions})` : POSTGRES_TYPES.vector;
    default:
      return POSTGRES_TYPES[t.kind];
  }
}

/**
 * The portable type of a PostgreSQL type as `format_type()` spells it, or `null` when there is none
 * (the reverse of {@link POSTGRES_TYPES}). `REAL[]` vectors need their column comment, so they are
 * recognised by the introspector, not here.
 *
 * @example
 * portableTypeOf('character varying(20)'); // 'varchar(20)'
 * portableTypeOf('timestamp with time zone'); // 'timestamptz'
 * portableTypeOf('money'); // null
 */
export function portableTypeOf(formatted: string): PortableType | null {
  const t = formatted.trim().toLowerCase();
  const simple = REVERSE.get(t);
  if (simple !== undefined) return simple;
  let m = /^character varying\((\d+)\)$/.exec(t);
  if (m) return `varchar(${Number(m[1])})`;
  m = /^numeric\((\d+),(\d+)\)$/.exec(t);
  if (m) return `decimal(${Number(m[1])},${Number(m[2])})`;
  m = /^vector\((\d+)\)$/.exec(t);
  if (m) return `vector(${Number(m[1])})`;
  return null;
}

/** A Map, not an object: a type named `constructor` must not find `Object.prototype` members. */
const REVERSE: ReadonlyMap<string, PortableType> = new Map<string, PortableType>([
  ['uuid', 'uuid'],
  ['text', 'text'],
  ['integer', 'integer'],
  ['bigint', 'bigint'],
  ['smallint', 'smallint'],
  ['boolean', 'boolean'],
  ['real', 'real'],
  ['double precision', 'double'],
  ['date', 'date'],
  ['timestamp without time zone', 'timestamp'],
  ['timestamp with time zone', 'timestamptz'],
  // json has no portable twin of its own: both read back as the portable json (rendered JSONB).
  ['jsonb', 'json'],
  ['json', 'json'],
  ['bytea', 'blob'],
]);

/**
 * Quotes an identifier for PostgreSQL, doubling any `"` inside it.
 *
 * @example
 * quotePostgresIdentifier('order items'); // '"order items"'
 */
export function quotePostgresIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
