import { afterEach, describe, expect, it } from 'vitest';
import { chooseKey, readTable } from './table-reader.js';
import { sqliteDb } from './test-support.js';

type Db = Awaited<ReturnType<typeof sqliteDb>>;
let db: Db;
afterEach(async () => {
  await db?.connection.close();
});

async function collect(gen: AsyncGenerator<{ rows: unknown[][]; lastKey: unknown[] }>) {
  const rows: unknown[][] = [];
  let batches = 0;
  for await (const b of gen) {
    rows.push(...b.rows);
    batches++;
  }
  return { rows, batches };
}

describe('readTable', () => {
  it('pages a composite key with 25k rows in batches of 1000 without duplicates or gaps', async () => {
    db = await sqliteDb();
    await db.connection.execute(
      'create table t (a integer not null, b text not null, v text, primary key (a, b))',
    );
    await db.connection
      .execute(
        `insert into t (a, b, v) select value % 37, printf('k%05d', value), 'v' || value from generate_series(1, 25000)`,
      )
      .catch(async () => {
        // generate_series is not always compiled in: insert with a recursive CTE instead.
        await db.connection.execute(
          `with recursive s(n) as (select 1 union all select n + 1 from s where n < 25000)
         insert into t (a, b, v) select n % 37, printf('k%05d', n), 'v' || n from s`,
        );
      });
    const { rows, batches } = await collect(
      readTable(db, {
        table: 't',
        columns: [
          { name: 'a', type: 'integer' },
          { name: 'b', type: 'text' },
          { name: 'v', type: 'text' },
        ],
        key: ['a', 'b'],
        batchSize: 1000,
      }),
    );
    expect(batches).toBe(25);
    expect(rows).toHaveLength(25000);
    expect(new Set(rows.map((r) => `${r[0]}|${r[1]}`)).size).toBe(25000);
    expect(new Set(rows.map((r) => r[2])).size).toBe(25000);
  });

  it('resumes after a key and applies a filter with parameters', async () => {
    db = await sqliteDb();
    await db.connection.execute('create table t (id text primary key, n integer)');
    for (let i = 0; i < 50; i++)
      await db.connection.execute('insert into t values (?, ?)', [`id${String(i).padStart(2, '0')}`, i]);
    const { rows } = await collect(
      readTable(db, {
        table: 't',
        columns: [{ name: 'n', type: 'integer' }],
        key: ['id'],
        where: 'n % ? = 0',
        params: [2],
        after: ['id10'],
        batchSize: 7,
      }),
    );
    expect(rows.map((r) => r[0])).toEqual(
      Array.from({ length: 20 }, (_, i) => 12 + i * 2).filter((n) => n < 50),
    );
  });

  it('pages a table without a key by rowid and returns expression extras', async () => {
    db = await sqliteDb();
    await db.connection.execute('create table t (n integer)');
    for (let i = 0; i < 10; i++) await db.connection.execute('insert into t values (?)', [i]);
    const seen: unknown[] = [];
    for await (const b of readTable(db, {
      table: 't',
      columns: [{ name: 'n', type: 'integer' }],
      key: [],
      extra: [{ alias: 'double', expression: 'n * 2' }],
      batchSize: 3,
    })) {
      seen.push(...b.extras.map((e) => e[0]));
    }
    expect(seen).toEqual([0, 2, 4, 6, 8, 10, 12, 14, 16, 18]);
  });

  it('fails with E_DATA naming table, row and column for a value that does not fit its type', async () => {
    db = await sqliteDb();
    await db.connection.execute('create table t (id integer primary key, n integer)');
    await db.connection.execute("insert into t values (1, 5), (2, 'oops')");
    await expect(
      collect(
        readTable(db, {
          table: 't',
          columns: [
            { name: 'id', type: 'integer' },
            { name: 'n', type: 'integer' },
          ],
          key: ['id'],
          batchSize: 10,
        }),
      ),
    ).rejects.toMatchObject({
      code: 'E_DATA',
      message: expect.stringMatching(/table t, row id=2, column n/),
    });
  });
});

describe('chooseKey', () => {
  it('prefers the primary key, else the shortest unique not-null index', async () => {
    db = await sqliteDb();
    await db.connection.execute('create table p (a integer, b integer, primary key (a, b))');
    await db.connection.execute('create table u (x text not null, y text not null, z text)');
    await db.connection.execute('create unique index u_xy on u (x, y)');
    await db.connection.execute('create unique index u_y on u (y)');
    await db.connection.execute('create unique index u_z on u (z)');
    await db.connection.execute('create table n (z text)');
    const snap = await db.dialect.introspect(db.connection);
    const t = (name: string) => snap.tables.find((x) => x.name === name)!;
    expect(chooseKey(t('p'))).toEqual(['a', 'b']);
    expect(chooseKey(t('u'))).toEqual(['y']);
    expect(chooseKey(t('n'))).toBeUndefined();
  });
});
