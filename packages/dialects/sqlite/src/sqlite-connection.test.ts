import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConnectionError, UsageError } from '@cmpkg/core';
import Database from 'better-sqlite3';
import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseSqliteUrl, type SqliteConnection } from './sqlite-connection.js';
import { SqliteDialect } from './sqlite-dialect.js';
import { SqliteStatementTimeoutError } from './sqlite-errors.js';

let dir: string;
const open: SqliteConnection[] = [];
const dialect = new SqliteDialect();

async function connect(url: string): Promise<SqliteConnection> {
  const conn = await dialect.connect(url);
  open.push(conn);
  return conn;
}

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'cmpkg-sqlite-conn-'));
});

afterEach(async () => {
  for (const conn of open.splice(0)) await conn.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('parseSqliteUrl', () => {
  it('resolves every documented form against the given directory', () => {
    expect(parseSqliteUrl('sqlite:./file.db', '/srv')).toEqual({ filename: '/srv/file.db', memory: false });
    expect(parseSqliteUrl('sqlite:file.db', '/srv')).toEqual({ filename: '/srv/file.db', memory: false });
    expect(parseSqliteUrl('sqlite:/abs/path.db', '/srv')).toEqual({
      filename: '/abs/path.db',
      memory: false,
    });
    expect(parseSqliteUrl('sqlite://./file.db', '/srv')).toEqual({ filename: '/srv/file.db', memory: false });
    expect(parseSqliteUrl('sqlite:///abs/path.db', '/srv')).toEqual({
      filename: '/abs/path.db',
      memory: false,
    });
    expect(parseSqliteUrl('sqlite:../up.db', '/srv/app')).toEqual({ filename: '/srv/up.db', memory: false });
    expect(parseSqliteUrl('sqlite::memory:')).toEqual({ filename: ':memory:', memory: true });
    expect(parseSqliteUrl('SQLITE:./file.db', '/srv').filename).toBe('/srv/file.db');
  });

  it('rejects URLs it cannot serve with a usage error', () => {
    expect(() => parseSqliteUrl('postgres://x/y')).toThrow(UsageError);
    expect(() => parseSqliteUrl('sqlite:')).toThrow(/names no file/);
    expect(() => parseSqliteUrl('sqlite:./x.db?mode=ro')).toThrow(/query parameters/);
  });
});

describe('connect', () => {
  it('opens relative URLs against process.cwd() and creates the file', async () => {
    const before = process.cwd();
    process.chdir(dir);
    try {
      for (const url of ['sqlite:./a.db', 'sqlite:b.db', 'sqlite://./c.db']) {
        const conn = await connect(url);
        expect(conn.displayUrl).toBe(url);
        expect(conn.engine).toBe('sqlite');
        await conn.execute('create table t (x)');
      }
    } finally {
      process.chdir(before);
    }
    for (const name of ['a.db', 'b.db', 'c.db']) expect(existsSync(path.join(dir, name))).toBe(true);
  });

  it('opens absolute paths and :memory:', async () => {
    const file = path.join(dir, 'abs.db');
    const conn = await connect(`sqlite:${file}`);
    expect(conn.filename).toBe(file);
    expect(conn.memory).toBe(false);
    const mem = await connect('sqlite::memory:');
    expect(mem.memory).toBe(true);
    await mem.execute('create table t (x)');
    expect((await mem.execute('select count(*) as n from t')).rows).toEqual([{ n: 0 }]);
  });

  it('fails with ConnectionError naming the path when the directory is missing', async () => {
    const file = path.join(dir, 'missing', 'app.db');
    const err = await dialect.connect(`sqlite:${file}`).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectionError);
    expect((err as Error).message).toContain(file);
    expect((err as Error).message).toMatch(/does not exist/);
    expect(existsSync(path.dirname(file))).toBe(false);
  });

  it('fails with ConnectionError when the file is not a database', async () => {
    const file = path.join(dir, 'junk.db');
    writeFileSync(file, 'this is not a sqlite database, just some text that is long enough'.repeat(20));
    const err = await dialect.connect(`sqlite:${file}`).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectionError);
    expect((err as Error).message).toContain(file);
  });

  it('sets busy_timeout but leaves foreign_keys and journal_mode as the host chose', async () => {
    const file = path.join(dir, 'host.db');
    const host = new Database(file);
    host.pragma('journal_mode = wal');
    // foreign_keys is per connection; the dialect keeps whatever the driver's default is.
    const driverDefault = host.pragma('foreign_keys', { simple: true });
    host.close();
    const conn = await connect(`sqlite:${file}`);
    expect((await conn.execute('pragma journal_mode')).rows).toEqual([{ journal_mode: 'wal' }]);
    expect((await conn.execute('pragma foreign_keys')).rows).toEqual([{ foreign_keys: driverDefault }]);
    expect((await conn.execute('pragma busy_timeout')).rows).toEqual([{ timeout: 5000 }]);
    const quick = await new SqliteDialect({ busyTimeoutMs: 50 }).connect(`sqlite:${file}`);
    open.push(quick);
    expect((await quick.execute('pragma busy_timeout')).rows).toEqual([{ timeout: 50 }]);
  });

  it('rejects a negative busy timeout', () => {
    expect(() => new SqliteDialect({ busyTimeoutMs: -1 })).toThrow(UsageError);
  });
});

