import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SqliteConnection } from './sqlite-connection.js';
import { SqliteDialect } from './sqlite-dialect.js';
import { classifySqliteError, SqliteStatementTimeoutError } from './sqlite-errors.js';

let dir: string;
let file: string;
const open: SqliteConnection[] = [];
// A short busy timeout: SQLite's busy wait blocks the thread, and the busy test waits it out once.
const dialect = new SqliteDialect({ busyTimeoutMs: 50 });

async function connect(): Promise<SqliteConnection> {
  const conn = await dialect.connect(`sqlite:${file}`);
  open.push(conn);
  return conn;
}

/** Runs `fn` and returns what it threw (failing the test if it did not throw). */
async function failure(fn: () => Promise<unknown>): Promise<unknown> {
  try {
    await fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected an error');
}

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'cmpkg-sqlite-err-'));
  file = path.join(dir, 'e.db');
});

afterEach(async () => {
  for (const conn of open.splice(0)) await conn.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('classifyError on errors SQLite really raises', () => {
  it('constraint violations', async () => {
    const conn = await connect();
    await conn.execute(
      'create table t (id integer primary key, email text unique not null, n integer check (n > 0))',
    );
    await conn.execute("insert into t (email, n) values ('a@x', 1)");
    const unique = await failure(() => conn.execute("insert into t (email, n) values ('a@x', 1)"));
    expect((unique as { code: string }).code).toBe('SQLITE_CONSTRAINT_UNIQUE');
    expect(dialect.classifyError(unique)).toBe('constraint');
    expect(
      dialect.classifyError(await failure(() => conn.execute('insert into t (email, n) values (null, 1)'))),
    ).toBe('constraint');
    expect(
      dialect.classifyError(await failure(() => conn.execute("insert into t (email, n) values ('b', 0)"))),
    ).toBe('constraint');
  });

  it('syntax errors, but not other SQLITE_ERRORs', async () => {
    const conn = await connect();
    expect(dialect.classifyError(await failure(() => conn.execute('selec 1')))).toBe('syntax');
    expect(dialect.classifyError(await failure(() => conn.execute('select (1')))).toBe('syntax');
    expect(dialect.classifyError(await failure(() => conn.execute("select 'unterminated")))).toBe('syntax');
    const noTable = await failure(() => conn.execute('select * from nope'));
    expect((noTable as { code: string }).code).toBe('SQLITE_ERROR');
    expect(dialect.classifyError(noTable)).toBe('unknown');
  });

  it('busy when a second connection holds the write lock', async () => {
    const writer = await connect();
    const other = await connect();
    await writer.execute('create table t (x)');
    await writer.execute('begin immediate');
    await writer.execute('insert into t values (1)');
    const busy = await failure(() => other.execute('insert into t values (2)'));
    expect((busy as { code: string }).code).toMatch(/^SQLITE_BUSY/);
    expect(dialect.classifyError(busy)).toBe('transient');
    await writer.execute('commit');
    await other.execute('insert into t values (2)');
  });

  it('permission for a read-only database', async () => {
    const conn = await connect();
    await conn.execute('create table t (x)');
    const ro = new Database(file, { readonly: true });
    try {
      let err: unknown;
      try {
        ro.prepare('insert into t values (1)').run();
      } catch (e) {
        err = e;
      }
      expect((err as { code: string }).code).toMatch(/^SQLITE_READONLY/);
      expect(classifySqliteError(err)).toBe('permission');
    } finally {
      ro.close();
    }
  });
});

describe('classifySqliteError', () => {
  it('maps codes, looks through causes and leaves foreign errors unknown', () => {
    const sqliteError = (code: string, message = 'x') => new Database.SqliteError(message, code);
    expect(classifySqliteError(sqliteError('SQLITE_LOCKED_SHAREDCACHE'))).toBe('transient');
    expect(classifySqliteError(sqliteError('SQLITE_BUSY_SNAPSHOT'))).toBe('transient');
    expect(classifySqliteError(sqliteError('SQLITE_INTERRUPT'))).toBe('timeout');
    expect(classifySqliteError(sqliteError('SQLITE_AUTH'))).toBe('permission');
    expect(classifySqliteError(sqliteError('SQLITE_PERM'))).toBe('permission');
    expect(classifySqliteError(sqliteError('SQLITE_IOERR_WRITE'))).toBe('unknown');
    // A row's values at fault: a STRICT column's type, a non-integer rowid, a value over the limit.
    expect(classifySqliteError(sqliteError('SQLITE_CONSTRAINT_DATATYPE'))).toBe('constraint');
    expect(classifySqliteError(sqliteError('SQLITE_MISMATCH'))).toBe('constraint');
    expect(classifySqliteError(sqliteError('SQLITE_TOOBIG'))).toBe('constraint');
    expect(classifySqliteError(new SqliteStatementTimeoutError(10, 20))).toBe('timeout');
    const wrapped = new Error('step failed', { cause: sqliteError('SQLITE_CONSTRAINT_FOREIGNKEY') });
    expect(classifySqliteError(wrapped)).toBe('constraint');
    expect(classifySqliteError(new Error('boom'))).toBe('unknown');
    expect(classifySqliteError(Object.assign(new Error('x'), { code: 'ECONNRESET' }))).toBe('unknown');
    expect(classifySqliteError('SQLITE_BUSY')).toBe('unknown');
    expect(classifySqliteError(null)).toBe('unknown');
  });
});
