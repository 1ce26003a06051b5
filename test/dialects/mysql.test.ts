import { type AddressInfo, createServer } from 'node:net';
import { ConnectionError, LockTimeoutError, type TableSnapshot } from '@cmpkg/core';
import {
  LOCK_TABLE,
  type MysqlConnection,
  MysqlDialect,
  MysqlReadOnlyError,
  MysqlStatementTimeoutError,
  mysqlLockName,
  openMysqlConnection,
} from '@cmpkg/dialect-mysql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { comparableTable, portableSchema } from '../fixtures/portable-schema.js';
import { createTestDatabase, engineAvailable, type TestDatabase } from '../helpers/engines.js';
import { type AdminClient, adminClient } from '../helpers/servers.js';

const dialect = new MysqlDialect({ connectTimeoutMs: 5000 });

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.skipIf(!engineAvailable('mysql'))('MySQL dialect (real server)', () => {
  let db: TestDatabase;
  let admin: AdminClient;
  const open: MysqlConnection[] = [];
  const others: TestDatabase[] = [];

  async function connect(url = db.url, readOnly = false): Promise<MysqlConnection> {
    const conn = await dialect.connect(url, { readOnly });
    open.push(conn);
    return conn;
  }

  async function otherDatabase(): Promise<TestDatabase> {
    const other = await createTestDatabase('mysql');
    others.push(other);
    return other;
  }

  async function lockHolderId(database: string, name = 'cmpkg'): Promise<number | null> {
    const [row] = await admin.query('select is_used_lock(?) as id', [mysqlLockName(database, name)]);
    return row?.id === null || row?.id === undefined ? null : Number(row.id);
  }

  beforeAll(async () => {
    db = await createTestDatabase('mysql');
    admin = await adminClient('mysql');
  });

  afterAll(async () => {
    for (const conn of open.splice(0)) await conn.close();
    await admin?.close();
    for (const other of others) await other.drop();
    await db?.drop();
  });

  it('connects, executes and reports rowsAffected', async () => {
    const conn = await connect();
    expect(conn.engine).toBe('mysql');
    expect(dialect.handles(db.url)).toBe(true);
    expect(conn.displayUrl).toBe(db.url);
    await conn.execute('create table t_exec (id int primary key, name varchar(20))');
    expect(
      (await conn.execute('insert into t_exec values (?, ?), (?, ?)', [1, 'a', 2, "b'c"])).rowsAffected,
    ).toBe(2);
    expect((await conn.execute("update t_exec set name = 'z' where id > ?", [0])).rowsAffected).toBe(2);
    const { rows, rowsAffected } = await conn.execute('select id, name from t_exec order by id');
    expect(rows).toEqual([
      { id: 1, name: 'z' },
      { id: 2, name: 'z' },
    ]);
    expect(rowsAffected).toBe(0);
    // Kysely runs on the same session: it sees this session's uncommitted rows.
    await conn.execute('begin');
    await conn.execute("insert into t_exec values (3, 'uncommitted')");
    const viaKysely = await conn.db
      .selectFrom('t_exec' as never)
      .selectAll()
      .execute();
    expect(viaKysely).toHaveLength(3);
    await conn.execute('rollback');
    // The session is UTC, so TIMESTAMP columns read and write UTC.
    const [tz] = (await conn.execute<{ tz: string }>('select @@session.time_zone as tz')).rows;
    expect(tz?.tz).toBe('+00:00');
    // The server's default sql_mode is kept (mysql2 would add IGNORE_SPACE).
    const [mode] = (await conn.execute<{ m: string }>('select @@session.sql_mode as m')).rows;
    const [serverMode] = await admin.query('select @@global.sql_mode as m');
    expect(mode?.m).toBe(serverMode?.m);
  });

  it('binds parameters of every kind the engine passes, and Dates as UTC', async () => {
    const conn = await connect();
    await conn.execute(
      'create table t_params (s varchar(50), n double, b tinyint(1), d datetime(3), bin varbinary(8), j json, z int)',
    );
    const when = new Date('2024-01-02T03:04:05.678Z');
    await conn.execute('insert into t_params values (?, ?, ?, ?, ?, ?, ?)', [
      "it's a \\ test?",
      1.5,
      true,
      when,
      Buffer.from([0, 255]),
      JSON.stringify({ a: [1] }),
      undefined,
    ]);
    const [row] = (
      await conn.execute<Record<string, unknown>>(
        "select s, n, b, date_format(d, '%Y-%m-%d %H:%i:%s.%f') as d, hex(bin) as bin, j, z from t_params where s = ?",
        ["it's a \\ test?"],
      )
    ).rows;
    expect(row).toEqual({
      s: "it's a \\ test?",
      n: 1.5,
      b: 1,
      d: '2024-01-02 03:04:05.678000',
      bin: '00FF',
      j: { a: [1] },
      z: null,
    });
  });

  it('a read-only connection refuses INSERT and CREATE TABLE with a permission error', async () => {
    const writer = await connect();
    await writer.execute('create table t_ro (x int)');
    const conn = await connect(db.url, true);
    expect(conn.readOnly).toBe(true);
    // MariaDB 10.11 refuses DDL in a read-only session itself.
    expect(conn.readOnlyGuard).toBe('server');
    expect((await conn.execute('select count(*) as n from t_ro')).rows).toEqual([{ n: 0 }]);
    for (const statement of ['insert into t_ro values (1)', 'create table t_ro2 (x int)']) {
      const err = await conn.execute(statement).catch((e: unknown) => e);
      expect(dialect.classifyError(err), statement).toBe('permission');
    }
    // What read-only mode itself would let through is refused before it reaches the server.
    const writable = await conn.execute('SET SESSION TRANSACTION READ WRITE').catch((e: unknown) => e);
    expect(writable).toBeInstanceOf(MysqlReadOnlyError);
    expect(dialect.classifyError(writable)).toBe('permission');
    expect(await db.tableNames()).not.toContain('t_ro2');
  });

  it('screens every statement on servers that would run DDL in a read-only session', async () => {
    const conn = await openMysqlConnection(db.url, { readOnly: true, readOnlyGuard: 'statements' });
    open.push(conn);
    expect(conn.readOnlyGuard).toBe('statements');
    expect((await conn.execute('select 1 as one')).rows).toEqual([{ one: 1 }]);
    expect((await conn.execute('show tables')).rows.length).toBeGreaterThan(0);
    for (const statement of [
      'create table t_guard (x int)',
      'drop table if exists t_exec',
      'insert into t_exec values (9, null)',
      'with x as (select 1 as id) delete from t_exec where id in (select id from x)',
    ]) {
      const err = await conn.execute(statement).catch((e: unknown) => e);
      expect(err, statement).toBeInstanceOf(MysqlReadOnlyError);
      expect(dialect.classifyError(err)).toBe('permission');
    }
    expect(await db.tableNames()).toContain('t_exec');
    expect(await db.count('t_exec')).toBe(2);
  });

  it('fails to connect to a closed port with one line naming host and port', async () => {
    const url = 'mysql://root:secret@127.0.0.1:1/whatever';
    const err = await dialect.connect(url).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectionError);
    const message = (err as Error).message;
    expect(message).toBe('cannot connect to MySQL at 127.0.0.1:1/whatever: connection refused');
    expect(message).not.toContain('\n');
    expect(message).not.toContain('secret');
    expect((err as ConnectionError).details).toEqual({ host: '127.0.0.1', port: 1, database: 'whatever' });
    expect((err as Error).cause).toBeDefined();
  });

  it('gives up on a server that never answers after connectTimeoutMs', async () => {
    // Accepts TCP connections but never sends the MySQL handshake.
    const silent = createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as AddressInfo).port;
    try {
      const started = Date.now();
      const err = await new MysqlDialect({ connectTimeoutMs: 300 })
        .connect(`mysql://root@127.0.0.1:${port}/app`)
        .catch((e: unknown) => e);
      expect(Date.now() - started).toBeLessThan(3000);
      expect(err).toBeInstanceOf(ConnectionError);
      expect((err as Error).message).toBe(
        `cannot connect to MySQL at 127.0.0.1:${port}/app: timed out after 300 ms`,
      );
    } finally {
      silent.close();
    }
  });

  it('names an unknown database and a refused user on their own clear lines', async () => {
    const url = new URL(db.url);
    url.pathname = '/cmpkg_no_such_database';
    const err = await dialect.connect(url.toString()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectionError);
    expect((err as Error).message).toBe(
      `cannot connect to MySQL at ${url.hostname}:${url.port}/cmpkg_no_such_database: unknown database 'cmpkg_no_such_database'`,
    );
    const denied = new URL(db.url);
    denied.username = 'cmpkg_no_such_user';
    denied.password = 'wrong';
    const err2 = await dialect.connect(denied.toString()).catch((e: unknown) => e);
    expect(err2).toBeInstanceOf(ConnectionError);
    expect((err2 as Error).message).toMatch(/: access denied for user 'cmpkg_no_such_user'@'[^']+'$/);
  });

  it('times a second lock out naming the holder; release lets it through', async () => {
    const a = await connect();
    const b = await connect();
    const release = await dialect.acquireLock(a, 'cmpkg', { timeoutMs: 1000, holder: 'holder-a@ci' });
    expect(await lockHolderId(a.database)).toBe(a.threadId);
    const rows = (await b.execute(`select name, holder, connection_id from ${LOCK_TABLE}`)).rows;
    expect(rows).toEqual([{ name: 'cmpkg', holder: 'holder-a@ci', connection_id: a.threadId }]);

    const started = Date.now();
    const err = await dialect.acquireLock(b, 'cmpkg', { timeoutMs: 300 }).catch((e: unknown) => e);
    const waited = Date.now() - started;
    expect(err).toBeInstanceOf(LockTimeoutError);
    expect(waited).toBeGreaterThanOrEqual(290);
    expect(waited).toBeLessThan(1500);
    const message = (err as Error).message;
    expect(message).toContain('timed out after 300 ms waiting for lock "cmpkg"');
    expect(message).toContain(`held by holder-a@ci (connection ${a.threadId}, root@`);
    expect((err as LockTimeoutError).details).toMatchObject({
      holder: 'holder-a@ci',
      holderConnectionId: a.threadId,
    });

    // Not re-entrant within one connection either.
    await expect(dialect.acquireLock(a, 'cmpkg', { timeoutMs: 50 })).rejects.toThrow(/already holds it/);

    await release();
    await release(); // safe twice
    expect((await b.execute(`select count(*) as n from ${LOCK_TABLE}`)).rows).toEqual([{ n: 0 }]);
    const releaseB = await dialect.acquireLock(b, 'cmpkg', { timeoutMs: 1000 });
    expect(await lockHolderId(b.database)).toBe(b.threadId);
    await releaseB();
    expect(await lockHolderId(b.database)).toBeNull();
  });

  it('frees the lock when the holding connection dies, and close() releases it', async () => {
    const holder = await connect();
    await dialect.acquireLock(holder, 'cmpkg', { timeoutMs: 1000, holder: 'doomed' });
    await admin.query(`kill ${holder.threadId}`);
    const waiter = await connect();
    const release = await dialect.acquireLock(waiter, 'cmpkg', { timeoutMs: 2000 });
    expect(await lockHolderId(waiter.database)).toBe(waiter.threadId);
    await release();

    const closing = await connect();
    await dialect.acquireLock(closing, 'cmpkg', { timeoutMs: 1000 });
    await closing.close();
    expect(await lockHolderId(closing.database)).toBeNull();
  });

  it('keeps the locks of two databases on one server independent', async () => {
    const other = await otherDatabase();
    const a = await connect();
    const b = await connect(other.url);
    const ra = await dialect.acquireLock(a, 'cmpkg', { timeoutMs: 500 });
    const rb = await dialect.acquireLock(b, 'cmpkg', { timeoutMs: 500 });
    expect(await lockHolderId(a.database)).toBe(a.threadId);
    expect(await lockHolderId(b.database)).toBe(b.threadId);
    await ra();
    await rb();
  });

  it('stops a statement over its timeout on the server and keeps the connection usable', async () => {
    const conn = await connect();
    const thread = conn.threadId;
    const started = Date.now();
    const err = await conn.execute('select sleep(5)', [], { timeoutMs: 300 }).catch((e: unknown) => e);
    const elapsed = Date.now() - started;
    expect(err).toBeInstanceOf(MysqlStatementTimeoutError);
    expect(dialect.classifyError(err)).toBe('timeout');
    expect((err as Error).cause).toMatchObject({ errno: 1317 });
    expect(elapsed).toBeLessThan(2000);
    expect((await conn.execute('select 1 as one')).rows).toEqual([{ one: 1 }]);
    expect(conn.threadId).toBe(thread);
    // A statement that finishes in time is untouched, and so is the one after it.
    expect((await conn.execute('select sleep(0.05) as s', [], { timeoutMs: 2000 })).rows).toEqual([{ s: 0 }]);
    expect((await conn.execute('select 2 as two')).rows).toEqual([{ two: 2 }]);
  });

  it('classifies a real deadlock as transient', async () => {
    const a = await connect();
    const b = await connect();
    await a.execute('create table t_deadlock (id int primary key, v int) engine=InnoDB');
    await a.execute('insert into t_deadlock values (1, 0), (2, 0)');
    await a.execute('begin');
    await b.execute('begin');
    await a.execute('update t_deadlock set v = 1 where id = 1');
    await b.execute('update t_deadlock set v = 1 where id = 2');
    const first = a.execute('update t_deadlock set v = 2 where id = 2').then(
      () => undefined,
      (e: unknown) => e,
    );
    await sleep(100);
    const second = b.execute('update t_deadlock set v = 2 where id = 1').then(
      () => undefined,
      (e: unknown) => e,
    );
    const errors = (await Promise.all([first, second])).filter((e) => e !== undefined);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ errno: 1213 });
    expect(dialect.classifyError(errors[0])).toBe('transient');
    await a.execute('rollback');
    await b.execute('rollback');
  });

  it('classifies duplicate keys as constraint and bad SQL as syntax', async () => {
    const conn = await connect();
    await conn.execute('create table t_dup (id int primary key)');
    await conn.execute('insert into t_dup values (1)');
    const dup = await conn.execute('insert into t_dup values (1)').catch((e: unknown) => e);
    expect(dialect.classifyError(dup)).toBe('constraint');
    const bad = await conn.execute('selec 1').catch((e: unknown) => e);
    expect(dialect.classifyError(bad)).toBe('syntax');
    const missing = await conn.execute('select * from t_no_such_table').catch((e: unknown) => e);
    expect(dialect.classifyError(missing)).toBe('syntax');
  });

  it('reconnects after KILL and takes its lock back', async () => {
    const conn = await connect();
    await conn.execute('set @session_value = 1');
    await dialect.acquireLock(conn, 'cmpkg', { timeoutMs: 1000, holder: 'survivor' });
    const before = conn.threadId;
    await admin.query(`kill ${before}`);
    await sleep(100);
    // The drop may be noticed by this statement (transient error) or before it (transparent reconnect).
    const first = await conn.execute('select 1 as one').catch((e: unknown) => e);
    if (first instanceof Error) expect(dialect.classifyError(first)).toBe('transient');
    else expect(first).toEqual({ rows: [{ one: 1 }], rowsAffected: 0 });
    const { rows } = await conn.execute<{ tz: string; ro: number }>(
      'select @@session.time_zone as tz, @session_value as v',
    );
    expect(rows).toEqual([{ tz: '+00:00', v: null }]);
    expect(conn.threadId).not.toBe(before);
    expect(await lockHolderId(conn.database)).toBe(conn.threadId);
    const [row] = (await conn.execute(`select holder, connection_id from ${LOCK_TABLE} where name = 'cmpkg'`))
      .rows;
    expect(row).toEqual({ holder: 'survivor', connection_id: conn.threadId });
    // Kysely follows the new session too (a temporary table exists only in its own session).
    await conn.execute('create temporary table t_session (id int)');
    expect(
      await conn.db
        .selectFrom('t_session' as never)
        .selectAll()
        .execute(),
    ).toEqual([]);

    // Killed while a statement runs: that statement fails transient, the next one reconnects.
    const during = conn.threadId;
    const running = conn.execute('select sleep(3)').catch((e: unknown) => e);
    await sleep(200);
    await admin.query(`kill ${during}`);
    const failed = await running;
    expect(failed).toBeInstanceOf(Error);
    expect(dialect.classifyError(failed)).toBe('transient');
    expect((await conn.execute('select 3 as three')).rows).toEqual([{ three: 3 }]);
    expect(conn.threadId).not.toBe(during);
    expect(await lockHolderId(conn.database)).toBe(conn.threadId);
    await conn.close();
    expect(await lockHolderId(conn.database)).toBeNull();
  });

  it('fails with a ConnectionError when a reconnect cannot take its lock back', {
    timeout: 30_000,
  }, async () => {
    const conn = await connect();
    await dialect.acquireLock(conn, 'cmpkg', { timeoutMs: 1000, holder: 'first' });
    await admin.query(`kill ${conn.threadId}`);
    const thief = await connect();
    const release = await dialect.acquireLock(thief, 'cmpkg', { timeoutMs: 2000, holder: 'thief' });
    const started = Date.now();
    const err = await conn.execute('select 1').catch((e: unknown) => e);
    expect(Date.now() - started).toBeGreaterThanOrEqual(9_000);
    expect(err).toBeInstanceOf(ConnectionError);
    expect((err as Error).message).toMatch(
      /could not take back lock "cmpkg:.*" within 10 s: it is held by thief/,
    );
    expect(dialect.classifyError(err)).not.toBe('transient');
    // The connection itself works again; the lock stays with the thief.
    expect((await conn.execute('select 1 as one')).rows).toEqual([{ one: 1 }]);
    expect(await lockHolderId(conn.database)).toBe(thief.threadId);
    await release();
  });

  it('does not silently continue a transaction the server rolled back', async () => {
    const conn = await connect();
    await conn.execute('create table t_tx (id int primary key)');
    await conn.execute('begin');
    await conn.execute('insert into t_tx values (1)');
    await admin.query(`kill ${conn.threadId}`);
    await sleep(100);
    await conn.execute('insert into t_tx values (2)').catch(() => undefined);
    const err = await conn.execute('insert into t_tx values (3)').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectionError);
    expect((err as Error).message).toMatch(/lost inside a transaction/);
    await conn.execute('rollback');
    expect((await conn.execute('select count(*) as n from t_tx')).rows).toEqual([{ n: 0 }]);
  });

  it('splits and runs a procedure and a trigger with BEGIN ... END bodies', async () => {
    const conn = await connect();
    const script = `
      # notes; with a semicolon
      CREATE TABLE t_split (id INT PRIMARY KEY, note VARCHAR(50));
      CREATE TRIGGER t_split_bi BEFORE INSERT ON t_split FOR EACH ROW
      BEGIN
        IF NEW.note IS NULL THEN SET NEW.note = 'default; note'; END IF;
      END;
      CREATE PROCEDURE t_split_add(IN n INT)
      BEGIN
        DECLARE i INT DEFAULT 0;
        WHILE i < n DO
          SET i = i + 1;
          INSERT INTO t_split (id) VALUES (i);
        END WHILE;
      END;
      INSERT INTO t_split VALUES (100, 'it\\'s; fine');
      CALL t_split_add(2);
    `;
    const statements = dialect.splitStatements(script);
    expect(statements).toHaveLength(5);
    for (const statement of statements) await conn.execute(statement);
    expect((await conn.execute('select id, note from t_split order by id')).rows).toEqual([
      { id: 1, note: 'default; note' },
      { id: 2, note: 'default; note' },
      { id: 100, note: "it's; fine" },
    ]);
  });

  it('counts base tables and indexes', async () => {
    const other = await otherDatabase();
    const conn = await connect(other.url);
    expect(await dialect.countSchemaObjects(conn)).toEqual({ tables: 0, indexes: 0 });
    await conn.execute('create table a (id int primary key, x int, y int, key a_x (x), unique key a_y (y))');
    await conn.execute('create view v as select 1 as one');
    expect(await dialect.countSchemaObjects(conn)).toEqual({ tables: 1, indexes: 2 });
  });

  describe('introspection', () => {
    let conn: MysqlConnection;
    let fresh: TestDatabase;
    const schema = portableSchema(dialect.capabilities);

    beforeAll(async () => {
      fresh = await otherDatabase();
      conn = await connect(fresh.url);
      for (const table of schema)
        for (const statement of dialect.renderDdl({ kind: 'createTable', table })) {
          await conn.execute(statement);
        }
      for (const statement of dialect.splitStatements(`
        CREATE VIEW rt_active_authors AS SELECT id, email FROM rt_authors WHERE active = 1;
        CREATE TRIGGER rt_posts_touch BEFORE UPDATE ON rt_posts FOR EACH ROW
        BEGIN
          SET NEW.edited_at = CURRENT_TIMESTAMP(6);
        END;
        CREATE FUNCTION rt_add_one(x INT) RETURNS INT DETERMINISTIC RETURN x + 1;
        CREATE PROCEDURE rt_count_posts(OUT n INT)
        BEGIN
          SELECT COUNT(*) INTO n FROM rt_posts;
        END;
        INSERT INTO rt_authors (email, name) VALUES ('a@example.com', 'A'), ('b@example.com', NULL);
      `)) {
        await conn.execute(statement);
      }
      await dialect.acquireLock(conn, 'cmpkg', { timeoutMs: 1000 }).then((release) => release());
    });

    it('gives back the portable schema it was created from', async () => {
      const snapshot = await dialect.introspect(conn);
      expect(snapshot.format).toBe('cmpkg-schema/1');
      expect(snapshot.engine).toBe('mysql');
      expect(snapshot.schema).toBe(fresh.url.split('/').pop());
      expect(snapshot.serverVersion).toMatch(/^\d+\.\d+/);
      expect(snapshot.tables.map((t) => t.name)).toEqual(['rt_authors', 'rt_posts']);
      for (const expected of schema) {
        const actual = snapshot.tables.find((t) => t.name === expected.name)!;
        expect(comparableTable(actual), expected.name).toEqual(comparableTable(expected));
        expect(actual.createSql).toEqual(dialect.renderDdl({ kind: 'createTable', table: actual }));
      }
      const posts = snapshot.tables.find((t) => t.name === 'rt_posts')!;
      const embedding = posts.columns.find((c) => c.name === 'embedding')!;
      expect(embedding).toMatchObject({ type: 'vector(3)' });
      expect(embedding.comment).toBeUndefined();
      expect(posts.columns.find((c) => c.name === 'meta')?.type).toBe('json');
      // MariaDB's implicit json_valid checks are not listed.
      expect(posts.checks.map((c) => c.name)).toEqual(['rt_posts_price_check']);
    });

    it('reads views, triggers, functions and procedures with their CREATE statements', async () => {
      const snapshot = await dialect.introspect(conn);
      expect(snapshot.views).toHaveLength(1);
      expect(snapshot.views[0]).toMatchObject({ name: 'rt_active_authors' });
      expect(snapshot.views[0]!.createSql).toMatch(/^CREATE VIEW `rt_active_authors` AS select/);
      expect(snapshot.views[0]!.definition).not.toContain(snapshot.schema);
      expect(snapshot.triggers).toEqual([
        {
          name: 'rt_posts_touch',
          table: 'rt_posts',
          timing: 'before',
          events: ['update'],
          createSql: expect.stringMatching(
            /^CREATE TRIGGER `?rt_posts_touch`? BEFORE UPDATE ON `?rt_posts`?/,
          ),
        },
      ]);
      expect(snapshot.triggers[0]!.createSql).not.toContain('DEFINER');
      expect(snapshot.routines.map((r) => [r.name, r.kind, r.language])).toEqual([
        ['rt_add_one', 'function', 'sql'],
        ['rt_count_posts', 'procedure', 'sql'],
      ]);
      expect(snapshot.routines[0]!.createSql).toMatch(/^CREATE FUNCTION `rt_add_one`/);
      expect(snapshot.routines[1]!.createSql).toMatch(/^CREATE PROCEDURE `rt_count_posts`/);
    });

    it('filters tables, counts exactly when asked, and hides history tables', async () => {
      const all = await dialect.introspect(conn);
      expect(all.tables.map((t) => t.name)).not.toContain(LOCK_TABLE);
      const withHistory = await dialect.introspect(conn, { includeHistoryTables: true });
      expect(withHistory.tables.map((t) => t.name)).toContain(LOCK_TABLE);

      const only = await dialect.introspect(conn, { tables: ['rt_posts'], exactCounts: true });
      expect(only.tables.map((t) => t.name)).toEqual(['rt_posts']);
      expect(only.triggers.map((t) => t.name)).toEqual(['rt_posts_touch']);
      expect(only.views).toEqual([]);
      expect(only.routines).toEqual([]);
      const authors = await dialect.introspect(conn, { tables: ['rt_authors'], exactCounts: true });
      expect(authors.tables[0]).toMatchObject({ rowCount: 2, rowCountExact: true });
      expect(authors.triggers).toEqual([]);
      const estimated = all.tables.find((t) => t.name === 'rt_authors') as TableSnapshot;
      expect(estimated.rowCountExact).toBe(false);
      expect(estimated.sizeBytes).toBeGreaterThan(0);
    });

    it('recreates an equal schema from the CREATE statements in another database', async () => {
      const snapshot = await dialect.introspect(conn);
      const copy = await otherDatabase();
      const target = await connect(copy.url);
      // Tables in name order; FOREIGN_KEY_CHECKS=0 lets a table reference one created after it.
      await target.execute('set foreign_key_checks = 0');
      for (const t of snapshot.tables) for (const statement of t.createSql) await target.execute(statement);
      await target.execute('set foreign_key_checks = 1');
      for (const v of snapshot.views) await target.execute(v.createSql);
      for (const t of snapshot.triggers) await target.execute(t.createSql);
      for (const r of snapshot.routines) await target.execute(r.createSql);
      const again = await dialect.introspect(target);
      const strip = (s: typeof snapshot) => ({
        ...s,
        schema: undefined,
        tables: s.tables.map((t) => ({
          ...t,
          rowCount: undefined,
          rowCountExact: undefined,
          sizeBytes: undefined,
        })),
      });
      expect(strip(again)).toEqual(strip(snapshot));
    });

    it('keeps what only MySQL has: ON UPDATE CURRENT_TIMESTAMP, collations, spatial and prefix indexes', async () => {
      const source = await otherDatabase();
      const c = await connect(source.url);
      await c.execute(`
        CREATE TABLE places (
          id INT NOT NULL PRIMARY KEY,
          title VARCHAR(300) NOT NULL,
          geo POINT NOT NULL,
          changed TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
          changed6 DATETIME(6) NULL DEFAULT NULL ON UPDATE CURRENT_TIMESTAMP(6),
          token VARCHAR(64) COLLATE utf8mb4_bin NOT NULL,
          legacy VARCHAR(10) CHARACTER SET utf8mb3 COLLATE utf8mb3_general_ci NULL,
          meta JSON NULL,
          SPATIAL KEY places_geo (geo),
          KEY places_title (title(10)),
          UNIQUE KEY places_token (token)
        ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci`);
      await c.execute(
        'CREATE TABLE tags (name VARCHAR(20) NOT NULL) DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci',
      );
      const snapshot = await dialect.introspect(c);
      const places = snapshot.tables.find((t) => t.name === 'places')!;
      const tags = snapshot.tables.find((t) => t.name === 'tags')!;
      // A whole table in a collation that DEFAULT CHARSET=utf8mb4 would not give keeps it too.
      expect(tags.columns[0]).toMatchObject({ name: 'name', collation: 'utf8mb4_unicode_ci' });
      expect(places.columns.find((col) => col.name === 'changed')).toMatchObject({
        type: 'timestamptz',
        default: 'CURRENT_TIMESTAMP',
        onUpdate: 'CURRENT_TIMESTAMP',
      });
      expect(places.columns.find((col) => col.name === 'changed6')).toMatchObject({
        type: 'timestamp',
        onUpdate: 'CURRENT_TIMESTAMP',
      });
      expect(places.columns.find((col) => col.name === 'changed6')?.default).toBeUndefined();
      // A case-sensitive (binary) or legacy column collation changes what equal and unique mean.
      expect(places.columns.find((col) => col.name === 'token')).toMatchObject({ collation: 'utf8mb4_bin' });
      expect(places.columns.find((col) => col.name === 'legacy')).toMatchObject({
        collation: 'utf8mb3_general_ci',
      });
      for (const same of ['title', 'meta']) {
        expect(
          places.columns.find((col) => col.name === same),
          same,
        ).not.toHaveProperty('collation');
      }
      expect(places.indexes.find((i) => i.name === 'places_geo')).toEqual({
        name: 'places_geo',
        unique: false,
        method: 'spatial',
        parts: [{ column: 'geo' }],
      });

      const copy = await otherDatabase();
      const target = await connect(copy.url);
      for (const t of snapshot.tables) for (const statement of t.createSql) await target.execute(statement);
      const again = await dialect.introspect(target);
      const strip = (t: TableSnapshot) => ({ ...t, sizeBytes: undefined });
      expect(again.tables.map(strip)).toEqual(snapshot.tables.map(strip));
      // The recreated column really updates itself.
      await target.execute("INSERT INTO places (id, title, geo, token) VALUES (1, 'a', POINT(1, 2), 'Ab')");
      await target.execute("INSERT INTO places (id, title, geo, token) VALUES (2, 'a', POINT(1, 2), 'AB')");
      await target.execute("UPDATE places SET title = 'b'");
      const { rows } = await target.execute<{ changed6: unknown }>(
        'SELECT changed6 FROM places WHERE id = 1',
      );
      expect(rows[0]?.changed6).not.toBeNull();
    });
  });
});
