import { afterEach, describe, expect, it } from 'vitest';
import type { SqliteConnection } from './sqlite-connection.js';
import { SqliteDialect } from './sqlite-dialect.js';
import {
  parseCreateIndex,
  parseCreateTable,
  parseCreateTrigger,
  parseCreateView,
  portableDefault,
  tokenizeSqlite,
} from './sqlite-introspector.js';

describe('the SQL scanner', () => {
  it('keeps strings, quoted identifiers and blobs whole and drops comments', () => {
    const tokens = tokenizeSqlite(`a 'x'')(,' "q""(" \`b\` [c d] x'0A' -- (note,
      /* ) , */ 1.5e3 (`);
    expect(tokens.map((t) => [t.kind, t.value])).toEqual([
      ['word', 'a'],
      ['string', "x')(,"],
      ['identifier', 'q"('],
      ['identifier', 'b'],
      ['identifier', 'c d'],
      ['blob', "x'0A'"],
      ['number', '1.5e3'],
      ['punct', '('],
    ]);
  });

  it('runs an unterminated string or comment to the end instead of failing', () => {
    expect(tokenizeSqlite("a 'open").map((t) => t.value)).toEqual(['a', 'open']);
    expect(tokenizeSqlite('a /* open').map((t) => t.value)).toEqual(['a']);
  });

  it('reads column-level and table-level checks, with their names, exactly as written', () => {
    const parsed = parseCreateTable(`CREATE TABLE t (
      a INTEGER CONSTRAINT a_positive CHECK (a > 0) NOT NULL,
      b TEXT CHECK ( b IN ('x,y', 'z)') ),
      c DECIMAL(10, 2) DEFAULT (0) CHECK(c >= (a + 1)),
      CONSTRAINT "b and c" CHECK (length(b) < c),
      CHECK (a <> 5) -- trailing comment, with ( and ,
    )`);
    expect(parsed.checks).toEqual([
      { name: 'a_positive', expression: 'a > 0' },
      { expression: "b IN ('x,y', 'z)')" },
      { expression: 'c >= (a + 1)' },
      { name: 'b and c', expression: 'length(b) < c' },
      { expression: 'a <> 5' },
    ]);
  });

  it('does not take a CONSTRAINT name of another kind for a check', () => {
    const parsed = parseCreateTable(
      "create table t (a int constraint nn not null check (a > 0), b text constraint d default 'CHECK (x)' check (b <> ''))",
    );
    expect(parsed.checks).toEqual([{ expression: 'a > 0' }, { expression: "b <> ''" }]);
  });

  it('reads foreign-key names, column-level and table-level, in the order written', () => {
    const parsed = parseCreateTable(`create table t (
      id integer primary key,
      a int references p,
      b int constraint "b""fk" references [p] (id) on delete set null,
      c int, d int,
      constraint cd_fk foreign key (c, "d") references q (x, y) on update cascade deferrable initially deferred,
      foreign key (c) references 'p'
    )`);
    expect(parsed.foreignKeys).toEqual([
      { columns: ['a'], referencedTable: 'p' },
      { name: 'b"fk', columns: ['b'], referencedTable: 'p' },
      { name: 'cd_fk', columns: ['c', 'd'], referencedTable: 'q' },
      { columns: ['c'], referencedTable: 'p' },
    ]);
  });

  it('reads the primary key name, AUTOINCREMENT and the PRIMARY KEY DESC exception', () => {
    const auto = parseCreateTable(
      'create table t ("Id" integer constraint t_pk primary key autoincrement, b)',
    );
    expect(auto.primaryKeyName).toBe('t_pk');
    expect(auto.columns.get('id')).toEqual({ autoIncrement: true, primaryKeyDesc: false });
    expect(auto.columns.get('b')).toEqual({ autoIncrement: false, primaryKeyDesc: false });
    const desc = parseCreateTable('create table t (id integer primary key desc)');
    expect(desc.columns.get('id')?.primaryKeyDesc).toBe(true);
    const table = parseCreateTable('create table t (a, b, constraint "t pk" primary key (a desc, b))');
    expect(table.primaryKeyName).toBe('t pk');
  });

  it('finds nothing in CREATE TABLE ... AS SELECT', () => {
    const parsed = parseCreateTable("create table t as select 1 as a, 'check (x)' as b");
    expect(parsed).toEqual({ columns: new Map(), checks: [], foreignKeys: [] });
  });

  it('reads index parts and the partial-index condition', () => {
    expect(
      parseCreateIndex(
        `CREATE UNIQUE INDEX "i(,)" ON "t" ((lower(a)) DESC, b COLLATE NOCASE ASC, a || ',' , (b)) WHERE a > ')'`,
      ),
    ).toEqual({
      parts: [
        { text: 'lower(a)', descending: true },
        { text: 'b', descending: false },
        { text: "a || ','", descending: false },
        { text: 'b', descending: false },
      ],
      where: "a > ')'",
    });
    expect(parseCreateIndex('create index i on t (a);')).toEqual({
      parts: [{ text: 'a', descending: false }],
    });
  });

  it('reads the SELECT of a view and the timing and event of a trigger', () => {
    expect(parseCreateView('CREATE VIEW "as" (x) AS /* c */ SELECT 1 AS x')).toBe('/* c */ SELECT 1 AS x');
    expect(parseCreateTrigger('CREATE TRIGGER after AFTER UPDATE OF a ON t BEGIN SELECT 1; END')).toEqual({
      timing: 'after',
      events: ['update'],
    });
    expect(
      parseCreateTrigger('create trigger if not exists main.t1 instead of delete on v begin select 1; end'),
    ).toEqual({
      timing: 'instead of',
      events: ['delete'],
    });
    expect(parseCreateTrigger('create trigger "before" insert on t begin select 1; end')).toEqual({
      timing: 'before',
      events: ['insert'],
    });
  });

  it('normalises defaults to portable spelling', () => {
    expect(portableDefault(null, 'text')).toBeUndefined();
    expect(portableDefault('NULL', 'text')).toBeUndefined();
    expect(portableDefault('0.00', 'decimal(10,2)')).toBe('0');
    expect(portableDefault('+1.50', 'real')).toBe('1.5');
    expect(portableDefault('(-1)', 'integer')).toBe('-1');
    expect(portableDefault('9223372036854775807', 'bigint')).toBe('9223372036854775807');
    expect(portableDefault('1e3', 'real')).toBe('1000');
    expect(portableDefault('1', 'boolean')).toBe('true');
    expect(portableDefault('0', 'boolean')).toBe('false');
    expect(portableDefault('1', 'integer')).toBe('1');
    expect(portableDefault('TRUE', 'boolean')).toBe('true');
    expect(portableDefault('false', null)).toBe('false');
    expect(portableDefault('current_timestamp', 'timestamp')).toBe('CURRENT_TIMESTAMP');
    expect(portableDefault("'it''s'", 'text')).toBe("'it''s'");
    expect(portableDefault("lower('X')", 'text')).toBe("lower('X')");
    expect(portableDefault("(lower('X')) || 'y'", 'text')).toBe("(lower('X')) || 'y'");
  });
});

