import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { BackupRequiredError, type Connection, type Dialect, UsageError } from '@cmpkg/core';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SqliteConnection } from './sqlite-connection.js';
import { SqliteDialect } from './sqlite-dialect.js';

let dir: string;
let file: string;
const open: SqliteConnection[] = [];
const dialect = new SqliteDialect();

async function connect(url = `sqlite:${file}`): Promise<SqliteConnection> {
  const conn = await dialect.connect(url);
  open.push(conn);
  return conn;
}

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'cmpkg-sqlite-dialect-'));
  file = path.join(dir, 'app.db');
});

afterEach(async () => {
  for (const conn of open.splice(0)) await conn.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('SqliteDialect', () => {
  it('implements the core Dialect interface with SQLite capabilities', () => {
    const d: Dialect = dialect;
    expect(d.engine).toBe('sqlite');
    expect(d.capabilities).toEqual({
      transactionalDdl: true,
      concurrentIndex: false,
      returning: true,
      savepoints: true,
      statementTimeout: false,
      partialIndexes: true,
      expressionIndexes: true,
    });
    expect(d.splitter).toEqual({
      dollarQuotes: false,
      backslashEscapes: false,
      backtickIdentifiers: true,
      bracketIdentifiers: true,
      hashComments: false,
      nestedBlockComments: false,
      blockBodies: true,
    });
    expect(dialect.busyTimeoutMs).toBe(5000);
  });

  it('handles sqlite: URLs only', () => {
    expect(dialect.handles('sqlite:./a.db')).toBe(true);
    expect(dialect.handles('sqlite::memory:')).toBe(true);
    expect(dialect.handles('SQLite://./a.db')).toBe(true);
    expect(dialect.handles('postgres://localhost/db')).toBe(false);
    expect(dialect.handles('mysql://localhost/db')).toBe(false);
    expect(dialect.handles('./a.db')).toBe(false);
  });

  it('splits scripts with the core splitter, keeping trigger bodies whole', () => {
    const script = `create table [order] (id integer, \`note;\` text);
create trigger trg after insert on [order] begin
  update [order] set id = id + 1 where id = new.id;
  select 1;
end;
insert into [order] values (1, 'a;b');`;
    const statements = dialect.splitStatements(script);
    expect(statements).toHaveLength(3);
    expect(statements[1]).toMatch(/^create trigger[\s\S]*select 1;\s*end$/);
  });

  it('refuses connections of other dialects', async () => {
    const foreign = { engine: 'postgresql', displayUrl: 'postgres://x/y' } as unknown as Connection;
    await expect(dialect.countSchemaObjects(foreign)).rejects.toThrow(UsageError);
  });
});

describe('countSchemaObjects', () => {
  it('counts user tables and indexes, not sqlite_* internals', async () => {
    const conn = await connect();
    expect(await dialect.countSchemaObjects(conn)).toEqual({ tables: 0, indexes: 0 });
    // AUTOINCREMENT creates sqlite_sequence; UNIQUE creates sqlite_autoindex_*: neither counts.
    await conn.execute('create table a (id integer primary key autoincrement, email text unique)');
    await conn.execute('create table b (x)');
    await conn.execute('create index b_x on b (x)');
    await conn.execute('create view v as select * from a');
    expect(await dialect.countSchemaObjects(conn)).toEqual({ tables: 2, indexes: 1 });
  });
});

describe('backup', () => {
  it('writes a file that opens and holds the data', async () => {
    const conn = await connect();
    await conn.execute('create table t (x text)');
    await conn.execute("insert into t values ('kept')");
    const result = await dialect.backup(conn, { label: 'pre 1.2.0' });
    expect(path.dirname(result.location)).toBe(dir);
    expect(path.basename(result.location)).toMatch(/^app\.db\.pre-1\.2\.0\.\d{8}T\d{6}Z\.bak$/);
    expect(result.bytes).toBe(statSync(result.location).size);
    expect(result.bytes).toBeGreaterThan(0);
    const copy = new Database(result.location, { readonly: true });
    try {
      expect(copy.prepare('select x from t').all()).toEqual([{ x: 'kept' }]);
    } finally {
      copy.close();
    }
  });

  it('writes into a given directory, creating it, and never overwrites', async () => {
    const conn = await connect();
    await conn.execute('create table t (x)');
    const target = path.join(dir, 'backups', 'nested');
    const first = await dialect.backup(conn, { label: 'x', directory: target });
    const second = await dialect.backup(conn, { label: 'x', directory: target });
    expect(first.location).not.toBe(second.location);
    expect(readdirSync(target)).toHaveLength(2);
    expect(existsSync(first.location) && existsSync(second.location)).toBe(true);
  });

  it('refuses a read-only connection to a file that does not exist yet', async () => {
    const conn = await dialect.connect(`sqlite:${file}`, { readOnly: true });
    open.push(conn);
    await expect(dialect.backup(conn, { label: 'x' })).rejects.toThrow(BackupRequiredError);
    expect(existsSync(file)).toBe(false);
  });

  it('refuses in-memory databases with BackupRequiredError', async () => {
    const conn = await connect('sqlite::memory:');
    const err = await dialect.backup(conn, { label: 'x' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackupRequiredError);
    expect((err as Error).message).toMatch(/in-memory/);
  });
});
