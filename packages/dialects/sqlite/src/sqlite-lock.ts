import { realpathSync } from 'node:fs';
import os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import type { LockOptions, ReleaseLock } from '@cmpkg/core';
import { backoffDelay, ConnectionError, defaultLockHolder, LockTimeoutError, UsageError } from '@cmpkg/core';
import Database from 'better-sqlite3';
import type { SqliteConnection } from './sqlite-connection.js';
import { classifySqliteError } from './sqlite-errors.js';

/**
 * The table in the migrated database that says who holds which lock; informational only.
 *
 * @example
 * await conn.execute(`select holder, pid, hostname, acquired_at from ${LOCK_TABLE}`);
 */
export const LOCK_TABLE = 'cmpkg_lock';

/** Lock names end up in a file name, so they are kept to a safe alphabet. */
const LOCK_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

const MIN_DELAY_MS = 25;
const MAX_DELAY_MS = 250;

/**
 * A row of `cmpkg_lock`: who holds a lock, as recorded by the holder right after taking it.
 *
 * @example
 * const h: SqliteLockHolder = { holder: 'ci', pid: 42, hostname: 'build-1', acquiredAt: new Date().toISOString() };
 */
export interface SqliteLockHolder {
  holder: string;
  pid: number;
  hostname: string;
  /** ISO-8601 UTC. */
  acquiredAt: string;
}

/**
 * The lock file that guards database `filename` under lock `name`: `<dbfile>.<name>-lock`.
 *
 * The database path is resolved through symlinks first, so two processes that reach the same file by
 * different paths still meet at the same lock file.
 *
 * @example
 * sqliteLockFile('/srv/app.db', 'cmpkg'); // '/srv/app.db.cmpkg-lock'
 */
export function sqliteLockFile(filename: string, name: string): string {
  let real = filename;
  try {
    real = realpathSync(filename);
  } catch {
    // The database itself is open, so this only fails in exotic cases; the given path is still right.
  }
  return `${real}.${name}-lock`;
}

/**
 * Takes a migration lock that holds across processes on the same database file.
 *
 * The lock is an open `BEGIN EXCLUSIVE` transaction on a separate, empty SQLite file next to the
 * database (`app.db.cmpkg-lock`). SQLite's file locks are released by the OS when the process dies,
 * even on SIGKILL, so a crashed migrator never leaves a stale lock. The lock file is never deleted:
 * a waiter holding the old inode and a newcomer creating a new one would both "hold" the lock.
 *
 * Waiting never blocks the event loop: each attempt uses a zero busy timeout and the loop sleeps
 * (25 → 250 ms, with jitter) between attempts. On timeout the `LockTimeoutError` names the holder
 * recorded in the `cmpkg_lock` table of the database. `sqlite::memory:` databases are private to
 * their connection, so the lock is a no-op there; so it is on `readOnly` connections, which promise to
 * create and change nothing (taking the lock writes the lock file and the holder row).
 *
 * @example
 * const release = await acquireSqliteLock(conn, 'cmpkg', { timeoutMs: 10_000, holder: 'deploy' });
 * try { await migrate(conn); } finally { await release(); }
 */
