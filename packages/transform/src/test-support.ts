import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isCmpkgError } from '@cmpkg/core';
import { SqliteDialect } from '@cmpkg/dialect-sqlite';
import type { DatabaseHandle } from './database-handle.js';

/**
 * A fresh SQLite database file for unit tests, with its handle (tests only; not exported).
 *
 * @example
 * const db = await sqliteDb(); await db.connection.execute('create table t (id integer primary key)');
 */
export async function sqliteDb(
  dir = mkdtempSync(join(tmpdir(), 'cmpkg-transform-')),
): Promise<
  DatabaseHandle & { file: string; dir: string; rows: (sql: string) => Promise<Record<string, unknown>[]> }
> {
  const dialect = new SqliteDialect();
  const file = join(dir, 'test.db');
  const connection = await dialect.connect(`sqlite:${file}`);
  return {
    dialect,
    connection,
    file,
    dir,
    rows: async (sql: string) => (await connection.execute<Record<string, unknown>>(sql)).rows,
  };
}

/**
 * The cmpkg error a promise rejects with (code and message); fails the test if it resolves or
 * rejects with anything else.
 *
 * @example
 * expect((await failureOf(copyDatabase({ from, to, batchSize: 0 }))).code).toBe('E_MAPPING');
 */
export async function failureOf(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await p;
  } catch (err) {
    if (isCmpkgError(err)) return { code: err.code, message: err.message };
    throw err;
  }
  throw new Error('expected a failure');
}
