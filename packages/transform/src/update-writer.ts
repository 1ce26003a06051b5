import type { BulkColumn, BulkWriter, PortableValue } from '@cmpkg/core';
import { atomically, DataTransferError } from '@cmpkg/core';
import { type DatabaseHandle, placeholder, sqlParam } from './database-handle.js';

let savepoints = 0;

/**
 * A {@link BulkWriter} that updates existing rows by key (`enrich` in place): one prepared
 * `UPDATE t SET … WHERE key = …` per row, each `write` in a savepoint like the dialects' writers.
 * `columns` holds every value of a row, the key columns among them. An upsert cannot do this: a
 * row's NOT NULL columns that the mapping leaves out would fail the INSERT half first.
 *
 * @example
 * const w = createUpdateWriter(db, 'users', [{ name: 'id', type: 'bigint' }, { name: 'score', type: 'integer' }], ['id']);
 * await w.write([[1, 10], [2, 20]]);
 */
export function createUpdateWriter(
  db: DatabaseHandle,
  table: string,
  columns: readonly BulkColumn[],
  key: readonly string[],
): BulkWriter {
  const { dialect, connection } = db;
  const engine = dialect.engine;
  const q = (n: string) => dialect.quoteIdentifier(n);
  const keyIdx = key.map((k) => columns.findIndex((c) => c.name === k));
  if (key.length === 0 || keyIdx.some((i) => i < 0)) {
    throw new DataTransferError(
      'E_MAPPING',
      `update of ${table}: the key (${key.join(', ')}) must be among the written columns`,
    );
  }
  const setIdx = columns.map((_, i) => i).filter((i) => !keyIdx.includes(i));
  if (setIdx.length === 0)
    throw new DataTransferError('E_MAPPING', `update of ${table}: no column to set besides the key`);
  let n = 0;
  const sets = setIdx.map((i) => `${q(columns[i]!.name)} = ${placeholder(engine, ++n)}`);
  const where = keyIdx.map((i) => `${q(columns[i]!.name)} = ${placeholder(engine, ++n)}`);
  const sql = `UPDATE ${q(table)} SET ${sets.join(', ')} WHERE ${where.join(' AND ')}`;
  const order = [...setIdx, ...keyIdx];
  const savepoint = `cmpkg_update_${++savepoints}`;
  return {
    async write(rows: readonly (readonly PortableValue[])[]): Promise<number> {
      if (rows.length === 0) return 0;
      await atomically(connection, savepoint, async () => {
        for (const row of rows) {
          await connection.execute(
            sql,
            order.map((i) => sqlParam(engine, row[i] ?? null, columns[i]!.type)),
          );
        }
      });
      return rows.length;
    },
    async close() {},
  };
}
