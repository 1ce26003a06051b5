import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { failureOf, sqliteDb } from '../test-support.js';
import { exportTables } from './export-tables.js';
import { importTables } from './import-tables.js';

async function db() {
  const d = await sqliteDb();
  await d.connection.execute('create table items (id integer primary key, name text not null, at text)');
  await d.connection.execute('create table nokey (name text)');
  await d.connection.execute("insert into items values (1, 'a', '2024-01-01'), (2, 'b', '2024-02-01')");
  return d;
}

describe('exportTables', () => {
  it('writes one table to a stream', async () => {
    const d = await db();
    const stream = new PassThrough();
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    const report = await exportTables({ db: d, tables: ['items'], out: '-', stream });
    expect(report.rows).toBe(2);
    expect(Buffer.concat(chunks).toString()).toBe(
      '{"id":1,"name":"a","at":"2024-01-01"}\n{"id":2,"name":"b","at":"2024-02-01"}\n',
    );
  });

  it.each([
    [{ tables: [] }, 'E_USAGE', 'at least one table'],
    [{ tables: ['items'], since: '2024-01-01' }, 'E_USAGE', 'need --date-column'],
    [{ tables: ['items', 'nokey'], out: 'x.ndjson' }, 'E_USAGE', 'takes one table'],
    [{ tables: ['items'], out: '-' }, 'E_USAGE', 'needs a stream'],
    [{ tables: ['items'], dateColumn: 'nope', since: '2024-01-01' }, 'E_MAPPING', 'no column "nope"'],
    [{ tables: ['items'], dateColumn: 'id', since: '2024-01-01' }, 'E_USAGE', 'date or time column'],
  ])('refuses %j', async (options, code, text) => {
    const d = await db();
    const error = await failureOf(exportTables({ db: d, out: join(d.dir, 'out'), ...options }));
    expect(error.code).toBe(code);
    expect(error.message).toContain(text);
  });
});

describe('importTables refusals', () => {
  it.each([
    ['a missing input', (dir: string) => ({ input: join(dir, 'none.ndjson') }), 'E_USAGE', 'cannot read'],
    [
      'an unknown table',
      (dir: string) => ({ input: file(dir, 'ghost.ndjson', '{"id":1}') }),
      'E_MAPPING',
      'no table "ghost"',
    ],
    [
      'merge without a primary key',
      (dir: string) => ({ input: file(dir, 'nokey.ndjson', '{"name":"x"}'), mode: 'merge' as const }),
      'E_MAPPING',
      'primary key',
    ],
    [
      'an unknown mode',
      (dir: string) => ({ input: file(dir, 'items.ndjson', ''), mode: 'upsert' as 'merge' }),
      'E_USAGE',
      'unknown mode',
    ],
    [
      'a directory without files',
      (dir: string) => ({ input: folder(dir, 'empty') }),
      'E_USAGE',
      'no .ndjson files',
    ],
    [
      '--table with a directory',
      (dir: string) => ({ input: folder(dir, 'd2'), table: 'items' }),
      'E_USAGE',
      'single file',
    ],
    [
      'a malformed export.json',
      (dir: string) => ({ input: folder(dir, 'd3', { 'export.json': '{"format":"other"}' }) }),
      'E_DATA',
      'field "format"',
    ],
    [
      'an export.json column the table has not',
      (dir: string) => ({
        input: folder(dir, 'd4', {
          'items.ndjson': '',
          'export.json': JSON.stringify({
            format: 'cmpkg-export/1',
            tables: [
              {
                table: 'items',
                file: 'items.ndjson',
                rows: 0,
                columns: [{ name: 'ghost', type: 'text' }],
                sha256: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
              },
            ],
          }),
        }),
      }),
      'E_DATA',
      'column "ghost"',
    ],
    [
      'a value that does not fit its column',
      (dir: string) => ({ input: file(dir, 'items.ndjson', '{"id":"x","name":"n"}') }),
      'E_DATA',
      'items.ndjson:1',
    ],
  ])('refuses %s', async (_name, options, code, text) => {
    const d = await db();
    const error = await failureOf(importTables({ db: d, ...options(d.dir) }));
    expect(error.code).toBe(code);
    expect(error.message).toContain(text);
    expect(await d.rows('select id from items order by id')).toEqual([{ id: 1 }, { id: 2 }]);
  });

  it('imports a hand-written file into the table named by --table', async () => {
    const d = await db();
    const input = file(
      d.dir,
      'whatever.ndjson',
      '\uFEFF{"id":3,"name":"c"}\n\n{"id":4,"name":"d","at":null}',
    );
    const report = await importTables({ db: d, input, table: 'items' });
    expect(report.written).toBe(2);
    expect(await d.rows('select id, name, at from items where id > 2 order by id')).toEqual([
      { id: 3, name: 'c', at: null },
      { id: 4, name: 'd', at: null },
    ]);
    expect(readFileSync(input, 'utf8')).toContain('"id":3');
  });
});

describe("importTables inside a caller's transaction", () => {
  it("writes in a savepoint, commits nothing, and the caller's ROLLBACK undoes it", async () => {
    const d = await db();
    await d.connection.execute('BEGIN');
    await d.connection.execute("insert into items values (9, 'caller', null)");
    const report = await importTables({
      db: d,
      input: file(d.dir, 'items.ndjson', '{"id":3,"name":"c"}\n{"id":1,"name":"A"}'),
      mode: 'merge',
    });
    expect(report.written).toBe(2);
    // Still the caller's transaction: the import neither committed nor ended it.
    expect(d.connection.inTransaction).toBe(true);
    expect(await d.rows('select id, name from items order by id')).toEqual([
      { id: 1, name: 'A' },
      { id: 2, name: 'b' },
      { id: 3, name: 'c' },
      { id: 9, name: 'caller' },
    ]);
    await d.connection.execute('ROLLBACK');
    expect(await d.rows('select id, name from items order by id')).toEqual([
      { id: 1, name: 'a' },
      { id: 2, name: 'b' },
    ]);
  });

  it("undoes only its own rows on a bad row and leaves the caller's transaction usable", async () => {
    const d = await db();
    await d.connection.execute('BEGIN');
    await d.connection.execute("insert into items values (9, 'caller', null)");
    const error = await failureOf(
      importTables({
        db: d,
        input: file(d.dir, 'items.ndjson', '{"id":3,"name":"c"}\n{"id":4,"name":null}'),
      }),
    );
    expect(error.code).toBe('E_DATA');
    expect(error.message).toContain('items.ndjson:2');
    expect(d.connection.inTransaction).toBe(true);
    await d.connection.execute('COMMIT');
    expect(await d.rows('select id from items order by id')).toEqual([{ id: 1 }, { id: 2 }, { id: 9 }]);
  });

  it("validateOnly rolls back to its savepoint, not the caller's transaction", async () => {
    const d = await db();
    await d.connection.execute('BEGIN');
    await d.connection.execute("insert into items values (9, 'caller', null)");
    const report = await importTables({
      db: d,
      input: file(d.dir, 'items.ndjson', '{"id":3,"name":"c"}'),
      validateOnly: true,
    });
    expect(report.written).toBe(0);
    await d.connection.execute('COMMIT');
    expect(await d.rows('select id from items order by id')).toEqual([{ id: 1 }, { id: 2 }, { id: 9 }]);
  });
});

function file(dir: string, name: string, content: string): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

function folder(dir: string, name: string, files: Record<string, string> = {}): string {
  const path = join(dir, name);
  mkdirSync(path, { recursive: true });
  for (const [f, content] of Object.entries(files)) writeFileSync(join(path, f), content);
  return path;
}
