import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { LockTimeoutError, UsageError } from '@cmpkg/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SqliteConnection } from './sqlite-connection.js';
import { SqliteDialect } from './sqlite-dialect.js';
import { LOCK_TABLE, sqliteLockFile } from './sqlite-lock.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const dist = path.resolve(here, '../dist/index.js');

let dir: string;
let file: string;
const open: SqliteConnection[] = [];
const children: ChildProcess[] = [];
const dialect = new SqliteDialect();

async function connect(url = `sqlite:${file}`): Promise<SqliteConnection> {
  const conn = await dialect.connect(url);
  open.push(conn);
  return conn;
}

async function holderRows(conn: SqliteConnection): Promise<Record<string, unknown>[]> {
  return (await conn.execute(`select name, holder, pid from ${LOCK_TABLE}`)).rows;
}

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'cmpkg-sqlite-lock-'));
  file = path.join(dir, 'app.db');
});

afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
  }
  for (const conn of open.splice(0)) await conn.close();
  rmSync(dir, { recursive: true, force: true });
});

/**
 * Starts a separate node process that takes the lock through the built package and holds it until
 * killed; resolves once the child reports that it holds the lock.
 */
async function spawnHolder(holder: string): Promise<ChildProcess> {
  if (!existsSync(dist)) throw new Error(`build the package first (pnpm exec tsup): ${dist} is missing`);
  const script = path.join(dir, 'hold-lock.mjs');
  writeFileSync(
    script,
    `import { SqliteDialect } from ${JSON.stringify(pathToFileURL(dist).href)};
const [url, holder] = process.argv.slice(2);
const dialect = new SqliteDialect();
const conn = await dialect.connect(url);
await dialect.acquireLock(conn, 'cmpkg', { timeoutMs: 10000, holder });
process.stdout.write('LOCKED\\n');
setInterval(() => {}, 1 << 30);
`,
  );
  const child = spawn(process.execPath, [script, `sqlite:${file}`, holder], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let stderr = '';
  child.stderr?.on('data', (b: Buffer) => {
    stderr += b.toString();
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`child did not take the lock in time: ${stderr}`)),
      15_000,
    );
    child.stdout?.on('data', (b: Buffer) => {
      if (b.toString().includes('LOCKED')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`child exited (${code}) before taking the lock: ${stderr}`));
    });
  });
  return child;
}

describe('acquireLock across processes', () => {
  it('times out naming the child holder, and is free at once after the child is SIGKILLed', async () => {
    const child = await spawnHolder('child-holder');
    const conn = await connect();

    const started = Date.now();
    const err = await dialect.acquireLock(conn, 'cmpkg', { timeoutMs: 500 }).catch((e: unknown) => e);
    const waited = Date.now() - started;
    expect(err).toBeInstanceOf(LockTimeoutError);
    const lockErr = err as LockTimeoutError;
    expect(lockErr.message).toContain(`held by child-holder (pid ${child.pid} on host `);
    expect(lockErr.details.holder).toBe('child-holder');
    expect(lockErr.details.holderPid).toBe(child.pid);
    expect(lockErr.category).toBe('safety');
    expect(waited).toBeGreaterThanOrEqual(450);
    expect(waited).toBeLessThan(2000);

    child.kill('SIGKILL');
    await once(child, 'exit');

    const t0 = Date.now();
    const release = await dialect.acquireLock(conn, 'cmpkg', { timeoutMs: 2000, holder: 'parent' });
    expect(Date.now() - t0).toBeLessThan(200);
    // The killed child's row was replaced by ours.
    expect(await holderRows(conn)).toEqual([{ name: 'cmpkg', holder: 'parent', pid: process.pid }]);
    await release();
    expect(await holderRows(conn)).toEqual([]);
    // The lock file stays: deleting it would let two processes lock different inodes.
    expect(existsSync(`${file}.cmpkg-lock`)).toBe(true);
  });
});

