import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { LockOptions, ReleaseLock } from '@cmpkg/core';
import { backoffDelay, defaultLockHolder, LockTimeoutError, UsageError } from '@cmpkg/core';
import type { MysqlConnection } from './mysql-connection.js';

/**
 * The table in the migrated database that says who holds which lock; informational only (the lock
 * itself is `GET_LOCK`). Mirrors the SQLite dialect's table of the same name.
 *
 * @example
 * await conn.execute(`select name, holder, connection_id, acquired_at from ${LOCK_TABLE}`);
 */
export const LOCK_TABLE = 'cmpkg_lock';

/** MySQL refuses `GET_LOCK` names longer than this (ER_USER_LOCK_WRONG_NAME). */
const MAX_LOCK_NAME = 64;
const MIN_DELAY_MS = 25;
const MAX_DELAY_MS = 250;
/** How long a reconnected session waits to take a lock back. */
const REACQUIRE_TIMEOUT_S = 10;

/**
 * The server-wide `GET_LOCK` name of lock `name` in `database`: `cmpkg:<database>:<name>`, so two
 * databases on one server have independent locks. Names past MySQL's 64-character limit become
 * `cmpkg:` plus a sha256 prefix of `<database>:<name>`.
 *
 * @example
 * mysqlLockName('shop', 'cmpkg'); // 'cmpkg:shop:cmpkg'
 */
export function mysqlLockName(database: string, name: string): string {
  const full = `cmpkg:${database}:${name}`;
  if ([...full].length <= MAX_LOCK_NAME) return full;
  const digest = createHash('sha256').update(`${database}:${name}`).digest('hex');
  return `cmpkg:${digest.slice(0, MAX_LOCK_NAME - 'cmpkg:'.length)}`;
}

/**
 * Who holds a lock, as far as the server (`IS_USED_LOCK`, `information_schema.PROCESSLIST`) and the
 * `cmpkg_lock` row of the holder tell.
 *
 * @example
 * const h: MysqlLockHolder = { connectionId: 42, holder: 'deploy@ci (pid 7)', user: 'app', host: '10.0.0.5:50312' };
 */
export interface MysqlLockHolder {
  /** The server connection (thread) id holding the lock. */
  connectionId: number;
  /** The `holder` recorded in `cmpkg_lock` by that connection, when it recorded one. */
  holder?: string;
  user?: string;
  host?: string;
  /** Seconds the holder's connection has been in its current state. */
  seconds?: number;
  /** ISO-8601 UTC, from `cmpkg_lock`. */
  acquiredAt?: string;
}

type Run = (sql: string, params?: readonly unknown[]) => Promise<Record<string, unknown>[]>;

/**
 * Takes the migration lock `name` of the connection's database with `GET_LOCK`, which the server
 * releases by itself when the holding connection ends, even if its process is killed.
 *
 * Waiting never blocks the event loop or a server thread: each attempt is `GET_LOCK(name, 0)` and the
 * loop sleeps (25 → 250 ms, with jitter) between attempts, until `timeoutMs`. After taking the lock,
 * the holder is recorded in the `cmpkg_lock` table (not on read-only connections, which write
 * nothing). On timeout the `LockTimeoutError` names the holder: its connection id, user and host
 * from the process list, and its `cmpkg_lock` row. If the server drops the connection, the connection
 * takes the lock back when it reconnects. The lock is exclusive, also within one connection.
 *
 * @example
 * const release = await acquireMysqlLock(conn, 'cmpkg', { timeoutMs: 10_000, holder: 'deploy@ci' });
 * try { await migrate(conn); } finally { await release(); }
 */