export async function acquireSqliteLock(
  conn: SqliteConnection,
  name: string,
  options: LockOptions,
): Promise<ReleaseLock> {
  if (!LOCK_NAME.test(name)) {
    throw new UsageError(`invalid lock name "${name}": use letters, digits, ".", "_" and "-"`);
  }
  const { timeoutMs } = options;
  if (!Number.isFinite(timeoutMs) || timeoutMs < 0) {
    throw new UsageError(`invalid lock timeout ${timeoutMs}: expected a number of milliseconds >= 0`);
  }
  if (!conn.isOpen) throw new UsageError(`cannot take lock "${name}": the connection is closed`);
  if (conn.memory || conn.readOnly) return async () => {};

  const lockFile = sqliteLockFile(conn.filename, name);
  let lockDb: Database.Database;
  try {
    // Zero busy timeout: SQLite's own busy wait would block the whole event loop; we poll instead.
    lockDb = new Database(lockFile, { timeout: 0 });
  } catch (err) {
    throw new ConnectionError(`cannot open lock file ${lockFile}: ${message(err)}`, {
      cause: err,
      details: { path: lockFile },
    });
  }

  const deadline = Date.now() + timeoutMs;
  for (let attempt = 0; ; attempt++) {
    try {
      lockDb.exec('BEGIN EXCLUSIVE');
      break;
    } catch (err) {
      // Busy or locked: another process holds the lock file; anything else is a real failure.
      if (classifySqliteError(err) !== 'transient') {
        lockDb.close();
        throw new ConnectionError(`cannot take lock "${name}" on ${lockFile}: ${message(err)}`, {
          cause: err,
          details: { path: lockFile },
        });
      }
      if (!conn.isOpen) {
        // Closed while we slept: nobody is left to use the lock.
        lockDb.close();
        throw new UsageError(`stopped waiting for lock "${name}": the connection was closed`);
      }
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        lockDb.close();
        throw timeoutError(conn, name, lockFile, timeoutMs);
      }
      await sleep(Math.min(remaining, backoffDelay(attempt, MIN_DELAY_MS, MAX_DELAY_MS)));
    }
  }

  const record: SqliteLockHolder = {
    holder: options.holder ?? defaultLockHolder(),
    pid: process.pid,
    hostname: os.hostname(),
    acquiredAt: new Date().toISOString(),
  };
  try {
    writeHolder(conn, name, record);
  } catch (err) {
    // Without the row a waiter could not say who holds the lock; fail now rather than hold it silently.
    endLock(lockDb);
    throw err;
  }

  let released = false;
  const release: ReleaseLock = async () => {
    if (released) return;
    released = true;
    unregister();
    try {
      if (conn.handle.open) {
        conn.handle
          .prepare(`delete from ${LOCK_TABLE} where name = ? and pid = ? and acquired_at = ?`)
          .run(name, record.pid, record.acquiredAt);
      }
    } catch {
      // The row is only a label: a leftover one is replaced by the next holder and waiters check that its
      // pid is alive. Throwing here would mask the error of the migration whose `finally` releases us.
    } finally {
      endLock(lockDb);
    }
  };
  const unregister = conn.onClose(release);
  return release;
}

function endLock(lockDb: Database.Database): void {
  if (!lockDb.open) return;
  try {
    if (lockDb.inTransaction) lockDb.exec('ROLLBACK');
  } finally {
    // Closing alone would release the OS lock too; the explicit ROLLBACK just keeps intent obvious.
    lockDb.close();
  }
}

function writeHolder(conn: SqliteConnection, name: string, record: SqliteLockHolder): void {
  conn.handle.exec(
    `create table if not exists ${LOCK_TABLE} (
       name text primary key,
       holder text not null,
       pid integer not null,
       hostname text not null,
       acquired_at text not null
     )`,
  );
  conn.handle
    .prepare(
      `insert or replace into ${LOCK_TABLE} (name, holder, pid, hostname, acquired_at) values (?, ?, ?, ?, ?)`,
    )
    .run(name, record.holder, record.pid, record.hostname, record.acquiredAt);
}

/**
 * Reads who holds `name`, without waiting: a writer may hold the database, and the connection's busy
 * timeout would block the event loop for seconds just to decorate an error message.
 */
function readHolder(conn: SqliteConnection, name: string): SqliteLockHolder | undefined {
  const handle = conn.handle;
  const previous = handle.pragma('busy_timeout', { simple: true });
  handle.pragma('busy_timeout = 0');
  try {
    const row = handle
      .prepare<[string], { holder: string; pid: number; hostname: string; acquired_at: string }>(
        `select holder, pid, hostname, acquired_at from ${LOCK_TABLE} where name = ?`,
      )
      .get(name);
    return row && { holder: row.holder, pid: row.pid, hostname: row.hostname, acquiredAt: row.acquired_at };
  } catch {
    // No table yet, or the database is busy: the holder is simply unknown.
    return undefined;
  } finally {
    handle.pragma(`busy_timeout = ${Number(previous)}`);
  }
}

function timeoutError(
  conn: SqliteConnection,
  name: string,
  lockFile: string,
  timeoutMs: number,
): LockTimeoutError {
  const holder = readHolder(conn, name);
  const base = `timed out after ${timeoutMs} ms waiting for lock "${name}" on ${conn.filename}`;
  const details: Record<string, unknown> = { lock: name, lockFile, timeoutMs };
  if (holder === undefined) {
    return new LockTimeoutError(`${base}: held by another process (holder not recorded)`, { details });
  }
  if (holder.hostname === os.hostname() && !isAlive(holder.pid)) {
    // The row outlived a killed holder; the real holder took the lock but has not written its row yet.
    return new LockTimeoutError(
      `${base}: held by another process (the recorded holder, pid ${holder.pid}, is no longer running)`,
      { details },
    );
  }
  const who = `${holder.holder} (pid ${holder.pid} on host ${holder.hostname} since ${holder.acquiredAt})`;
  return new LockTimeoutError(`${base}: held by ${who}`, {
    details: {
      ...details,
      holder: holder.holder,
      holderPid: holder.pid,
      holderHost: holder.hostname,
      heldSince: holder.acquiredAt,
    },
  });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
