import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BulkColumn, PortableValue, TableDefinition } from '@cmpkg/core';
import { canonicalValueText, decodeValue, isCmpkgError } from '@cmpkg/core';
import { type DatabaseHandle, readTable } from '@cmpkg/transform';
import { afterEach, expect } from 'vitest';
import { createTestDatabase, type TestDatabase, type TestEngine, testDialect } from '../helpers/engines.js';

/**
 * The shared fixture of the copy and export/import suites: two tables linked by a foreign key, an
 * auto-increment id, a unique and a composite index, and rows with NULLs, unicode, JSON, decimals,
 * blobs, timestamptz with microseconds and a 200 KB text.
 */

export interface OpenDatabase extends DatabaseHandle {
  test: TestDatabase;
}

/** A fresh database on `engine` with a connection of the code under test. */
export async function openDatabase(engine: TestEngine, opened: OpenDatabase[]): Promise<OpenDatabase> {
  const test = await createTestDatabase(engine);
  const dialect = testDialect(engine);
  const connection = await dialect.connect(test.url);
  const db = { dialect, connection, test };
  opened.push(db);
  return db;
}

export async function closeAll(opened: OpenDatabase[]): Promise<void> {
  for (const db of opened.splice(0)) {
    await db.connection.close().catch(() => undefined);
    await db.test.drop();
  }
}

/**
 * For the tests of the enclosing file or `describe`: `open(engine)` gives a fresh database with a
 * connection of the code under test; the `afterEach` registered here closes and drops them all.
 *
 * @example
 * const open = suiteDatabases(); it('…', async () => { const db = await open('postgresql'); … });
 */
export function suiteDatabases(): (engine: TestEngine) => Promise<OpenDatabase> {
  const opened: OpenDatabase[] = [];
  afterEach(() => closeAll(opened));
  return (engine) => openDatabase(engine, opened);
}

/** A fresh `from` database on `fromEngine`, seeded with the fixture, and an empty `to` on `toEngine`. */
export async function seededPair(
  open: (engine: TestEngine) => Promise<OpenDatabase>,
  fromEngine: TestEngine,
  toEngine: TestEngine,
): Promise<{ from: OpenDatabase; to: OpenDatabase }> {
  const from = await open(fromEngine);
  const to = await open(toEngine);
  await seed(from);
  return { from, to };
}

export const AUTHORS: TableDefinition = {
  name: 'authors',
  columns: [
    { name: 'id', type: 'bigint', nullable: false, autoIncrement: true },
    { name: 'email', type: 'varchar(200)', nullable: false },
    { name: 'name', type: 'text', nullable: true },
    { name: 'active', type: 'boolean', nullable: false },
    { name: 'created_at', type: 'timestamptz', nullable: false },
  ],
  primaryKey: { columns: ['id'] },
  indexes: [{ name: 'authors_email_key', unique: true, parts: [{ column: 'email' }] }],
  foreignKeys: [],
  checks: [],
};

/** A foreign key `name` from `author_id` to `authors.id`, no action on delete or update. */
export function authorForeignKey(name: string): TableDefinition['foreignKeys'][number] {
  return {
    name,
    columns: ['author_id'],
    referencedTable: 'authors',
    referencedColumns: ['id'],
    onDelete: 'no action',
    onUpdate: 'no action',
  };
}

export const POSTS: TableDefinition = {
  name: 'posts',
  columns: [
    { name: 'id', type: 'bigint', nullable: false, autoIncrement: true },
    { name: 'author_id', type: 'bigint', nullable: false },
    { name: 'title', type: 'varchar(200)', nullable: false },
    { name: 'body', type: 'text', nullable: true },
    { name: 'meta', type: 'json', nullable: true },
    { name: 'price', type: 'decimal(12,2)', nullable: true },
    { name: 'attachment', type: 'blob', nullable: true },
    { name: 'published_at', type: 'timestamptz', nullable: true },
    { name: 'score', type: 'double', nullable: true },
  ],
  primaryKey: { columns: ['id'] },
  indexes: [
    {
      name: 'posts_author_title',
      unique: false,
      parts: [{ column: 'author_id' }, { column: 'title' }],
    },
  ],
  foreignKeys: [authorForeignKey('posts_author_fk')],
  checks: [],
};

export const columnsOf = (t: TableDefinition): BulkColumn[] =>
  t.columns.map((c) => ({ name: c.name, type: c.type as BulkColumn['type'] }));

/** Over 200 KB as UTF-8; never cut inside a surrogate pair. */
export const LARGE_TEXT = `${'Große Welt — 大きな世界 🦊 '.repeat(8000)}end`;

export function authorRows(): PortableValue[][] {
  return [
    [1, 'ada@example.com', 'Ada Lovelace', true, '2024-05-01T10:00:00.123456Z'],
    [2, 'zoe@example.com', 'Zoë 🦊 Ünïcödé "quoted" \\ back\nslash', false, '2023-01-31T23:59:59.999999Z'],
    [3, 'nobody@example.com', null, true, '1999-12-31T00:00:00Z'],
  ];
}

export function postRows(count = 25): PortableValue[][] {
  const rows: PortableValue[][] = [];
  for (let i = 1; i <= count; i++) {
    const bytes = Buffer.alloc(16 + (i % 5));
    for (let b = 0; b < bytes.length; b++) bytes[b] = (i * 37 + b * 11) % 256;
    rows.push([
      i,
      (i % 3) + 1,
      `post ${String(i).padStart(3, '0')} — ünï`,
      i === 1 ? LARGE_TEXT : i % 4 === 0 ? null : `body of ${i}: ✓ 'single' "double"`,
      i % 5 === 0
        ? null
        : JSON.stringify({ tags: ['a', `t${i}`], n: i, nested: { ok: i % 2 === 0, none: null } }),
      i % 6 === 0 ? null : i === 2 ? '-1234567890.99' : `${i}.50`,
      i % 3 === 0 ? null : bytes,
      i % 7 === 0
        ? null
        : `2024-02-${String((i % 28) + 1).padStart(2, '0')}T12:34:56.${String(i * 1001).padStart(6, '0')}Z`,
      i % 8 === 0 ? null : i / 4,
    ]);
  }
  return rows;
}

