import type {
  BulkColumn,
  BulkWriter,
  BulkWriterOptions,
  Connection,
  PortableType,
  PortableValue,
} from '@cmpkg/core';
import { atomically, parsePortableType, UsageError } from '@cmpkg/core';
import { asSqliteConnection } from './sqlite-connection.js';
import { quoteSqliteIdentifier } from './sqlite-ddl.js';

type SqliteBound = null | string | number | bigint | Buffer;

function toBound(value: PortableValue): SqliteBound {
  if (value === null) return null;
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (value instanceof Uint8Array) {
    return Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  }
  return value;
}

let savepoints = 0;

/**
 * SQLite's bulk writer: one prepared `INSERT` (or `INSERT … ON CONFLICT DO UPDATE` for `merge`)
 * run once per row, each `write` atomic (core `atomically`) so a failing row leaves none of its batch.
 *
 * @example
 * const writer = await createSqliteBulkWriter(conn, 'entries', [{ name: 'id', type: 'integer' }]);
 * await writer.write([[1], [2]]);
 * await writer.close();
 */
export async function createSqliteBulkWriter(
  connection: Connection,
  table: string,
  columns: readonly BulkColumn[],
  options: BulkWriterOptions = {},
): Promise<BulkWriter> {
  const conn = asSqliteConnection(connection);
  if (columns.length === 0) throw new UsageError(`bulk write into ${table}: no columns`);
  const q = quoteSqliteIdentifier;
  let sql = `INSERT INTO ${q(table)} (${columns.map((c) => q(c.name)).join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`;
  if (options.mode === 'merge') {
    const key = options.key ?? [];
    if (key.length === 0) throw new UsageError(`bulk merge into ${table}: a key is required`);
    const rest = columns.filter((c) => !key.includes(c.name));
    sql += ` ON CONFLICT (${key.map(q).join(', ')}) DO ${
      rest.length === 0
        ? 'NOTHING'
        : `UPDATE SET ${rest.map((c) => `${q(c.name)} = excluded.${q(c.name)}`).join(', ')}`
    }`;
  }
  const insert = conn.handle.prepare(sql);
  const name = `cmpkg_bulk_${++savepoints}`;
  const width = columns.length;
  let closed = false;
  return {
    async write(rows) {
      if (closed) throw new UsageError(`bulk write into ${table}: the writer is closed`);
      if (rows.length === 0) return 0;
      const bound: SqliteBound[] = new Array(width);
      await atomically(conn, name, async () => {
        for (const row of rows) {
          for (let i = 0; i < width; i++) bound[i] = toBound(row[i] ?? null);
          insert.run(bound);
        }
      });
      return rows.length;
    },
    async close() {
      closed = true;
    },
  };
}

/**
 * SQLite keeps what it was given, so only 64-bit integers need help: better-sqlite3 reads them as
 * doubles, and beyond 2^53 the text cast keeps every digit.
 *
 * @example
 * sqliteReadExpression('"id"', 'bigint'); // 'CAST("id" AS TEXT)'
 */
export function sqliteReadExpression(column: string, type: PortableType): string {
  const kind = parsePortableType(type).kind;
  // typeof() guard: only INTEGER storage is cast; a REAL or TEXT left in the column is read as is.
  if (kind === 'bigint')
    return `CASE typeof(${column}) WHEN 'integer' THEN CAST(${column} AS TEXT) ELSE ${column} END`;
  return column;
}