export async function acquireMysqlLock(
  conn: MysqlConnection,
  name: string,
  options: LockOptions,
): Promise<ReleaseLock> {
  if (name === '') throw new UsageError('a lock needs a name');
  const { timeoutMs } = options;
  if (!Number.isFinite(timeoutMs) || timeoutMs < 0) {
    throw new UsageError(`invalid lock timeout ${timeoutMs}: expected a number of milliseconds >= 0`);
  }
  if (!conn.isOpen) throw new UsageError(`cannot take lock "${name}": the connection is closed`);
  const serverName = mysqlLockName(conn.database, name);
  const run: Run = async (sql, params) => (await conn.execute(sql, params)).rows;

  const deadline = Date.now() + timeoutMs;
  for (let attempt = 0; ; attempt++) {
    // GET_LOCK is re-entrant within one session; the migration lock must not be.
    if (!conn.holdsLock(serverName)) {
      const [row] = await run('SELECT GET_LOCK(?, 0) AS got', [serverName]);
      if (Number(row?.got) === 1) break;
    }
    if (!conn.isOpen) throw new UsageError(`stopped waiting for lock "${name}": the connection was closed`);
    const remaining = deadline - Date.now();
    if (remaining <= 0) throw await timeoutError(conn, run, name, serverName, timeoutMs);
    await sleep(Math.min(remaining, backoffDelay(attempt, MIN_DELAY_MS, MAX_DELAY_MS)));
  }

  const holder = options.holder ?? defaultLockHolder();
  const acquiredAt = new Date().toISOString();
  if (!conn.readOnly) {
    try {
      await writeHolder(run, name, holder, acquiredAt);
    } catch (err) {
      // Without the row a waiter could not say who holds the lock; fail now rather than hold it silently.
      await conn.runIfAlive('DO RELEASE_LOCK(?)', [serverName]).catch(() => undefined);
      throw err;
    }
  }

  const untrack = conn.trackLock({
    serverName,
    reacquire: async (runOnNewSession) => {
      const [row] = await runOnNewSession(`SELECT GET_LOCK(?, ${REACQUIRE_TIMEOUT_S}) AS got`, [serverName]);
      if (Number(row?.got) !== 1) {
        const who = await findHolder(runOnNewSession, name, serverName).catch(() => undefined);
        throw new Error(who ? `it is ${describeHolder(who)}` : 'another connection holds it');
      }
      if (!conn.readOnly) await writeHolder(runOnNewSession, name, holder, acquiredAt).catch(() => undefined);
    },
  });

  let released = false;
  const release: ReleaseLock = async () => {
    if (released) return;
    released = true;
    untrack();
    unregister();
    // Never reconnects: a dropped session has lost its locks already. Errors are swallowed because
    // throwing here would mask the error of the migration whose `finally` releases the lock.
    try {
      if (!conn.readOnly) {
        await conn.runIfAlive(
          `DELETE FROM ${LOCK_TABLE} WHERE name = ? AND connection_id = CONNECTION_ID()`,
          [name],
        );
      }
    } catch {
      // The row is only a label; the next holder replaces it.
    }
    try {
      await conn.runIfAlive('DO RELEASE_LOCK(?)', [serverName]);
    } catch {
      // The session is gone, and the server released the lock with it.
    }
  };
  const unregister = conn.onClose(release);
  return release;
}

async function writeHolder(run: Run, name: string, holder: string, acquiredAt: string): Promise<void> {
  await run(
    `CREATE TABLE IF NOT EXISTS ${LOCK_TABLE} (
       name VARCHAR(191) NOT NULL PRIMARY KEY,
       holder TEXT,
       connection_id BIGINT,
       acquired_at VARCHAR(32)
     ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
  );
  await run(
    `REPLACE INTO ${LOCK_TABLE} (name, holder, connection_id, acquired_at) VALUES (?, ?, CONNECTION_ID(), ?)`,
    [name, holder, acquiredAt],
  );
}

/**
 * Who holds `serverName` right now, or `undefined` when nobody does (it was released meanwhile).
 * @internal
 */
export async function findHolder(
  run: Run,
  name: string,
  serverName: string,
): Promise<MysqlLockHolder | undefined> {
  const [used] = await run('SELECT IS_USED_LOCK(?) AS id', [serverName]);
  if (used?.id === null || used?.id === undefined) return undefined;
  const connectionId = Number(used.id);
  const out: MysqlLockHolder = { connectionId };
  try {
    const [proc] = await run(
      'SELECT USER AS user, HOST AS host, TIME AS time FROM information_schema.PROCESSLIST WHERE ID = ?',
      [connectionId],
    );
    if (proc) {
      out.user = String(proc.user);
      out.host = String(proc.host);
      out.seconds = Number(proc.time);
    }
  } catch {
    // No PROCESS privilege shows only one's own sessions; the id alone still helps.
  }
  try {
    const [row] = await run(
      `SELECT holder, acquired_at FROM ${LOCK_TABLE} WHERE name = ? AND connection_id = ?`,
      [name, connectionId],
    );
    if (row) {
      out.holder = String(row.holder);
      out.acquiredAt = String(row.acquired_at);
    }
  } catch {
    // No cmpkg_lock table yet: the holder has not recorded itself.
  }
  return out;
}

function describeHolder(h: MysqlLockHolder): string {
  const facts = [`connection ${h.connectionId}`];
  if (h.user !== undefined) facts.push(`${h.user}@${h.host}`);
  if (h.seconds !== undefined) facts.push(`for ${h.seconds} s`);
  if (h.acquiredAt !== undefined) facts.push(`since ${h.acquiredAt}`);
  return `held by ${h.holder ?? 'a holder that recorded no name'} (${facts.join(', ')})`;
}

async function timeoutError(
  conn: MysqlConnection,
  run: Run,
  name: string,
  serverName: string,
  timeoutMs: number,
): Promise<LockTimeoutError> {
  const base = `timed out after ${timeoutMs} ms waiting for lock "${name}" on ${conn.displayUrl}`;
  const details: Record<string, unknown> = { lock: name, serverLock: serverName, timeoutMs };
  if (conn.holdsLock(serverName)) {
    return new LockTimeoutError(`${base}: this connection already holds it`, {
      details: { ...details, holderConnectionId: conn.threadId },
    });
  }
  const holder = await findHolder(run, name, serverName).catch(() => undefined);
  if (holder === undefined) {
    return new LockTimeoutError(`${base}: held by another connection (released just now)`, { details });
  }
  return new LockTimeoutError(`${base}: ${describeHolder(holder)}`, {
    details: {
      ...details,
      holder: holder.holder,
      holderConnectionId: holder.connectionId,
      holderUser: holder.user,
      holderHost: holder.host,
      heldForSeconds: holder.seconds,
      heldSince: holder.acquiredAt,
    },
  });
}