/** Creates `table` through the dialect's DDL. */
export async function createTable(db: DatabaseHandle, table: TableDefinition): Promise<void> {
  for (const sql of db.dialect.renderDdl({ kind: 'createTable', table })) await db.connection.execute(sql);
}

/** Creates the (empty) fixture tables, with their indexes and foreign keys. */
export async function createFixtureTables(db: DatabaseHandle): Promise<void> {
  for (const table of [AUTHORS, POSTS]) await createTable(db, table);
}

/** Creates the fixture tables (with indexes and foreign keys) and fills them through the dialect's bulk writer. */
export async function seed(db: DatabaseHandle, posts = postRows()): Promise<void> {
  await createFixtureTables(db);
  await db.connection.execute('BEGIN');
  for (const [table, rows] of [
    [AUTHORS, authorRows()],
    [POSTS, posts],
  ] as const) {
    const writer = await db.dialect.bulkWriter(db.connection, table.name, columnsOf(table));
    await writer.write(rows);
    await writer.close();
  }
  await db.connection.execute('COMMIT');
  for (const table of [AUTHORS, POSTS]) await db.dialect.syncAutoIncrement(db.connection, table.name, 'id');
}

/** Every row of a table as canonical value texts, keyed by the first column (the id). */
export async function canonicalRows(
  db: DatabaseHandle,
  table: string,
  columns: readonly BulkColumn[],
  key = [columns[0]!.name],
): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  for await (const batch of readTable(db, { table, columns, key, batchSize: 1000 })) {
    for (const row of batch.rows) {
      out.set(
        String(row[0]),
        row.map((v, i) => canonicalValueText(columns[i]!.type, v)),
      );
    }
  }
  return out;
}

/** The expected rows as canonical texts (of their decoded values), keyed like {@link canonicalRows}. */
export function canonicalExpected(
  rows: readonly PortableValue[][],
  columns: readonly BulkColumn[],
): Map<string, string[]> {
  const text = (v: PortableValue, i: number) =>
    canonicalValueText(columns[i]!.type, decodeValue(columns[i]!.type, v));
  return new Map(rows.map((row) => [String(row[0]), row.map(text)]));
}

/** Asserts that `authors` and `posts` of `db` hold exactly the seeded rows, value for value. */
export async function expectSeededRows(db: DatabaseHandle): Promise<void> {
  for (const [table, rows] of [
    [AUTHORS, authorRows()],
    [POSTS, postRows()],
  ] as const) {
    expect(await canonicalRows(db, table.name, columnsOf(table))).toEqual(
      canonicalExpected(rows, columnsOf(table)),
    );
  }
}

/** Asserts that the next generated `authors` id of `db` (on `engine`) continues after the seeded ones (3). */
export async function expectNextAuthorId(db: OpenDatabase, engine: TestEngine): Promise<void> {
  await db.test.query('insert into authors (email, active, created_at) values (?, ?, ?)', [
    'new@example.com',
    engine === 'postgresql' ? true : 1,
    engine === 'mysql' ? '2024-06-01 00:00:00' : '2024-06-01T00:00:00Z',
  ]);
  const added = await db.test.query("select id from authors where email = 'new@example.com'");
  expect(Number(added[0]?.id)).toBe(4);
}

/** The cmpkg error a promise rejects with (code and message); fails the test if it does not reject so. */
export async function rejection(promise: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await promise;
  } catch (err) {
    if (isCmpkgError(err)) return { code: err.code, message: err.message };
    throw err;
  }
  throw new Error('expected a failure');
}

/** One `authors` row (AUTHORS) as NDJSON import input, active, created at a fixed microsecond time. */
export const author = (id: number, email: string | null, name: string | null = null) => ({
  id,
  email,
  name,
  active: true,
  created_at: '2024-03-01T00:00:00.000001Z',
});

/** Temporary directories for one suite: `make()` creates one, `removeAll()` (in afterEach) removes them. */
export function tempDirs(prefix: string): { make(): string; removeAll(): void } {
  const dirs: string[] = [];
  return {
    make() {
      const dir = mkdtempSync(join(tmpdir(), prefix));
      dirs.push(dir);
      return dir;
    },
    removeAll() {
      for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
    },
  };
}

/**
 * The per-test state of an export/import suite on `engine` (registers its own `afterEach`, which
 * closes and drops the databases and removes the directories): seeded databases, scratch
 * directories and NDJSON input files.
 */
export function importSuite(
  engine: TestEngine,
  prefix: string,
): {
  /** A fresh database with the seeded `authors` and `posts`. */
  seeded(): Promise<OpenDatabase>;
  tempDir(): string;
  /** Writes `lines` (objects as JSON, strings as they are) to `name` in a new scratch directory. */
  ndjson(lines: Array<unknown | string>, name?: string): string;
} {
  const opened: OpenDatabase[] = [];
  const temp = tempDirs(prefix);
  afterEach(async () => {
    await closeAll(opened);
    temp.removeAll();
  });
  return {
    async seeded() {
      const db = await openDatabase(engine, opened);
      await seed(db);
      return db;
    },
    tempDir: () => temp.make(),
    ndjson(lines, name = 'authors.ndjson') {
      const file = join(temp.make(), name);
      writeFileSync(
        file,
        `${lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n')}\n`,
      );
      return file;
    },
  };
}