describe('connect with readOnly', () => {
  it('reads a missing file as an empty database without creating it', async () => {
    const file = path.join(dir, 'later.db');
    const conn = await dialect.connect(`sqlite:${file}`, { readOnly: true });
    open.push(conn);
    expect(conn.readOnly).toBe(true);
    expect(conn.filename).toBe(file);
    expect((await conn.execute('select count(*) as n from sqlite_master')).rows).toEqual([{ n: 0 }]);
    const err = await conn.execute('create table t (x)').catch((e: unknown) => e);
    expect(dialect.classifyError(err)).toBe('permission');
    expect(await dialect.countSchemaObjects(conn)).toEqual({ tables: 0, indexes: 0 });
    await conn.close();
    expect(existsSync(file)).toBe(false);
  });

  it('opens an existing file read-only', async () => {
    const file = path.join(dir, 'ro.db');
    const writer = await connect(`sqlite:${file}`);
    await writer.execute('create table t (x)');
    await writer.execute('insert into t values (1)');
    await writer.close();
    const conn = await connect(`sqlite:${file}`);
    const ro = await dialect.connect(`sqlite:${file}`, { readOnly: true });
    open.push(ro);
    expect((await ro.execute('select x from t')).rows).toEqual([{ x: 1 }]);
    const err = await ro.execute('insert into t values (2)').catch((e: unknown) => e);
    expect((err as { code: string }).code).toMatch(/^SQLITE_READONLY/);
    expect(dialect.classifyError(err)).toBe('permission');
    // The migration lock would write the lock file and the holder row: a no-op here.
    const release = await dialect.acquireLock(ro, 'cmpkg', { timeoutMs: 0 });
    expect(existsSync(`${file}.cmpkg-lock`)).toBe(false);
    await release();
    // And it does not stand in the way of a writer.
    await conn.execute('insert into t values (3)');
  });
});

