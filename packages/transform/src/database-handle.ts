import type { Connection, Dialect, Engine, PortableType, PortableValue } from '@cmpkg/core';
import { parsePortableType, sqlDateTime } from '@cmpkg/core';

/**
 * An open connection and the dialect that speaks to it: what every reader, writer and transform of
 * this package is given (the package imports no dialect of its own).
 *
 * @example
 * const dialect = new SqliteDialect();
 * const db: DatabaseHandle = { dialect, connection: await dialect.connect('sqlite:./app.db') };
 */
export interface DatabaseHandle {
  dialect: Dialect;
  connection: Connection;
}

/**
 * The `n`-th (1-based) parameter placeholder of an engine: `$n` on PostgreSQL, `?` elsewhere.
 *
 * @example
 * placeholder('postgresql', 2); // '$2'
 * placeholder('mysql', 2); // '?'
 */
export function placeholder(engine: Engine, n: number): string {
  return engine === 'postgresql' ? `$${n}` : '?';
}

const TIME_KINDS = new Set(['date', 'timestamp', 'timestamptz']);

/**
 * A {@link PortableValue} as a statement parameter for `engine`: drivers differ in what they bind.
 * 64-bit integers go as text to the servers (exact, and cast by the server to the column's type),
 * and MySQL gets its own spelling of times (it takes neither `T` nor a zone).
 *
 * @example
 * sqlParam('mysql', '2024-05-01T10:00:00Z', 'timestamptz'); // '2024-05-01 10:00:00'
 * sqlParam('postgresql', 9007199254740993n); // '9007199254740993'
 */
export function sqlParam(engine: Engine, value: PortableValue, type?: PortableType): unknown {
  if (typeof value === 'bigint') return engine === 'sqlite' ? value : value.toString();
  if (value instanceof Uint8Array && !Buffer.isBuffer(value)) {
    return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  }
  if (
    engine === 'mysql' &&
    typeof value === 'string' &&
    type !== undefined &&
    TIME_KINDS.has(parsePortableType(type).kind)
  ) {
    return sqlDateTime(value);
  }
  return value;
}
