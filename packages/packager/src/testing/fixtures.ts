import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { type Connection, isCmpkgError, loadPlugin, type Plugin } from '@cmpkg/core';
import { SqliteDialect } from '@cmpkg/dialect-sqlite';
import { afterAll } from 'vitest';

/**
 * Shared fixtures of the packager's unit tests (tests only; not exported by the package).
 */

/**
 * The sample plugin's migrations directory.
 *
 * @example
 * await loadPlugin({ dir: SAMPLE_MIGRATIONS, id: 'sample' });
 */
export const SAMPLE_MIGRATIONS = resolve(
  import.meta.dirname,
  '../../../../examples/sample-plugin/migrations',
);

/**
 * The sample plugin, loaded from disk (file order), with a name and description.
 *
 * @example
 * const plugin = await samplePlugin('1.0.0');
 */
export async function samplePlugin(version = '1.1.0'): Promise<Plugin> {
  return loadPlugin({
    dir: SAMPLE_MIGRATIONS,
    id: 'sample',
    version,
    name: 'Sample',
    description: 'The sample plugin',
  });
}

const created: string[] = [];
// Registered on the importing test file: its temporary directories go when its tests are done.
afterAll(() => {
  for (const dir of created.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/**
 * A fresh temporary directory for one test, removed after the test file.
 *
 * @example
 * const dir = tempDir();
 */
export function tempDir(prefix = 'cmpkg-packager-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  created.push(dir);
  return dir;
}

/**
 * A SQLite database with an `entries` table (`rows` rows, inserted out of key order) and a
 * `categories` table.
 *
 * @example
 * const db = await sampleDb(dir, 100);
 */
export async function sampleDb(
  dir: string,
  rows = 50,
): Promise<{ dialect: SqliteDialect; connection: Connection; file: string }> {
  const dialect = new SqliteDialect();
  const file = join(dir, `data-${Math.random().toString(36).slice(2)}.db`);
  const connection = await dialect.connect(`sqlite:${file}`);
  await connection.execute('CREATE TABLE entries (id INTEGER PRIMARY KEY, title TEXT NOT NULL, body TEXT)');
  await connection.execute('CREATE TABLE categories (id INTEGER PRIMARY KEY, slug TEXT NOT NULL)');
  const values: string[] = [];
  for (let i = rows; i >= 1; i--)
    values.push(`(${i}, 'Entry ${i}', ${i % 3 === 0 ? 'NULL' : `'body ${i}'`})`);
  for (let i = 0; i < values.length; i += 500) {
    await connection.execute(
      `INSERT INTO entries (id, title, body) VALUES ${values.slice(i, i + 500).join(', ')}`,
    );
  }
  await connection.execute("INSERT INTO categories (id, slug) VALUES (2, 'how-to'), (1, 'general')");
  return { dialect, connection, file };
}

/**
 * Runs `work` with `os.tmpdir()` pointing at a fresh directory (TMPDIR), and returns that directory
 * with what the work returned or threw: lets a test see every temporary file an operation left.
 *
 * @example
 * const { dir } = await withTmpdir(() => packPlugin(options).catch(() => {}));
 * expect(readdirSync(dir)).toEqual([]);
 */
export async function withTmpdir<T>(work: () => Promise<T>): Promise<{ dir: string; result: T }> {
  const dir = join(tempDir('cmpkg-tmpdir-'), 'tmp');
  mkdirSync(dir);
  const saved = process.env.TMPDIR;
  process.env.TMPDIR = dir;
  try {
    return { dir, result: await work() };
  } finally {
    if (saved === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = saved;
  }
}

/**
 * The cmpkg error a promise rejects with (code and message); fails when it resolves or throws
 * something else.
 *
 * @example
 * expect((await failureOf(packPlugin(bad))).code).toBe('E_PACK_INPUT');
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
