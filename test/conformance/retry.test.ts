import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Connection, loadPlugin, Migrator, type MigratorEvents } from '@cmpkg/core';
import { afterEach, expect, it } from 'vitest';
import { createTestDatabase, describeEngines, type TestDatabase, testDialect } from '../helpers/engines.js';
import { type AdminClient, adminClient, type ServerEngine } from '../helpers/servers.js';

/**
 * Transient server errors are retried by the engine, through the public entry on the real servers:
 * a lock-wait timeout (another session holds the row) and a connection the server kills mid-step
 * (the dialect reconnects and takes the migration lock back; the step runs again).
 */

const LOCK_WAIT: Record<ServerEngine, string> = {
  postgresql: "SET lock_timeout = '700ms'",
  mysql: 'SET SESSION innodb_lock_wait_timeout = 1',
};

const SLEEP: Record<ServerEngine, string> = {
  postgresql: 'SELECT pg_sleep(3)',
  mysql: 'SELECT SLEEP(3)',
};

describeEngines(
  'conformance: transient errors are retried',
  (engine) => {
    const server = engine as ServerEngine;
    let db: TestDatabase;
    let dir: string;
    const closers: Array<() => Promise<unknown>> = [];
    afterEach(async () => {
      for (const close of closers.splice(0)) await close().catch(() => undefined);
      await db?.drop();
      rmSync(dir, { recursive: true, force: true });
    });

    async function migrator(steps: Array<{ id: string; sql: string; timeout?: number }>) {
      dir = mkdtempSync(join(tmpdir(), 'cmpkg-retry-'));
      mkdirSync(join(dir, 'migrations'));
      const doc = {
        format: 'portable-migration-v1',
        migration: {
          id: '0001_retry',
          version: '1.0.0',
          name: 'retry',
          steps: {
            up: steps.map((s) => ({
              id: s.id,
              name: s.id,
              transactional: false,
              sql: { universal: s.sql },
              ...(s.timeout !== undefined ? { timeout: s.timeout } : {}),
            })),
          },
        },
      };
      writeFileSync(join(dir, 'migrations', '0001_retry.json'), JSON.stringify(doc));
      const dialect = testDialect(server);
      const connection: Connection = await dialect.connect(db.url);
      closers.push(() => connection.close());
      const plugin = await loadPlugin({ dir: join(dir, 'migrations'), id: 'retry' });
      const m = new Migrator({
        dialect,
        connection,
        plugin,
        retry: { attempts: 6, initialDelayMs: 200, maxDelayMs: 800 },
      });
      const retries: MigratorEvents['error'][] = [];
      m.on('error', (e) => retries.push(e));
      return { m, retries };
    }

    async function admin(): Promise<AdminClient> {
      const client = await adminClient(server, db.url);
      closers.push(() => client.close());
      return client;
    }

    it('a lock-wait timeout', { timeout: 60_000 }, async () => {
      db = await createTestDatabase(engine);
      await db.query('CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)');
      await db.query('INSERT INTO counter (id, n) VALUES (1, 0)');
      const holder = await admin();
      await holder.query('BEGIN');
      await holder.query('SELECT n FROM counter WHERE id = 1 FOR UPDATE');
      const { m, retries } = await migrator([
        { id: 'wait', sql: `${LOCK_WAIT[server]};\nUPDATE counter SET n = n + 1 WHERE id = 1` },
      ]);
      // The other session lets go after the first attempt has timed out.
      const release = setTimeout(() => void holder.query('ROLLBACK'), 1_500);
      const result = await m.up();
      clearTimeout(release);
      expect(result.error).toBeUndefined();
      expect(retries.length).toBeGreaterThan(0);
      expect(retries.every((r) => r.willRetry && r.error.details.errorClass === 'transient')).toBe(true);
      expect(Number((await db.query('SELECT n FROM counter WHERE id = 1'))[0]?.n)).toBe(1);
      expect((await db.history()).map((h) => h.status)).toEqual(['applied']);
    });

    it('a step over its timeout is stopped by the server, not retried', { timeout: 60_000 }, async () => {
      db = await createTestDatabase(engine);
      // The JSON `timeout` field is in seconds.
      const { m, retries } = await migrator([{ id: 'slow', sql: SLEEP[server], timeout: 1 }]);
      const started = Date.now();
      const result = await m.up();
      expect(Date.now() - started).toBeLessThan(2_900);
      expect(result.error?.code).toBe('E_STEP_TIMEOUT');
      expect(retries.filter((r) => r.willRetry)).toEqual([]);
      // The server really stopped it: nothing of this session is still running.
      const running =
        server === 'postgresql'
          ? await db.query(
              "SELECT pid FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(3)' AND state = 'active'",
            )
          : await db.query("SELECT id FROM information_schema.PROCESSLIST WHERE info = 'SELECT SLEEP(3)'");
      expect(running).toEqual([]);
    });

    it('a connection the server kills mid-step', { timeout: 60_000 }, async () => {
      db = await createTestDatabase(engine);
      const { m, retries } = await migrator([
        { id: 'slow', sql: SLEEP[server] },
        { id: 'after', sql: 'CREATE TABLE after_kill (id INTEGER)' },
      ]);
      const killer = await admin();
      const kill = (async () => {
        for (let i = 0; i < 100; i++) {
          await new Promise((r) => setTimeout(r, 50));
          const rows =
            server === 'postgresql'
              ? await killer.query(
                  "SELECT pg_terminate_backend(pid) AS k FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(3)' AND pid <> pg_backend_pid()",
                )
              : await killer.query(
                  "SELECT id FROM information_schema.PROCESSLIST WHERE info = 'SELECT SLEEP(3)'",
                );
          if (rows.length === 0) continue;
          if (server === 'mysql') await killer.query(`KILL ${Number(rows[0]?.id)}`);
          return true;
        }
        return false;
      })();
      const result = await m.up();
      expect(await kill).toBe(true);
      expect(result.error).toBeUndefined();
      expect(retries.some((r) => r.willRetry && r.error.details.errorClass === 'transient')).toBe(true);
      expect((await db.history()).map((h) => h.status)).toEqual(['applied']);
      expect(await db.tableNames()).toContain('after_kill');
    });
  },
  ['postgresql', 'mysql'],
);