describe('introspectSqlite', () => {
  const dialect = new SqliteDialect();
  const open: SqliteConnection[] = [];
  afterEach(async () => {
    for (const c of open.splice(0)) await c.close();
  });
  async function db(...statements: string[]): Promise<SqliteConnection> {
    const conn = await dialect.connect('sqlite::memory:');
    open.push(conn);
    for (const s of statements) conn.handle.exec(s);
    return conn;
  }

  it('reads the rowid alias: AUTOINCREMENT as bigint autoIncrement, without it as integer', async () => {
    const conn = await db(
      'create table a (id integer primary key autoincrement, x text)',
      'create table b (id INTEGER primary key, x text)',
      'create table c (id int primary key, x text)',
      'create table d (id integer primary key desc, x text)',
      'create table e (id integer, x text, primary key (id))',
    );
    const { tables } = await dialect.introspect(conn);
    const id = (t: string) => tables.find((x) => x.name === t)!.columns[0];
    expect(id('a')).toEqual({
      name: 'id',
      type: 'bigint',
      nativeType: 'INTEGER',
      nullable: false,
      autoIncrement: true,
    });
    expect(id('b')).toEqual({ name: 'id', type: 'integer', nativeType: 'INTEGER', nullable: false });
    // Not rowid aliases, so SQLite lets the key be NULL.
    expect(id('c')).toEqual({ name: 'id', type: 'integer', nativeType: 'INT', nullable: true });
    expect(id('d')).toEqual({ name: 'id', type: 'integer', nativeType: 'INTEGER', nullable: true });
    expect(id('e')).toEqual({ name: 'id', type: 'integer', nativeType: 'INTEGER', nullable: false });
    expect(tables.map((t) => t.name)).toEqual(['a', 'b', 'c', 'd', 'e']);
  });

  it('reads defaults, foreign-key names and implicit parent keys', async () => {
    const conn = await db(
      'create table p (id integer primary key, k text unique)',
      `create table t (
        flag boolean default 1, n numeric default 0.0, s text default 'a''b', e text default (lower('X')),
        g int references p, h text constraint h_fk references p (k) on delete cascade,
        constraint g_fk foreign key (g) references p (id) on update set null
      )`,
    );
    const t = (await dialect.introspect(conn, { tables: ['t'] })).tables[0]!;
    expect(t.columns.map((c) => [c.name, c.type, c.default])).toEqual([
      ['flag', 'boolean', 'true'],
      ['n', null, '0'],
      ['s', 'text', "'a''b'"],
      ['e', 'text', "lower('X')"],
      ['g', 'integer', undefined],
      ['h', 'text', undefined],
    ]);
    expect(t.foreignKeys).toEqual([
      {
        columns: ['g'],
        referencedTable: 'p',
        referencedColumns: ['id'],
        onDelete: 'no action',
        onUpdate: 'no action',
      },
      {
        name: 'g_fk',
        columns: ['g'],
        referencedTable: 'p',
        referencedColumns: ['id'],
        onDelete: 'no action',
        onUpdate: 'set null',
      },
      {
        name: 'h_fk',
        columns: ['h'],
        referencedTable: 'p',
        referencedColumns: ['k'],
        onDelete: 'cascade',
        onUpdate: 'no action',
      },
    ]);
  });

  it('names UNIQUE constraints <table>_<columns>_key and leaves out the primary key index', async () => {
    const conn = await db(
      'create table t (a text primary key, b int, c int, unique (c, b), constraint named unique (b desc))',
    );
    const t = (await dialect.introspect(conn)).tables[0]!;
    expect(t.primaryKey).toEqual({ columns: ['a'] });
    expect(t.indexes).toEqual([
      { name: 't_b_key', unique: true, parts: [{ column: 'b', descending: true }] },
      { name: 't_c_b_key', unique: true, parts: [{ column: 'c' }, { column: 'b' }] },
    ]);
  });

  it('leaves out virtual tables, their shadow tables and SQLite internals, and reads generated columns', async () => {
    const conn = await db(
      'create virtual table docs using fts5(body)',
      'create table t (id integer primary key autoincrement, a int, b int generated always as (a * 2) stored)',
      'insert into t (a) values (1), (2)',
    );
    const snapshot = await dialect.introspect(conn);
    expect(snapshot.tables.map((t) => t.name)).toEqual(['t']);
    const t = snapshot.tables[0]!;
    expect(t.columns.map((c) => c.name)).toEqual(['id', 'a', 'b']);
    expect(t.rowCount).toBe(2);
    expect(t.rowCountExact).toBe(true);
    expect(t.sizeBytes).toBeGreaterThan(0);
  });

  it('omits sizeBytes when a user table hides dbstat', async () => {
    const conn = await db('create table dbstat (x)');
    const t = (await dialect.introspect(conn)).tables[0]!;
    expect(t.name).toBe('dbstat');
    expect(t.sizeBytes).toBeUndefined();
  });

  it('reads inside an open transaction, seeing its uncommitted changes', async () => {
    const conn = await db('create table t (x)');
    await conn.execute('begin');
    await conn.execute('create table u (y)');
    const snapshot = await dialect.introspect(conn);
    expect(snapshot.tables.map((t) => t.name)).toEqual(['t', 'u']);
    expect(conn.handle.inTransaction).toBe(true);
    await conn.execute('rollback');
  });

  it('reads triggers on views and partial indexes written with odd quoting', async () => {
    const conn = await db(
      'create table t (a text, b int)',
      `create index "i ""q""" on t (b) where a <> 'x)(y'`,
      'create view v as select a from t',
      'create trigger v_ins instead of insert on v begin insert into t (a) values (new.a); end',
    );
    const snapshot = await dialect.introspect(conn);
    expect(snapshot.tables[0]!.indexes).toEqual([
      { name: 'i "q"', unique: false, parts: [{ column: 'b' }], where: "a <> 'x)(y'" },
    ]);
    expect(snapshot.triggers).toEqual([
      {
        name: 'v_ins',
        table: 'v',
        timing: 'instead of',
        events: ['insert'],
        createSql: 'CREATE TRIGGER v_ins instead of insert on v begin insert into t (a) values (new.a); end',
      },
    ]);
  });
});
