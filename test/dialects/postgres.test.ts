import { spawn } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import {
  ConnectionError,
  LockTimeoutError,
  type SchemaSnapshot,
  type TableDefinition,
  type TableSnapshot,
} from '@cmpkg/core';
import {
  openPostgresConnection,
  type PostgresConnection,
  PostgresDialect,
  PostgresStatementTimeoutError,
  PostgresTransactionLostError,
} from '@cmpkg/dialect-postgres';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { comparableTable, portableSchema } from '../fixtures/portable-schema.js';
import { createTestDatabase, engineAvailable, type TestDatabase } from '../helpers/engines.js';

const dialect = new PostgresDialect({ connectTimeoutMs: 5000 });

/** Runs `fn` and returns what it threw (failing the test if it did not throw). */
async function failure(fn: () => Promise<unknown>): Promise<unknown> {
  try {
    await fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected an error');
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` until it holds (the server notices a terminated backend asynchronously). */
async function eventually(check: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await sleep(25);
  }
}

/**
 * A TCP proxy in front of the server that can go away and come back on the same port: from the
 * client's side, that is what a server restart looks like.
 */
function restartableProxy(target: URL) {
  let server: net.Server | undefined;
  const sockets = new Set<net.Socket>();
  const start = (port = 0) =>
    new Promise<number>((resolve, reject) => {
      server = net.createServer((client) => {
        const upstream = net.connect(Number(target.port || 5432), target.hostname);
        for (const [a, b] of [
          [client, upstream],
          [upstream, client],
        ] as const) {
          sockets.add(a);
          a.on('error', () => undefined);
          a.on('close', () => b.destroy());
          a.pipe(b);
        }
      });
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve((server!.address() as net.AddressInfo).port));
    });
  const stop = () =>
    new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy();
      sockets.clear();
      if (server === undefined) resolve();
      else server.close(() => resolve());
    });
  return { start, stop };
}

describe.skipIf(!engineAvailable('postgresql'))('PostgreSQL dialect', () => {
  let db: TestDatabase;
  const open: PostgresConnection[] = [];

  async function connect(options: { readOnly?: boolean; url?: string } = {}): Promise<PostgresConnection> {
    const conn = await dialect.connect(options.url ?? db.url, { readOnly: options.readOnly });
    open.push(conn);
    return conn;
  }

  /** The advisory locks of cmpkg's class held in the test database, seen from the admin client. */
  async function advisoryHolders(): Promise<number[]> {
    const rows = await db.query(
      `select l.pid from pg_locks l join pg_database d on d.oid = l.database
        where l.locktype = 'advisory' and l.granted and l.classid = 1668116587 and d.datname = current_database()`,
    );
    return rows.map((r) => Number(r.pid));
  }

  beforeAll(async () => {
    db = await createTestDatabase('postgresql');
  });

  afterEach(async () => {
    for (const conn of open.splice(0)) await conn.close();
  });

  afterAll(async () => {
    await db?.drop();
  });

  describe('connections', () => {
    it('runs statements and counts affected rows', async () => {
      const conn = await connect();
      expect(conn.engine).toBe('postgresql');
      expect(conn.displayUrl).toBe(db.url);
      expect(dialect.handles(db.url)).toBe(true);
      await conn.execute('create table conn_t (id int primary key, v text)');
      expect(await conn.execute('insert into conn_t values ($1, $2), ($3, $4)', [1, 'a', 2, 'b'])).toEqual({
        rows: [],
        rowsAffected: 2,
      });
      expect((await conn.execute("update conn_t set v = 'c' returning id")).rowsAffected).toBe(2);
      const { rows, rowsAffected } = await conn.execute('select id, v from conn_t order by id');
      expect(rows).toEqual([
        { id: 1, v: 'c' },
        { id: 2, v: 'c' },
      ]);
      expect(rowsAffected).toBe(0);
      expect((await conn.execute('delete from conn_t where id = $1', [1])).rowsAffected).toBe(1);
      expect((await conn.execute('create index conn_t_v on conn_t (v)')).rowsAffected).toBe(0);
      await conn.execute('drop table conn_t');
    });

    it('parses bigint as number where exact, BigInt beyond, and keeps numeric as text', async () => {
      const conn = await connect();
      const { rows } = await conn.execute(
        'select 42::int8 as small, 9007199254740993::int8 as big, 1.50::numeric as n, array[1, 2]::int8[] as arr',
      );
      expect(rows[0]).toEqual({ small: 42, big: 9007199254740993n, n: '1.50', arr: [1, 2] });
    });

    it('gives Kysely the same session', async () => {
      const conn = await connect();
      const row = await conn.db
        .selectNoFrom((eb) => eb.fn<number>('pg_backend_pid').as('pid'))
        .executeTakeFirstOrThrow();
      expect(row.pid).toBe(conn.pid);
      await conn.execute('begin');
      await conn.execute('create temp table kysely_t (x int)');
      // Visible only inside this session and transaction.
      const counted = await conn.db
        .selectFrom('kysely_t' as never)
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .executeTakeFirstOrThrow();
      expect(Number(counted.n)).toBe(0);
      await conn.execute('rollback');
    });

    it('sets the search_path from ?schema=', async () => {
      await db.query('create schema if not exists sales');
      const conn = await connect({ url: `${db.url}?schema=sales` });
      expect((await conn.execute('select current_schema() as s')).rows[0]?.s).toBe('sales');
      await conn.execute('create table in_sales (x int)');
      expect(
        await db.query("select table_schema from information_schema.tables where table_name = 'in_sales'"),
      ).toEqual([{ table_schema: 'sales' }]);
      expect((await dialect.introspect(conn)).tables.map((t) => t.name)).toEqual(['in_sales']);
      await db.query('drop schema sales cascade');
    });

    it('read-only connections refuse writes with a permission error', async () => {
      const conn = await connect({ readOnly: true });
      expect((await conn.execute('select 1 as x')).rows).toEqual([{ x: 1 }]);
      const err = await failure(() => conn.execute('create table ro_t (x int)'));
      expect((err as { code?: string }).code).toBe('25006');
      expect(dialect.classifyError(err)).toBe('permission');
    });

    it('names host and port when the server cannot be reached', async () => {
      const err = await failure(() => dialect.connect('postgres://postgres:secret@127.0.0.1:1/nowhere'));
      expect(err).toBeInstanceOf(ConnectionError);
      const message = (err as Error).message;
      expect(message).toBe('cannot connect to PostgreSQL at 127.0.0.1:1/nowhere: connection refused');
      expect(message).not.toContain('\n');
      expect(message).not.toContain('secret');
      expect((err as ConnectionError).details).toEqual({ host: '127.0.0.1', port: 1, database: 'nowhere' });
      expect((err as Error).cause).toBeDefined();
    });

    it('says clearly that a database does not exist', async () => {
      const url = new URL(db.url);
      url.pathname = '/cmpkg_no_such_database';
      const err = await failure(() => dialect.connect(url.toString()));
      expect(err).toBeInstanceOf(ConnectionError);
      expect((err as Error).message).toBe(
        `cannot connect to PostgreSQL at ${url.hostname}:${url.port}/cmpkg_no_such_database: ` +
          'database "cmpkg_no_such_database" does not exist',
      );
    });

    it('close() is idempotent and later statements fail clearly', async () => {
      const conn = await dialect.connect(db.url);
      await conn.close();
      await conn.close();
      await expect(conn.execute('select 1')).rejects.toThrow(/closed/);
    });
  });

  describe('errors', () => {
    it('classifies constraint and syntax errors', async () => {
      const conn = await connect();
      await conn.execute('create table err_t (id int primary key)');
      await conn.execute('insert into err_t values (1)');
      expect(dialect.classifyError(await failure(() => conn.execute('insert into err_t values (1)')))).toBe(
        'constraint',
      );
      expect(dialect.classifyError(await failure(() => conn.execute('selec 1')))).toBe('syntax');
      expect(dialect.classifyError(await failure(() => conn.execute('select * from no_such_table')))).toBe(
        'syntax',
      );
      await conn.execute('drop table err_t');
    });

    it('classifies a real deadlock as transient', async () => {
      const a = await connect();
      const b = await connect();
      await a.execute('create table dl_t (id int primary key, v int)');
      await a.execute('insert into dl_t values (1, 0), (2, 0)');
      await a.execute('begin');
      await b.execute('begin');
      await a.execute('update dl_t set v = 1 where id = 1');
      await b.execute('update dl_t set v = 2 where id = 2');
      const results = await Promise.allSettled([
        a.execute('update dl_t set v = 1 where id = 2'),
        b.execute('update dl_t set v = 2 where id = 1'),
      ]);
      const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      expect(rejected).toHaveLength(1);
      expect((rejected[0]!.reason as { code?: string }).code).toBe('40P01');
      expect(dialect.classifyError(rejected[0]!.reason)).toBe('transient');
      await a.execute('rollback');
      await b.execute('rollback');
      await a.execute('drop table dl_t');
    });
  });

  describe('statement timeouts', () => {
    it('cancels a running statement on the server and keeps the connection usable', async () => {
      const conn = await connect();
      const started = Date.now();
      const err = await failure(() => conn.execute('select pg_sleep(5)', [], { timeoutMs: 300 }));
      const elapsed = Date.now() - started;
      expect(elapsed).toBeGreaterThanOrEqual(290);
      expect(elapsed).toBeLessThan(3000);
      expect(err).toBeInstanceOf(PostgresStatementTimeoutError);
      expect(((err as Error).cause as { code?: string }).code).toBe('57014');
      expect(dialect.classifyError(err)).toBe('timeout');
      expect((await conn.execute('select 1 as x')).rows).toEqual([{ x: 1 }]);
    });

    it('leaves fast statements alone', async () => {
      const conn = await connect();
      for (let i = 0; i < 20; i++) {
        expect((await conn.execute('select $1::int as i', [i], { timeoutMs: 1000 })).rows).toEqual([{ i }]);
      }
    });
  });

  describe('advisory lock', () => {
    it('makes a second connection wait, then time out naming the holder', async () => {
      const holder = await connect();
      const waiter = await connect();
      const release = await dialect.acquireLock(holder, 'cmpkg', { timeoutMs: 1000, holder: 'deploy@ci' });
      expect(await advisoryHolders()).toEqual([holder.pid]);
      expect((await holder.execute("select current_setting('application_name') as a")).rows[0]?.a).toBe(
        'cmpkg: deploy@ci',
      );

      const started = Date.now();
      const err = await failure(() => dialect.acquireLock(waiter, 'cmpkg', { timeoutMs: 300 }));
      const elapsed = Date.now() - started;
      expect(err).toBeInstanceOf(LockTimeoutError);
      expect(elapsed).toBeGreaterThanOrEqual(290);
      expect(elapsed).toBeLessThan(3000);
      const message = (err as Error).message;
      expect(message).toContain('cmpkg: deploy@ci');
      expect(message).toContain(`pid ${holder.pid}`);
      expect(message).toContain('user postgres');
      expect(message).toContain('client 127.0.0.1');
      expect(message).toMatch(/connected since \d{4}-\d\d-\d\dT/);
      expect((err as LockTimeoutError).details).toMatchObject({
        lock: 'cmpkg',
        holder: 'cmpkg: deploy@ci',
        holderPid: holder.pid,
      });
      // The waiter's lock_timeout is back to what it was.
      expect((await waiter.execute('show lock_timeout')).rows).toEqual([{ lock_timeout: '0' }]);

      await release();
      await release();
      expect((await holder.execute("select current_setting('application_name') as a")).rows[0]?.a).toBe('');
      const releaseWaiter = await dialect.acquireLock(waiter, 'cmpkg', { timeoutMs: 300 });
      expect(await advisoryHolders()).toEqual([waiter.pid]);
      await releaseWaiter();
      expect(await advisoryHolders()).toEqual([]);
    });

    it('tries once without waiting for timeoutMs 0, and other names do not collide', async () => {
      const holder = await connect();
      const other = await connect();
      const release = await dialect.acquireLock(holder, 'cmpkg', { timeoutMs: 0 });
      await expect(dialect.acquireLock(other, 'cmpkg', { timeoutMs: 0 })).rejects.toBeInstanceOf(
        LockTimeoutError,
      );
      const releaseOther = await dialect.acquireLock(other, 'another-lock', { timeoutMs: 0 });
      await releaseOther();
      await release();
    });

    it('is freed within seconds when the holding process is killed in the middle of a statement', async () => {
      // Without client_connection_check_interval the orphaned backend would sleep on for a minute,
      // holding the lock.
      const script = `
        import { PostgresDialect } from '@cmpkg/dialect-postgres';
        const dialect = new PostgresDialect();
        const conn = await dialect.connect(process.argv[1]);
        await dialect.acquireLock(conn, 'cmpkg', { timeoutMs: 5000, holder: 'doomed' });
        console.log('locked ' + conn.pid);
        await conn.execute('select pg_sleep(60)');`;
      const child = spawn(process.execPath, ['--input-type=module', '-e', script, db.url], {
        cwd: fileURLToPath(new URL('..', import.meta.url)),
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      try {
        const pid = await new Promise<number>((resolve, reject) => {
          child.stdout.on('data', (chunk: Buffer) => {
            const m = /locked (\d+)/.exec(chunk.toString());
            if (m) resolve(Number(m[1]));
          });
          child.once('exit', (code) => reject(new Error(`holder exited with ${code}`)));
        });
        await eventually(
          async () =>
            (
              await db.query(
                "select 1 from pg_stat_activity where pid = $1 and query like '%pg_sleep(60)%'",
                [pid],
              )
            ).length > 0,
        );
        child.kill('SIGKILL');
        const waiter = await connect();
        const started = Date.now();
        const release = await dialect.acquireLock(waiter, 'cmpkg', { timeoutMs: 10_000 });
        expect(Date.now() - started).toBeLessThan(5000);
        expect(await db.query('select 1 from pg_stat_activity where pid = $1', [pid])).toEqual([]);
        await release();
      } finally {
        child.kill('SIGKILL');
      }
    });

    it('is freed when the holder goes away: close() or a killed session', async () => {
      const waiter = await connect();
      const closing = await dialect.connect(db.url);
      await dialect.acquireLock(closing, 'cmpkg', { timeoutMs: 1000 });
      await closing.close();
      await (await dialect.acquireLock(waiter, 'cmpkg', { timeoutMs: 1000 }))();

      // A crashed process: the server ends the session, nobody calls release().
      const crashed = await openPostgresConnection(db.url, { connectTimeoutMs: 5000, relockTimeoutMs: 300 });
      open.push(crashed);
      await dialect.acquireLock(crashed, 'cmpkg', { timeoutMs: 1000 });
      await db.query('select pg_terminate_backend($1)', [crashed.pid]);
      const release = await dialect.acquireLock(waiter, 'cmpkg', { timeoutMs: 5000 });
      expect(await advisoryHolders()).toEqual([waiter.pid]);
      // The dropped holder cannot take its lock back while someone else holds it: that is final.
      const err = await failure(() => crashed.execute('select 1'));
      expect(err).toBeInstanceOf(ConnectionError);
      expect((err as Error).message).toMatch(/lost lock "cmpkg" on PostgreSQL at .*within 300 ms/);
      expect((err as Error).message).toContain(`pid ${waiter.pid}`);
      expect(dialect.classifyError(err)).toBe('unknown');
      await release();
    });
  });

  describe('dropped connections', () => {
    it('reconnects, restores the session and takes its locks back', async () => {
      await db.query('create schema if not exists drop_s');
      const conn = await connect({ url: `${db.url}?schema=drop_s` });
      const release = await dialect.acquireLock(conn, 'cmpkg', { timeoutMs: 1000, holder: 'survivor' });
      const before = conn.pid;
      await db.query('select pg_terminate_backend($1)', [before]);
      await eventually(
        async () => (await db.query('select 1 from pg_stat_activity where pid = $1', [before])).length === 0,
      );

      try {
        expect((await conn.execute('select 1 as x')).rows).toEqual([{ x: 1 }]);
      } catch (err) {
        expect(dialect.classifyError(err)).toBe('transient');
      }
      const { rows } = await conn.execute(
        "select pg_backend_pid() as pid, current_schema() as s, current_setting('application_name') as a",
      );
      expect(rows[0]).toEqual({ pid: conn.pid, s: 'drop_s', a: 'cmpkg: survivor' });
      expect(conn.pid).not.toBe(before);
      expect(conn.reconnects).toBe(1);
      expect(await advisoryHolders()).toEqual([conn.pid]);
      await release();
      expect(await advisoryHolders()).toEqual([]);
      await db.query('drop schema drop_s cascade');
    });

    it('keeps a lock taken just before the connection dropped', async () => {
      const conn = await connect();
      // The session dies right after pg_advisory_lock returned, before acquireLock has finished.
      const setApplicationName = conn.setApplicationName.bind(conn);
      conn.setApplicationName = async (name: string) => {
        const pid = conn.pid;
        await db.query('select pg_terminate_backend($1)', [pid]);
        await eventually(
          async () => (await db.query('select 1 from pg_stat_activity where pid = $1', [pid])).length === 0,
        );
        await sleep(50);
        return setApplicationName(name);
      };
      const release = await dialect.acquireLock(conn, 'cmpkg', { timeoutMs: 1000, holder: 'racer' });
      expect(conn.reconnects).toBe(1);
      expect(await advisoryHolders()).toEqual([conn.pid]);
      await release();
      expect(await advisoryHolders()).toEqual([]);

      // ... or just before it restored lock_timeout.
      const other = await connect();
      const execute = other.execute.bind(other);
      let locked = false;
      other.execute = (async (sql: string, params?: readonly unknown[], options?: object) => {
        if (locked && sql.includes('lock_timeout')) {
          locked = false;
          const pid = other.pid;
          await db.query('select pg_terminate_backend($1)', [pid]);
          await eventually(
            async () => (await db.query('select 1 from pg_stat_activity where pid = $1', [pid])).length === 0,
          );
          await sleep(50);
        }
        const result = await execute(sql, params, options);
        if (sql.includes('pg_advisory_lock(')) locked = true;
        return result;
      }) as typeof other.execute;
      const releaseOther = await dialect.acquireLock(other, 'cmpkg', { timeoutMs: 1000 });
      expect(other.reconnects).toBe(1);
      expect(await advisoryHolders()).toEqual([other.pid]);
      await releaseOther();
    });

    it('rides out a server restart, retrying while connections are refused', async () => {
      const proxy = restartableProxy(new URL(db.url));
      const port = await proxy.start();
      try {
        const url = new URL(db.url);
        url.host = `127.0.0.1:${port}`;
        const conn = await connect({ url: url.toString() });
        const release = await dialect.acquireLock(conn, 'cmpkg', { timeoutMs: 1000 });
        const before = conn.pid;
        await proxy.stop();
        await eventually(
          async () =>
            (await db.query('select 1 from pg_stat_activity where pid = $1', [before])).length === 0,
        );
        // Back after 400 ms; meanwhile the reconnect is refused and tries again.
        const restarted = sleep(400).then(() => proxy.start(port));
        try {
          await conn.execute('select 1');
        } catch (err) {
          expect(dialect.classifyError(err)).toBe('transient');
        }
        expect((await conn.execute('select 1 as x')).rows).toEqual([{ x: 1 }]);
        await restarted;
        expect(conn.pid).not.toBe(before);
        expect(await advisoryHolders()).toEqual([conn.pid]);
        await release();
      } finally {
        await proxy.stop();
      }
    });

    it('close() during a reconnect leaves no session behind', async () => {
      const proxy = restartableProxy(new URL(db.url));
      const port = await proxy.start();
      try {
        const url = new URL(db.url);
        url.host = `127.0.0.1:${port}`;
        url.searchParams.set('application_name', 'cmpkg-close-race');
        const conn = await dialect.connect(url.toString());
        await proxy.stop();
        await sleep(100); // the client has seen its socket close
        // The reconnect is refused and retries; the caller gives up meanwhile.
        const pending = conn.execute('select 1').then(
          () => undefined,
          (err: unknown) => err,
        );
        await sleep(150);
        await conn.close();
        await proxy.start(port);
        await pending;
        await sleep(300);
        const sessions = () =>
          db.query("select pid from pg_stat_activity where application_name = 'cmpkg-close-race'");
        expect(await sessions()).toEqual([]);
        await expect(conn.execute('select 1')).rejects.toThrow(/closed/);
      } finally {
        await proxy.stop();
      }
    });

    it('fails the statement that was running as transient', async () => {
      const conn = await connect();
      // Settled at once into a value: the rejection arrives while the test is still busy terminating.
      const running = conn.execute('select pg_sleep(5)').then(
        () => new Error('expected the statement to fail'),
        (err: unknown) => err,
      );
      await eventually(
        async () =>
          (
            await db.query("select 1 from pg_stat_activity where pid = $1 and query like '%pg_sleep%'", [
              conn.pid,
            ])
          ).length > 0,
      );
      await db.query('select pg_terminate_backend($1)', [conn.pid]);
      const err = await running;
      expect(dialect.classifyError(err)).toBe('transient');
      expect((await conn.execute('select 2 as x')).rows).toEqual([{ x: 2 }]);
    });

    it('never lets a lost transaction look committed', async () => {
      const conn = await connect();
      await conn.execute('create table lost_t (x int)');
      await conn.execute('begin');
      await conn.execute('insert into lost_t values (1)');
      await db.query('select pg_terminate_backend($1)', [conn.pid]);
      await sleep(100);
      const next = await failure(() => conn.execute('insert into lost_t values (2)'));
      // Either the dead socket answered first (transient), or the reconnect refused the statement.
      expect(
        next instanceof PostgresTransactionLostError || dialect.classifyError(next) === 'transient',
      ).toBe(true);
      await expect(conn.execute('commit')).rejects.toBeInstanceOf(PostgresTransactionLostError);
      expect((await conn.execute('select count(*)::int as n from lost_t')).rows).toEqual([{ n: 0 }]);
      await conn.execute('drop table lost_t');
    });
  });

  describe('scripts', () => {
    it('splits and runs dollar-quoted and BEGIN ATOMIC functions', async () => {
      const conn = await connect();
      const script = `
        create function plus_one(x int) returns int language plpgsql as $fn$
          begin
            -- a semicolon; inside the body
            return x + 1;
          end;
        $fn$;
        /* nested /* comment; */ still comment; */
        create function plus_two(x int) returns int language sql
        begin atomic
          select x + 2;
        end;
        select plus_one(1) as a, plus_two(1) as b;`;
      const statements = dialect.splitStatements(script);
      expect(statements).toHaveLength(3);
      let last: Record<string, unknown>[] = [];
      for (const s of statements) last = (await conn.execute(s)).rows;
      expect(last).toEqual([{ a: 2, b: 3 }]);
      await conn.execute('drop function plus_one(int)');
      await conn.execute('drop function plus_two(int)');
    });
  });

  describe('introspection', () => {
    let rt: TestDatabase;
    let copy: TestDatabase;
    const schema = portableSchema(dialect.capabilities);

    beforeAll(async () => {
      rt = await createTestDatabase('postgresql');
      copy = await createTestDatabase('postgresql');
      const conn = await dialect.connect(rt.url);
      try {
        for (const table of schema)
          for (const s of dialect.renderDdl({ kind: 'createTable', table })) await conn.execute(s);
        for (const s of dialect.splitStatements(`
          create view rt_active_authors as select id, email from rt_authors where active;
          create function rt_touch() returns trigger language plpgsql as $$
            begin new.title := trim(new.title); return new; end $$;
          create trigger rt_posts_touch before insert or update on rt_posts for each row execute function rt_touch();
          create procedure rt_archive(days int) language sql
          begin atomic
            delete from rt_posts where published_on < current_date - days;
          end;
          create table cmpkg_migrations (id text primary key);
          insert into rt_authors (email) values ('a@x'), ('b@x'), ('c@x');
        `))
          await conn.execute(s);
      } finally {
        await conn.close();
      }
    });

    afterAll(async () => {
      await rt?.drop();
      await copy?.drop();
    });

    async function introspect(target: TestDatabase, options = {}): Promise<SchemaSnapshot> {
      const conn = await connect({ url: target.url });
      return dialect.introspect(conn, options);
    }

    function expectRoundTrip(expected: TableDefinition, actual: TableSnapshot | undefined): void {
      expect(actual, expected.name).toBeDefined();
      expect(comparableTable(actual!)).toEqual(comparableTable(expected));
      // PostgreSQL gives index expressions and foreign keys back exactly as they were written.
      const expressions = (t: TableDefinition) =>
        [...t.indexes]
          .sort((x, y) => (x.name < y.name ? -1 : 1))
          .flatMap((i) =>
            i.parts.flatMap((part) => (part.expression !== undefined ? [part.expression] : [])),
          );
      expect(expressions(actual!)).toEqual(expressions(expected));
      expect(actual!.foreignKeys).toEqual(expected.foreignKeys);
    }

    it('gives back the portable schema it was created from', async () => {
      const snapshot = await introspect(rt);
      expect(snapshot.format).toBe('cmpkg-schema/1');
      expect(snapshot.engine).toBe('postgresql');
      expect(snapshot.schema).toBe('public');
      expect(snapshot.serverVersion).toMatch(/^\d+/);
      expect(snapshot.tables.map((t) => t.name)).toEqual(['rt_authors', 'rt_posts']);
      for (const table of schema)
        expectRoundTrip(
          table,
          snapshot.tables.find((t) => t.name === table.name),
        );
      const posts = snapshot.tables.find((t) => t.name === 'rt_posts')!;
      const embedding = posts.columns.find((c) => c.name === 'embedding')!;
      expect(embedding).toEqual({
        name: 'embedding',
        type: 'vector(3)',
        nativeType: 'real[]',
        nullable: true,
      });
      expect(posts.sizeBytes).toBeGreaterThan(0);
      for (const t of snapshot.tables)
        expect(t.createSql).toEqual(dialect.renderDdl({ kind: 'createTable', table: t }));
    });

    it('lists views, triggers and routines with their CREATE statements', async () => {
      const snapshot = await introspect(rt);
      expect(snapshot.views).toEqual([
        {
          name: 'rt_active_authors',
          definition: expect.stringMatching(/^SELECT rt_authors\.id,\s+rt_authors\.email\s+FROM rt_authors/),
          createSql: expect.stringMatching(/^CREATE VIEW "rt_active_authors" AS SELECT/),
        },
      ]);
      expect(snapshot.triggers).toEqual([
        {
          name: 'rt_posts_touch',
          table: 'rt_posts',
          timing: 'before',
          events: ['insert', 'update'],
          createSql: expect.stringMatching(
            /^CREATE TRIGGER rt_posts_touch BEFORE INSERT OR UPDATE ON rt_posts/,
          ),
        },
      ]);
      expect(snapshot.routines).toEqual([
        {
          name: 'rt_archive',
          kind: 'procedure',
          language: 'sql',
          createSql: expect.stringMatching(
            /^CREATE OR REPLACE PROCEDURE public\.rt_archive\(IN days integer\)[\s\S]*BEGIN ATOMIC/,
          ),
        },
        {
          name: 'rt_touch',
          kind: 'function',
          language: 'plpgsql',
          createSql: expect.stringMatching(/^CREATE OR REPLACE FUNCTION public\.rt_touch\(\)/),
        },
      ]);
    });

    it('filters tables, leaving out views and routines', async () => {
      const snapshot = await introspect(rt, { tables: ['rt_posts'] });
      expect(snapshot.tables.map((t) => t.name)).toEqual(['rt_posts']);
      expect(snapshot.triggers.map((t) => t.name)).toEqual(['rt_posts_touch']);
      expect(snapshot.views).toEqual([]);
      expect(snapshot.routines).toEqual([]);
      expect((await introspect(rt, { tables: ['rt_authors'] })).triggers).toEqual([]);
    });

    it('hides history tables unless asked', async () => {
      expect((await introspect(rt)).tables.map((t) => t.name)).not.toContain('cmpkg_migrations');
      expect((await introspect(rt, { includeHistoryTables: true })).tables.map((t) => t.name)).toContain(
        'cmpkg_migrations',
      );
    });

    it('counts rows exactly when asked or when statistics are missing, estimates otherwise', async () => {
      const fresh = await introspect(rt);
      const authors = () => fresh.tables.find((t) => t.name === 'rt_authors')!;
      // Never analyzed (reltuples -1): counted.
      expect(authors()).toMatchObject({ rowCount: 3, rowCountExact: true });
      await rt.query('analyze rt_authors');
      await rt.query("insert into rt_authors (email) values ('d@x')");
      const estimated = (await introspect(rt)).tables.find((t) => t.name === 'rt_authors')!;
      expect(estimated).toMatchObject({ rowCount: 3, rowCountExact: false });
      const exact = (await introspect(rt, { exactCounts: true })).tables.find(
        (t) => t.name === 'rt_authors',
      )!;
      expect(exact).toMatchObject({ rowCount: 4, rowCountExact: true });
      await rt.query("delete from rt_authors where email = 'd@x'");
    });

    it('recreates itself from its createSql in a fresh database', async () => {
      const original = await introspect(rt);
      const conn = await connect({ url: copy.url });
      // BEGIN ATOMIC bodies are checked when created: tables first.
      for (const t of original.tables) for (const s of t.createSql) await conn.execute(s);
      for (const r of original.routines) await conn.execute(r.createSql);
      for (const t of original.triggers) await conn.execute(t.createSql);
      for (const v of original.views) await conn.execute(v.createSql);
      const recreated = await dialect.introspect(conn);
      const shape = (s: SchemaSnapshot) => ({
        ...s,
        tables: s.tables.map(({ rowCount, rowCountExact, sizeBytes, ...t }) => t),
      });
      expect(shape(recreated)).toEqual(shape(original));
    });

    it('reads partitioned tables and foreign keys into other schemas as they are', async () => {
      const target = await createTestDatabase('postgresql');
      const again = await createTestDatabase('postgresql');
      try {
        for (const s of dialect.splitStatements(`
          create schema billing;
          create table billing.accounts (id int primary key);
          create table orders (id int primary key, account_id int,
            constraint orders_account_fk foreign key (account_id) references billing.accounts (id));
          create table events (id int, at date, primary key (id, at)) partition by range (at);
          create table events_2024 partition of events for values from ('2024-01-01') to ('2025-01-01');
          create table events_2025 partition of events for values from ('2025-01-01') to ('2026-01-01');
          create table event_refs (id int, at date,
            constraint event_refs_fk foreign key (id, at) references events (id, at));
          create function events_touch() returns trigger language plpgsql as $$ begin return new; end $$;
          create trigger events_touch before insert on events for each row execute function events_touch();
          insert into events select g, date '2024-06-01' + g % 400 from generate_series(1, 2000) g;
        `))
          await target.query(s);
        const snapshot = await introspect(target);
        expect(snapshot.tables.map((t) => t.name)).toEqual(['event_refs', 'events', 'orders']);
        const table = (name: string) => snapshot.tables.find((t) => t.name === name)!;
        // PostgreSQL keeps one extra constraint row per referenced partition; they are not foreign keys
        // of their own.
        expect(table('event_refs').foreignKeys.map((f) => [f.name, f.referencedTable])).toEqual([
          ['event_refs_fk', 'events'],
        ]);
        expect(table('orders').foreignKeys.map((f) => f.referencedTable)).toEqual(['billing.accounts']);
        // The trigger's clones on the partitions belong to tables the snapshot does not list.
        expect(snapshot.triggers.map((t) => [t.name, t.table])).toEqual([['events_touch', 'events']]);
        // The rows live in the partitions: so do the bytes.
        expect(table('events')).toMatchObject({ rowCount: 2000, rowCountExact: true });
        expect(table('events').sizeBytes).toBeGreaterThan(0);

        const conn = await connect({ url: again.url });
        await conn.execute('create schema billing');
        await conn.execute('create table billing.accounts (id int primary key)');
        for (const s of table('orders').createSql) await conn.execute(s);
        const copied = await dialect.introspect(conn);
        expect(copied.tables.find((t) => t.name === 'orders')!.foreignKeys).toEqual(
          table('orders').foreignKeys,
        );
      } finally {
        await target.drop();
        await again.drop();
      }
    });

    it('counts tables and indexes (not primary keys)', async () => {
      const conn = await connect({ url: rt.url });
      // rt_authors, rt_posts, cmpkg_migrations; 1 + 3 indexes (primary keys not counted).
      expect(await dialect.countSchemaObjects(conn)).toEqual({ tables: 3, indexes: 4 });
    });
  });
});
