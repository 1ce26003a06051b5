import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Connection, SchemaSnapshot } from '@cmpkg/core';
import { SqliteDialect, sqliteCapabilities } from '@cmpkg/dialect-sqlite';
import { afterEach, describe, expect, it } from 'vitest';
import { comparableTable, portableSchema } from '../fixtures/portable-schema.js';
import { createTestDatabase, type TestDatabase } from '../helpers/engines.js';

// Introspection and renderDdl of the SQLite dialect through its public entry, on real database files.
// What was created is checked with a separate driver handle (TestDatabase.query) where it matters.

const dialect = new SqliteDialect();
const dbs: TestDatabase[] = [];
const conns: Connection[] = [];

afterEach(async () => {
  for (const c of conns.splice(0)) await c.close();
  for (const d of dbs.splice(0)) await d.drop();
});

async function fresh(): Promise<{ db: TestDatabase; conn: Connection }> {
  const db = await createTestDatabase('sqlite');
  dbs.push(db);
  const conn = await dialect.connect(db.url);
  conns.push(conn);
  return { db, conn };
}

async function apply(conn: Connection, statements: string[]): Promise<void> {
  for (const s of statements) await conn.execute(s);
}

/** A schema with everything introspection reads: the round-trip tables plus views and triggers. */
async function richSchema(conn: Connection): Promise<void> {
  for (const table of portableSchema(sqliteCapabilities)) {
    await apply(conn, dialect.renderDdl({ kind: 'createTable', table }));
  }
  await apply(conn, [
    `create table "odd ""name""" (
       k integer primary key,
       a text not null default 'x,(y)' constraint a_short check (length(a) < 10),
       b numeric(8, 3) default 1.500,
       c /* no type */,
       unique (b, a),
       constraint odd_k_fk foreign key (k) references rt_authors on delete set null
     )`,
    'create index odd_expr on "odd ""name""" (a collate nocase desc, (b * 2)) where c is not null',
    "create view active_authors (id, email) as select id, email from rt_authors where active -- ', (\n",
    `create trigger rt_posts_touch after update of title on rt_posts
       begin update rt_posts set edited_at = current_timestamp where id = new.id; end`,
    "create trigger rt_authors_guard before delete on rt_authors begin select raise(abort, 'no'); end",
  ]);
}