describe('execute', () => {
  it('returns rows for readers and rowsAffected for writers', async () => {
    const conn = await connect(`sqlite:${path.join(dir, 'x.db')}`);
    expect(await conn.execute('create table t (id integer primary key, name text, flag integer)')).toEqual({
      rows: [],
      rowsAffected: 0,
    });
    const ins = await conn.execute('insert into t (name, flag) values (?, ?), (?, ?), (?, ?)', [
      'a',
      true,
      'b',
      false,
      'c',
      null,
    ]);
    expect(ins).toEqual({ rows: [], rowsAffected: 3 });
    const upd = await conn.execute('update t set name = upper(name) where id > ?', [1]);
    expect(upd.rowsAffected).toBe(2);
    const sel = await conn.execute<{ id: number; name: string; flag: number | null }>(
      'select id, name, flag from t order by id',
    );
    expect(sel).toEqual({
      rows: [
        { id: 1, name: 'a', flag: 1 },
        { id: 2, name: 'B', flag: 0 },
        { id: 3, name: 'C', flag: null },
      ],
      rowsAffected: 0,
    });
    // DDL after DML must not report the earlier statement's count.
    expect((await conn.execute('create index t_name on t (name)')).rowsAffected).toBe(0);
  });

  it('counts rows changed by RETURNING statements, and none for pragmas', async () => {
    const conn = await connect(`sqlite:${path.join(dir, 'ret.db')}`);
    await conn.execute('create table t (id integer primary key, v text)');
    await conn.execute("insert into t (v) values ('x'), ('y')");
    const res = await conn.execute<{ id: number }>('delete from t returning id');
    expect(res.rows.map((r) => r.id).sort()).toEqual([1, 2]);
    expect(res.rowsAffected).toBe(2);
    const pragma = await conn.execute('pragma user_version');
    expect(pragma).toEqual({ rows: [{ user_version: 0 }], rowsAffected: 0 });
  });

  it('binds Dates as ISO text and undefined as NULL', async () => {
    const conn = await connect('sqlite::memory:');
    const when = new Date('2024-05-06T07:08:09.000Z');
    const { rows } = await conn.execute('select ? as d, ? as u', [when, undefined]);
    expect(rows).toEqual([{ d: '2024-05-06T07:08:09.000Z', u: null }]);
  });

  it('raises a timeout error when a statement overruns timeoutMs', async () => {
    const conn = await connect('sqlite::memory:');
    const slow =
      'with recursive c(x) as (select 1 union all select x + 1 from c where x < 3000000) select count(*) as n from c';
    const err = await conn.execute(slow, [], { timeoutMs: 1 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SqliteStatementTimeoutError);
    expect(dialect.classifyError(err)).toBe('timeout');
    expect((err as SqliteStatementTimeoutError).elapsedMs).toBeGreaterThan(1);
    // A generous timeout lets the same statement through.
    expect((await conn.execute(slow, [], { timeoutMs: 60_000 })).rows).toEqual([{ n: 3000000 }]);
  });

  it('shares one transaction between raw statements and Kysely', async () => {
    const conn = await connect(`sqlite:${path.join(dir, 'tx.db')}`);
    await conn.execute('create table t (x integer)');

    // Raw BEGIN, Kysely write, raw ROLLBACK: the Kysely write is undone.
    await conn.execute('begin');
    await sql`insert into t (x) values (${1})`.execute(conn.db);
    expect(conn.handle.inTransaction).toBe(true);
    await conn.execute('rollback');
    expect((await conn.execute('select count(*) as n from t')).rows).toEqual([{ n: 0 }]);

    // Kysely transaction, raw write inside, Kysely rolls back: the raw write is undone.
    await expect(
      conn.db.transaction().execute(async (trx) => {
        await conn.execute('insert into t (x) values (?)', [2]);
        await sql`insert into t (x) values (${3})`.execute(trx);
        throw new Error('abort');
      }),
    ).rejects.toThrow('abort');
    expect((await conn.execute('select count(*) as n from t')).rows).toEqual([{ n: 0 }]);

    // Savepoints work across both too.
    await conn.execute('begin');
    await conn.execute('insert into t (x) values (4)');
    await conn.execute('savepoint s1');
    await sql`insert into t (x) values (${5})`.execute(conn.db);
    await conn.execute('rollback to savepoint s1');
    await conn.execute('commit');
    expect((await conn.execute('select x from t')).rows).toEqual([{ x: 4 }]);
  });
});

describe('close', () => {
  it('closes the handle and Kysely, and is idempotent', async () => {
    const conn = await dialect.connect(`sqlite:${path.join(dir, 'c.db')}`);
    await sql`select 1`.execute(conn.db);
    expect(conn.isOpen).toBe(true);
    await conn.close();
    await conn.close();
    expect(conn.isOpen).toBe(false);
    expect(conn.handle.open).toBe(false);
    await expect(conn.execute('select 1')).rejects.toThrow();
  });

  it('rolls back an open transaction', async () => {
    const file = path.join(dir, 'r.db');
    const conn = await dialect.connect(`sqlite:${file}`);
    await conn.execute('create table t (x)');
    await conn.execute('begin');
    await conn.execute('insert into t values (1)');
    await conn.close();
    const again = await connect(`sqlite:${file}`);
    expect((await again.execute('select count(*) as n from t')).rows).toEqual([{ n: 0 }]);
  });
});
