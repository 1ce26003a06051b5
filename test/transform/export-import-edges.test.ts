import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exportTables, importTables } from '@cmpkg/transform';
import { afterEach, expect, it } from 'vitest';
import { describeEngines, type TestEngine } from '../helpers/engines.js';
import {
  author,
  closeAll,
  createFixtureTables,
  type OpenDatabase,
  openDatabase,
  rejection,
  seed,
  tempDirs,
} from './copy-helpers.js';

/**
 * File shapes (BOM, CRLF, no final newline, blank lines, empty file, a huge line), odd
 * table names, files left behind by failures, the reject file, foreign-key order and `replace`.
 */

describeEngines('export/import edges', (engine: TestEngine) => {
  const opened: OpenDatabase[] = [];
  const temp = tempDirs('cmpkg-eie-');
  afterEach(async () => {
    await closeAll(opened);
    temp.removeAll();
  });
  const tempDir = () => temp.make();
  async function emptyAuthors(): Promise<OpenDatabase> {
    const db = await openDatabase(engine, opened);
    await createFixtureTables(db);
    return db;
  }
  async function ids(db: OpenDatabase, table = 'authors'): Promise<number[]> {
    const rows = await db.test.query(`select id from ${db.test.id(table)} order by id`);
    return rows.map((r) => Number(r.id));
  }

  it('reads a file with a BOM, CRLF line ends, blank lines, no final newline and a huge line', async () => {
    const db = await emptyAuthors();
    const huge = 'x'.repeat(3_000_000);
    const file = join(tempDir(), 'authors.ndjson');
    writeFileSync(
      file,
      `\uFEFF${JSON.stringify(author(1, 'a@x'))}\r\n\r\n${JSON.stringify(author(2, 'b@x', huge))}\r\n   \r\n${JSON.stringify(author(3, 'c@x'))}`,
    );
    const report = await importTables({ db, input: file });
    expect(report.rows).toBe(3);
    expect(await ids(db)).toEqual([1, 2, 3]);
    const lengths = await db.test.query(
      `select ${engine === 'mysql' ? 'char_length' : 'length'}(name) as n from authors where id = 2`,
    );
    expect(Number(lengths[0]?.n)).toBe(huge.length);

    // A bad row is named by its line number in the file, blank lines counted.
    const bad = join(tempDir(), 'authors.ndjson');
    writeFileSync(bad, `\r\n${JSON.stringify(author(4, 'd@x'))}\r\n\r\n{"id": 5, "emali": "e@x"}\r\n`);
    const error = await rejection(importTables({ db, input: bad }));
    expect(error.code).toBe('E_DATA');
    expect(error.message).toContain('authors.ndjson:4');
    expect(error.message).toContain('emali');
    expect(await ids(db)).toEqual([1, 2, 3]);

    const empty = join(tempDir(), 'authors.ndjson');
    writeFileSync(empty, '');
    expect((await importTables({ db, input: empty })).rows).toBe(0);
  });

  it('writes the rows when a reject file is named but errors are not skipped', async () => {
    const db = await emptyAuthors();
    const dir = tempDir();
    const file = join(dir, 'authors.ndjson');
    writeFileSync(file, `${JSON.stringify(author(1, 'a@x'))}\n`);
    const report = await importTables({ db, input: file, rejectFile: join(dir, 'rejects.ndjson') });
    expect(report.written).toBe(1);
    expect(await ids(db)).toEqual([1]);
    expect(readdirSync(dir).filter((n) => n.includes('cmpkg'))).toEqual([]);
  });

  it('the reject file lists file, line, error and the row; no temporary file stays', async () => {
    const db = await emptyAuthors();
    const dir = tempDir();
    const file = join(dir, 'authors.ndjson');
    writeFileSync(
      file,
      [author(1, 'a@x'), 'not json', author(1, 'dup@x'), author(2, 'b@x')]
        .map((l) => (typeof l === 'string' ? l : JSON.stringify(l)))
        .join('\n'),
    );
    const rejectFile = join(dir, 'rejects.ndjson');
    const report = await importTables({ db, input: file, skipErrors: true, rejectFile });
    expect(report.rejected).toBe(2);
    expect(await ids(db)).toEqual([1, 2]);
    const entries = readFileSync(rejectFile, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(entries.map((e) => [e.file, e.line, typeof e.error])).toEqual([
      ['authors.ndjson', 2, 'string'],
      ['authors.ndjson', 3, 'string'],
    ]);
    expect(entries[0].row).toBe('not json');
    expect(entries[1].row).toMatchObject({ id: 1, email: 'dup@x' });
    expect(readdirSync(dir).sort()).toEqual(['authors.ndjson', 'rejects.ndjson']);
  });

  it('a failed export keeps an earlier export in the same directory intact and adds nothing', async () => {
    const db = await openDatabase(engine, opened);
    await seed(db);
    const out = join(tempDir(), 'backup');
    await exportTables({ db, tables: ['authors', 'posts'], out });
    const before = Object.fromEntries(readdirSync(out).map((n) => [n, readFileSync(join(out, n), 'utf8')]));

    await db.test.query("update authors set name = 'changed' where id = 1");
    const controller = new AbortController();
    await expect(
      exportTables({
        db,
        tables: ['authors', 'posts'],
        out,
        batchSize: 5,
        signal: controller.signal,
        onProgress: (e) => {
          if (e.table === 'posts' && e.rows >= 5) controller.abort();
        },
      }),
    ).rejects.toThrow();
    const after = Object.fromEntries(readdirSync(out).map((n) => [n, readFileSync(join(out, n), 'utf8')]));
    expect(after).toEqual(before);

    // A failed export into a new directory leaves no directory behind.
    const fresh = join(tempDir(), 'new-export');
    await expect(
      exportTables({ db, tables: ['authors', 'posts'], out: fresh, where: 'email is not null' }),
    ).rejects.toThrow();
    expect(existsSync(fresh)).toBe(false);
  });

  it('exports and imports tables whose names hold a dot and a quote', async () => {
    const db = await openDatabase(engine, opened);
    const names = ['app.users', "o'neil"];
    for (const name of names) {
      await db.connection.execute(
        `create table ${db.test.id(name)} (id integer not null primary key, label varchar(20))`,
      );
      await db.test.query(`insert into ${db.test.id(name)} (id, label) values (1, 'one'), (2, 'two')`);
    }
    const out = join(tempDir(), 'odd');
    const report = await exportTables({ db, tables: names, out });
    expect(report.rows).toBe(4);
    const report2 = await importTables({ db, input: out, mode: 'replace' });
    expect(report2.tables.map((t) => [t.table, t.written])).toEqual([
      ['app.users', 2],
      ["o'neil", 2],
    ]);
    for (const name of names) expect(await ids(db, name)).toEqual([1, 2]);
  });

  it('imports parents before children whatever the file order, and replace is all or nothing', async () => {
    const db = await openDatabase(engine, opened);
    await seed(db);
    const out = join(tempDir(), 'exp');
    await exportTables({ db, tables: ['posts', 'authors'], out });
    // Into an empty copy of the schema: posts.ndjson is listed first, authors must still go first.
    const target = await emptyAuthors();
    const report = await importTables({ db: target, input: out });
    expect(report.tables.map((t) => t.table)).toEqual(['authors', 'posts']);
    expect(await target.test.count('posts')).toBe(25);

    // replace with a bad last row: the deletes are undone too.
    const dir = tempDir();
    writeFileSync(
      join(dir, 'authors.ndjson'),
      `${JSON.stringify(author(7, 'new@x'))}\n${JSON.stringify({ ...author(8, 'bad@x'), active: 'maybe' })}\n`,
    );
    writeFileSync(join(dir, 'posts.ndjson'), '');
    const error = await rejection(importTables({ db: target, input: dir, mode: 'replace' }));
    expect(error.code).toBe('E_DATA');
    expect(await ids(target)).toEqual([1, 2, 3]);
    expect(await target.test.count('posts')).toBe(25);
  });
});