describe('acquireLock in one process', () => {
  it('excludes a second connection until released', async () => {
    const a = await connect();
    const b = await connect();
    const releaseA = await dialect.acquireLock(a, 'cmpkg', { timeoutMs: 1000, holder: 'first' });
    const err = await dialect.acquireLock(b, 'cmpkg', { timeoutMs: 100 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LockTimeoutError);
    expect((err as Error).message).toContain(`held by first (pid ${process.pid}`);

    // A waiter that is still polling gets the lock soon after the release.
    const waiting = dialect.acquireLock(b, 'cmpkg', { timeoutMs: 5000, holder: 'second' });
    await new Promise((r) => setTimeout(r, 100));
    await releaseA();
    await releaseA(); // idempotent
    const releaseB = await waiting;
    expect(await holderRows(a)).toEqual([{ name: 'cmpkg', holder: 'second', pid: process.pid }]);
    await releaseB();
  });

  it('does not block the event loop while waiting', async () => {
    const a = await connect();
    const b = await connect();
    const release = await dialect.acquireLock(a, 'cmpkg', { timeoutMs: 1000 });
    let ticks = 0;
    const timer = setInterval(() => ticks++, 10);
    await dialect.acquireLock(b, 'cmpkg', { timeoutMs: 300 }).catch(() => undefined);
    clearInterval(timer);
    expect(ticks).toBeGreaterThan(10);
    await release();
  });

  it('keeps different lock names independent', async () => {
    const a = await connect();
    const b = await connect();
    const r1 = await dialect.acquireLock(a, 'cmpkg', { timeoutMs: 100 });
    const r2 = await dialect.acquireLock(b, 'other', { timeoutMs: 100 });
    expect(existsSync(`${file}.other-lock`)).toBe(true);
    await r1();
    await r2();
  });

  it('is released when the connection closes', async () => {
    const a = await dialect.connect(`sqlite:${file}`);
    const b = await connect();
    await dialect.acquireLock(a, 'cmpkg', { timeoutMs: 100 });
    await a.close();
    const release = await dialect.acquireLock(b, 'cmpkg', { timeoutMs: 0 });
    await release();
  });

  it('stops waiting when its connection is closed', async () => {
    const a = await connect();
    const b = await dialect.connect(`sqlite:${file}`);
    const release = await dialect.acquireLock(a, 'cmpkg', { timeoutMs: 100 });
    const waiting = dialect.acquireLock(b, 'cmpkg', { timeoutMs: 5000 }).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 50));
    await b.close();
    expect(await waiting).toBeInstanceOf(UsageError);
    await release();
  });

  it('says the holder is unknown when the recorded holder is dead', async () => {
    const a = await connect();
    const b = await connect();
    const release = await dialect.acquireLock(a, 'cmpkg', { timeoutMs: 100, holder: 'me' });
    // Simulate the window where a new holder has the file lock but the row still names a killed process.
    await a.execute(`update ${LOCK_TABLE} set pid = 2147483646`);
    const err = await dialect.acquireLock(b, 'cmpkg', { timeoutMs: 0 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LockTimeoutError);
    expect((err as Error).message).toMatch(/no longer running/);
    await release();
  });

  it('is a no-op for in-memory databases', async () => {
    const a = await connect('sqlite::memory:');
    const r1 = await dialect.acquireLock(a, 'cmpkg', { timeoutMs: 0 });
    const r2 = await dialect.acquireLock(a, 'cmpkg', { timeoutMs: 0 });
    await r1();
    await r2();
  });

  it('rejects unsafe names and bad timeouts', async () => {
    const a = await connect();
    await expect(dialect.acquireLock(a, '../x', { timeoutMs: 0 })).rejects.toThrow(UsageError);
    await expect(dialect.acquireLock(a, 'cmpkg', { timeoutMs: -1 })).rejects.toThrow(UsageError);
  });

  it('names the lock file after the real path of the database', () => {
    expect(sqliteLockFile(path.join(dir, 'none.db'), 'cmpkg')).toBe(path.join(dir, 'none.db.cmpkg-lock'));
  });
});
