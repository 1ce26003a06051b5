import type { BulkColumn } from '@cmpkg/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createSqliteBulkWriter, sqliteReadExpression } from './sqlite-bulk.js';
import { openSqliteConnection, type SqliteConnection } from './sqlite-connection.js';

const COLUMNS: BulkColumn[] = [
  { name: 'id', type: 'integer' },
  { name: 'name', type: 'text' },
  { name: 'flag', type: 'boolean' },
  { name: 'data', type: 'blob' },
  { name: 'big', type: 'bigint' },
];

let conn: SqliteConnection;

beforeEach(async () => {
  conn = await openSqliteConnection('sqlite::memory:', { busyTimeoutMs: 0 });
  await conn.execute(
    'CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL, flag BOOLEAN, data BLOB, big BIGINT)',
  );
});

afterEach(async () => {
  await conn.close();
});

const rowsOf = async () => (await conn.execute('SELECT id, name, flag, data, big FROM t ORDER BY id')).rows;

describe('createSqliteBulkWriter', () => {
  it('inserts rows, binding booleans as 1/0 and bytes as blobs', async () => {
    const writer = await createSqliteBulkWriter(conn, 't', COLUMNS);
    await expect(
      writer.write([
        [1, 'a', true, Uint8Array.from([0, 255]), 2n ** 62n],
        [2, 'b', false, null, null],
      ]),
    ).resolves.toBe(2);
    await writer.close();
    const rows = await rowsOf();
    expect(rows.map((r) => [r.id, r.name, r.flag])).toEqual([
      [1, 'a', 1],
      [2, 'b', 0],
    ]);
    expect(Buffer.from(rows[0]!.data as Uint8Array)).toEqual(Buffer.from([0, 255]));
    expect(rows[1]!.data).toBeNull();
    const { rows: big } = await conn.execute(
      `SELECT ${sqliteReadExpression('big', 'bigint')} AS v FROM t WHERE id = 1`,
    );
    expect(big[0]!.v).toBe(String(2n ** 62n));
  });

  it('a failed write leaves none of its rows and the surrounding transaction usable', async () => {
    const writer = await createSqliteBulkWriter(conn, 't', COLUMNS);
    await conn.execute('BEGIN');
    await writer.write([[1, 'a', null, null, null]]);
    await expect(
      writer.write([
        [2, 'b', null, null, null],
        [1, 'dup', null, null, null],
      ]),
    ).rejects.toThrow(/UNIQUE|PRIMARY KEY/i);
    await expect(writer.write([[3, null, null, null, null]])).rejects.toThrow(/NOT NULL/);
    await writer.write([[4, 'd', null, null, null]]);
    await conn.execute('COMMIT');
    expect((await rowsOf()).map((r) => r.id)).toEqual([1, 4]);
  });

  it('merge upserts on the key; the last row of a key given twice wins', async () => {
    const writer = await createSqliteBulkWriter(conn, 't', COLUMNS.slice(0, 2));
    await writer.write([
      [1, 'one'],
      [2, 'two'],
    ]);
    const merge = await createSqliteBulkWriter(conn, 't', COLUMNS.slice(0, 2), {
      mode: 'merge',
      key: ['id'],
    });
    await merge.write([
      [2, 'TWO'],
      [3, 'three'],
      [3, 'THREE'],
    ]);
    expect((await rowsOf()).map((r) => [r.id, r.name])).toEqual([
      [1, 'one'],
      [2, 'TWO'],
      [3, 'THREE'],
    ]);
  });

  it('refuses merge without a key, no columns, and writes after close', async () => {
    await expect(createSqliteBulkWriter(conn, 't', COLUMNS, { mode: 'merge' })).rejects.toThrow(
      /a key is required/,
    );
    await expect(createSqliteBulkWriter(conn, 't', [])).rejects.toThrow(/no columns/);
    const writer = await createSqliteBulkWriter(conn, 't', COLUMNS);
    await writer.close();
    await writer.close();
    await expect(writer.write([[1, 'a', null, null, null]])).rejects.toThrow(/closed/);
    expect(await rowsOf()).toEqual([]);
  });

  it('an empty batch writes nothing', async () => {
    const writer = await createSqliteBulkWriter(conn, 't', COLUMNS);
    await expect(writer.write([])).resolves.toBe(0);
    expect(await rowsOf()).toEqual([]);
  });
});

describe('sqliteReadExpression', () => {
  it('casts only INTEGER-stored bigints to text and reads other types as they are', () => {
    expect(sqliteReadExpression('"b"', 'bigint')).toBe(
      `CASE typeof("b") WHEN 'integer' THEN CAST("b" AS TEXT) ELSE "b" END`,
    );
    expect(sqliteReadExpression('"t"', 'timestamptz')).toBe('"t"');
    expect(sqliteReadExpression('"n"', 'decimal(10,2)')).toBe('"n"');
  });
});