describe('SQLite introspection and renderDdl', () => {
  it('round-trips the portable schema: types, defaults, keys, every index kind, foreign key and check', async () => {
    const { conn } = await fresh();
    const schema = portableSchema(sqliteCapabilities);
    for (const table of schema) await apply(conn, dialect.renderDdl({ kind: 'createTable', table }));

    const snapshot = await dialect.introspect(conn);
    expect(snapshot).toMatchObject({
      format: 'cmpkg-schema/1',
      engine: 'sqlite',
      schema: 'main',
      routines: [],
    });
    expect(snapshot.tables.map((t) => t.name)).toEqual(['rt_authors', 'rt_posts']);
    for (const table of schema) {
      const got = snapshot.tables.find((t) => t.name === table.name)!;
      expect(comparableTable(got)).toEqual(comparableTable(table));
    }
    const posts = snapshot.tables.find((t) => t.name === 'rt_posts')!;
    // Declared types keep the portable names.
    expect(posts.columns.map((c) => c.nativeType)).toEqual([
      'UUID',
      'BIGINT',
      'VARCHAR(120)',
      'TEXT',
      'INTEGER',
      'SMALLINT',
      'FLOAT',
      'DOUBLE',
      'DECIMAL(10,2)',
      'DATE',
      'TIMESTAMP',
      'JSON',
      'BLOB',
      'VECTOR(3)',
    ]);
    const authors = snapshot.tables.find((t) => t.name === 'rt_authors')!;
    expect(authors.columns[0]).toEqual({
      name: 'id',
      type: 'bigint',
      nativeType: 'INTEGER',
      nullable: false,
      autoIncrement: true,
    });
  });

  it('reports the version, exact row counts and sizes', async () => {
    const { db, conn } = await fresh();
    await richSchema(conn);
    for (const email of ['a@x', 'b@x', 'c@x']) {
      await conn.execute('insert into rt_authors (email) values (?)', [email]);
    }
    const snapshot = await dialect.introspect(conn);
    const [version] = await db.query('select sqlite_version() as v');
    expect(snapshot.serverVersion).toBe(version!.v);
    const authors = snapshot.tables.find((t) => t.name === 'rt_authors')!;
    expect(authors).toMatchObject({ rowCount: 3, rowCountExact: true });
    // A table page plus the expression index's page, at least.
    expect(authors.sizeBytes).toBeGreaterThanOrEqual(8192);
  });

  it('reads views and triggers with their stored SQL', async () => {
    const { db, conn } = await fresh();
    await richSchema(conn);
    const snapshot = await dialect.introspect(conn);
    const stored = async (name: string) =>
      String((await db.query('select sql from sqlite_master where name = ?', [name]))[0]!.sql);
    expect(snapshot.views).toEqual([
      {
        name: 'active_authors',
        definition: "select id, email from rt_authors where active -- ', (",
        createSql: await stored('active_authors'),
      },
    ]);
    expect(snapshot.triggers).toEqual([
      {
        name: 'rt_authors_guard',
        table: 'rt_authors',
        timing: 'before',
        events: ['delete'],
        createSql: await stored('rt_authors_guard'),
      },
      {
        name: 'rt_posts_touch',
        table: 'rt_posts',
        timing: 'after',
        events: ['update'],
        createSql: await stored('rt_posts_touch'),
      },
    ]);
  });

  it('reads what only the CREATE statement says: checks, constraint names, expression parts, conditions', async () => {
    const { conn } = await fresh();
    await richSchema(conn);
    const odd = (await dialect.introspect(conn, { tables: ['odd "name"'] })).tables[0]!;
    expect(odd.columns).toEqual([
      // SQLite itself upper-cases the standard type names (INT, INTEGER, REAL, TEXT, BLOB).
      { name: 'k', type: 'integer', nativeType: 'INTEGER', nullable: false },
      { name: 'a', type: 'text', nativeType: 'TEXT', nullable: false, default: "'x,(y)'" },
      { name: 'b', type: 'decimal(8,3)', nativeType: 'numeric(8, 3)', nullable: true, default: '1.5' },
      { name: 'c', type: null, nativeType: '', nullable: true },
    ]);
    expect(odd.checks).toEqual([{ name: 'a_short', expression: 'length(a) < 10' }]);
    expect(odd.foreignKeys).toEqual([
      {
        name: 'odd_k_fk',
        columns: ['k'],
        referencedTable: 'rt_authors',
        referencedColumns: ['id'],
        onDelete: 'set null',
        onUpdate: 'no action',
      },
    ]);
    expect(odd.indexes).toEqual([
      {
        name: 'odd "name"_b_a_key',
        unique: true,
        parts: [{ column: 'b' }, { column: 'a' }],
      },
      {
        name: 'odd_expr',
        unique: false,
        parts: [{ column: 'a', descending: true }, { expression: 'b * 2' }],
        where: 'c is not null',
      },
    ]);
  });

  it('names the index behind a UNIQUE constraint <table>_<columns>_key', async () => {
    const { db, conn } = await fresh();
    await apply(conn, [
      'create table accounts (id integer primary key, tenant int, email text, unique (tenant, email))',
    ]);
    expect(await db.query("select name from sqlite_master where type = 'index'")).toEqual([
      { name: 'sqlite_autoindex_accounts_1' },
    ]);
    const [accounts] = (await dialect.introspect(conn)).tables;
    expect(accounts!.indexes).toEqual([
      { name: 'accounts_tenant_email_key', unique: true, parts: [{ column: 'tenant' }, { column: 'email' }] },
    ]);
    expect(accounts!.createSql[1]).toBe(
      'CREATE UNIQUE INDEX "accounts_tenant_email_key" ON "accounts" ("tenant", "email")',
    );
  });

  it('filters tables, keeping their triggers and leaving views out', async () => {
    const { conn } = await fresh();
    await richSchema(conn);
    const snapshot = await dialect.introspect(conn, { tables: ['rt_posts', 'missing'] });
    expect(snapshot.tables.map((t) => t.name)).toEqual(['rt_posts']);
    expect(snapshot.triggers.map((t) => t.name)).toEqual(['rt_posts_touch']);
    expect(snapshot.views).toEqual([]);
    expect(snapshot.routines).toEqual([]);
  });

  it('hides cmpkg history tables unless asked, and never lists SQLite internals', async () => {
    const { db, conn } = await fresh();
    await richSchema(conn);
    // The lock writes its holder into the real cmpkg_lock table.
    const release = await dialect.acquireLock(conn, 'cmpkg', { timeoutMs: 1000 });
    await release();
    await apply(conn, ['create table cmpkg_migrations (migration_id text primary key)']);
    await conn.execute('analyze');
    const internal = await db.query("select name from sqlite_master where name like 'sqlite%' order by name");
    expect(internal.map((r) => r.name)).toEqual(
      expect.arrayContaining(['sqlite_autoindex_odd "name"_1', 'sqlite_sequence', 'sqlite_stat1']),
    );
    expect(await db.tableNames()).toEqual(expect.arrayContaining(['cmpkg_lock', 'cmpkg_migrations']));

    const hidden = await dialect.introspect(conn);
    expect(hidden.tables.map((t) => t.name)).toEqual(['odd "name"', 'rt_authors', 'rt_posts']);
    const shown = await dialect.introspect(conn, { includeHistoryTables: true });
    expect(shown.tables.map((t) => t.name)).toEqual([
      'cmpkg_lock',
      'cmpkg_migrations',
      'odd "name"',
      'rt_authors',
      'rt_posts',
    ]);
    const one = await dialect.introspect(conn, { includeHistoryTables: true, tables: ['cmpkg_migrations'] });
    expect(one.tables.map((t) => t.name)).toEqual(['cmpkg_migrations']);
  });

  it("recreates the schema from the snapshot's own SQL: a fresh database introspects equal", async () => {
    const { conn } = await fresh();
    await richSchema(conn);
    const snapshot = await dialect.introspect(conn);

    const { conn: copy } = await fresh();
    await apply(
      copy,
      snapshot.tables.flatMap((t) => t.createSql),
    );
    await apply(
      copy,
      snapshot.views.map((v) => v.createSql),
    );
    await apply(
      copy,
      snapshot.triggers.map((t) => t.createSql),
    );
    const again: SchemaSnapshot = await dialect.introspect(copy);
    // Everything is equal, down to createSql, sizes and the stored view and trigger SQL, except the
    // declared spelling of portable types, which createSql writes from the mapping table
    // (numeric(8, 3) is recreated as DECIMAL(8,3)).
    const declaredAsMapped = (s: SchemaSnapshot) => ({
      ...s,
      tables: s.tables.map((t) => ({
        ...t,
        columns: t.columns.map((c) => ({
          ...c,
          nativeType: c.type === null ? c.nativeType : dialect.nativeType(c.type),
        })),
      })),
    });
    expect(again.tables.find((t) => t.name === 'odd "name"')!.columns[2]!.nativeType).toBe('DECIMAL(8,3)');
    expect(declaredAsMapped(again)).toEqual(declaredAsMapped(snapshot));
  });

  it('reads a missing file as an empty schema through a read-only connection, creating nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cmpkg-sqlite-ro-'));
    try {
      const file = join(dir, 'missing.db');
      const conn = await dialect.connect(`sqlite:${file}`, { readOnly: true });
      try {
        const snapshot = await dialect.introspect(conn);
        expect(snapshot).toEqual({
          format: 'cmpkg-schema/1',
          engine: 'sqlite',
          serverVersion: expect.stringMatching(/^3\.\d+\.\d+$/),
          schema: 'main',
          tables: [],
          views: [],
          triggers: [],
          routines: [],
        });
      } finally {
        await conn.close();
      }
      expect(existsSync(file)).toBe(false);
      expect(readdirSync(dir)).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('introspects an existing file through a read-only connection', async () => {
    const { db } = await fresh();
    await db.query("create table t (id integer primary key autoincrement, x text default (upper('a')))");
    const conn = await dialect.connect(db.url, { readOnly: true });
    conns.push(conn);
    const [t] = (await dialect.introspect(conn)).tables;
    expect(t!.columns[1]).toEqual({
      name: 'x',
      type: 'text',
      nativeType: 'TEXT',
      nullable: true,
      default: "upper('a')",
    });
    expect(t!.createSql[0]).toBe(
      'CREATE TABLE "t" (\n  "id" INTEGER PRIMARY KEY AUTOINCREMENT,\n  "x" TEXT DEFAULT (upper(\'a\'))\n)',
    );
  });
});
