import type { LockOptions, ReleaseLock } from '@cmpkg/core';
import { ConnectionError, defaultLockHolder, LockTimeoutError, UsageError } from '@cmpkg/core';
import type pg from 'pg';
import type { HeldAdvisoryLock, PostgresConnection } from './postgres-connection.js';
import { sqlStateOf } from './postgres-errors.js';

/**
 * The first key of every cmpkg advisory lock (`pg_advisory_lock(classid, objid)`): the ASCII bytes of
 * `cmpk`, so cmpkg's locks are easy to tell apart in `pg_locks` from an application's own.
 *
 * @example
 * await conn.execute(`select pid, objid from pg_locks where locktype = 'advisory' and classid = ${ADVISORY_LOCK_CLASS_ID}`);
 */
export const ADVISORY_LOCK_CLASS_ID = 0x636d706b;

/** PostgreSQL keeps NAMEDATALEN - 1 bytes of `application_name`. */
const APPLICATION_NAME_BYTES = 63;
const MAX_LOCK_TIMEOUT_MS = 2_147_483_647;

/**
 * The two keys of the advisory lock for a lock name: the fixed {@link ADVISORY_LOCK_CLASS_ID} and a
 * 31-bit FNV-1a hash of the name's UTF-8 bytes (non-negative, so it reads the same in `pg_locks.objid`).
 * Advisory locks are per database already, so the name alone is enough.
 *
 * @example
 * advisoryLockKey('cmpkg'); // { classId: 1668116587, objId: ... }
 */
export function advisoryLockKey(name: string): { classId: number; objId: number } {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(name, 'utf8')) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return { classId: ADVISORY_LOCK_CLASS_ID, objId: hash & 0x7fffffff };
}

/**
 * Who holds an advisory lock, as the server shows it (`pg_locks` joined with `pg_stat_activity`).
 *
 * @example
 * const h: PostgresLockHolder = { pid: 4242, applicationName: 'cmpkg: deploy@ci', user: 'app', clientAddress: '10.0.0.7', since: '2025-01-02T03:04:05.000Z' };
 */
export interface PostgresLockHolder {
  /** The server process of the holding session. */
  pid: number;
  /** `cmpkg: <holder>` for cmpkg holders; whatever the session set otherwise. */
  applicationName: string;
  user?: string;
  /** The client's IP address; undefined for Unix-socket sessions (or when not visible to this role). */
  clientAddress?: string;
  /** When the holding session connected (ISO-8601). */
  since?: string;
}

/**
 * The `application_name` a lock holder shows: `cmpkg: <holder>`, printable ASCII only (the server would
 * mangle anything else) and cut to the 63 bytes PostgreSQL keeps.
 *
 * @example
 * lockApplicationName('deploy@ci'); // 'cmpkg: deploy@ci'
 */
export function lockApplicationName(holder: string): string {
  return `cmpkg: ${holder}`.replace(/[^\x20-\x7e]/g, '?').slice(0, APPLICATION_NAME_BYTES);
}

/**
 * Takes the migration lock `name` as a session-level advisory lock, `pg_advisory_lock(classid, objid)`
 * (see {@link advisoryLockKey}). The server releases it when the session ends, so a crashed migrator
 * never leaves a stale lock.
 *
 * - Waiting uses `lock_timeout` (the session's previous value is restored afterwards, also on failure);
 *   `timeoutMs: 0` tries once without waiting.
 * - While the lock is held, the session's `application_name` is `cmpkg: <holder>`, so waiters (and
 *   anyone looking at `pg_stat_activity`) see who holds it; release restores the previous name.
 * - On timeout, `LockTimeoutError` names the holder as the server shows it: application name, pid,
 *   user, client address and since when its session is connected.
 * - If the connection drops, the reconnect takes the lock back (see `PostgresConnection`).
 *
 * Release unlocks and is safe to call twice; `close()` releases too.
 *
 * @example
 * const release = await acquirePostgresLock(conn, 'cmpkg', { timeoutMs: 10_000, holder: 'deploy@ci' });
 * try { await migrate(conn); } finally { await release(); }
 */
export async function acquirePostgresLock(
  conn: PostgresConnection,
  name: string,
  options: LockOptions,
): Promise<ReleaseLock> {
  if (name === '') throw new UsageError('the lock name must not be empty');
  const { timeoutMs } = options;
  if (!Number.isFinite(timeoutMs) || timeoutMs < 0) {
    throw new UsageError(`invalid lock timeout ${timeoutMs}: expected a number of milliseconds >= 0`);
  }
  if (!conn.isOpen) throw new UsageError(`cannot take lock "${name}": the connection is closed`);
  const key = advisoryLockKey(name);
  const lock: HeldAdvisoryLock = { name, ...key };
  // Tracked from the moment the server grants it: if the session drops before acquire returns, the
  // reconnect of the next statement must take the lock back, or the caller would go on believing it
  // holds a lock nobody holds.
  const track = () => conn.trackLock(lock, (client, held, ms) => relock(conn, client, held, ms));
  let untrack = () => {};

  if (timeoutMs === 0) {
    const { rows } = await conn.execute<{ locked: boolean }>(
      'select pg_try_advisory_lock($1, $2) as locked',
      [key.classId, key.objId],
    );
    if (rows[0]?.locked !== true) throw await lockTimeout(conn, lock, timeoutMs);
    untrack = track();
  } else {
    const { rows } = await conn.execute<{ value: string }>("select current_setting('lock_timeout') as value");
    const previous = rows[0]?.value ?? '0';
    await conn.execute("select set_config('lock_timeout', $1, false)", [
      String(Math.min(Math.ceil(timeoutMs), MAX_LOCK_TIMEOUT_MS)),
    ]);
    try {
      await conn.execute('select pg_advisory_lock($1, $2)', [key.classId, key.objId]);
      untrack = track();
    } catch (err) {
      if (sqlStateOf(err) === '55P03') throw await lockTimeout(conn, lock, timeoutMs, err);
      throw err;
    } finally {
      // Restoring must not mask the outcome; a session that broke meanwhile starts fresh anyway.
      await conn.execute("select set_config('lock_timeout', $1, false)", [previous]).catch(() => undefined);
    }
  }

  let previousName: string;
  try {
    previousName = await conn.setApplicationName(lockApplicationName(options.holder ?? defaultLockHolder()));
  } catch (err) {
    // Without the name a waiter could not say who holds the lock; fail now rather than hold it silently.
    untrack();
    await conn.queryIfAlive('select pg_advisory_unlock($1, $2)', [key.classId, key.objId]).catch(() => false);
    throw err;
  }

  let released = false;
  const release: ReleaseLock = async () => {
    if (released) return;
    released = true;
    unregister();
    // Forget it first, so a reconnect from now on does not take it back.
    untrack();
    // Neither step may throw: that would mask the error of the migration whose `finally` releases us,
    // and the lock ends with the session at the latest.
    // A dead session has released it already; reconnecting just to unlock would be pointless.
    await conn.queryIfAlive('select pg_advisory_unlock($1, $2)', [key.classId, key.objId]).catch(() => false);
    await conn.restoreApplicationName(previousName).catch(() => undefined);
  };
  const unregister = conn.onClose(release);
  return release;
}

/**
 * Reads who holds the advisory lock `key` in the current database (granted, in another session).
 *
 * @example
 * const holder = await findPostgresLockHolder((sql, params) => conn.execute(sql, params), advisoryLockKey('cmpkg'));
 */
export async function findPostgresLockHolder(
  query: (sql: string, params: unknown[]) => Promise<{ rows: Array<Record<string, unknown>> }>,
  key: { classId: number; objId: number },
): Promise<PostgresLockHolder | undefined> {
  const { rows } = await query(
    `select a.pid, a.application_name, a.usename, host(a.client_addr) as client_addr, a.backend_start
       from pg_locks l join pg_stat_activity a on a.pid = l.pid
      where l.locktype = 'advisory' and l.granted and l.objsubid = 2
        and l.classid = $1 and l.objid = $2 and l.pid <> pg_backend_pid()
        and l.database = (select oid from pg_database where datname = current_database())
      limit 1`,
    [key.classId, key.objId],
  );
  const row = rows[0];
  if (row === undefined) return undefined;
  const since = row.backend_start instanceof Date ? row.backend_start.toISOString() : undefined;
  return {
    pid: Number(row.pid),
    applicationName: typeof row.application_name === 'string' ? row.application_name : '',
    user: typeof row.usename === 'string' ? row.usename : undefined,
    clientAddress: typeof row.client_addr === 'string' ? row.client_addr : undefined,
    since,
  };
}

/**
 * One line for a holder: `cmpkg: deploy@ci (pid 4242, user app, client 10.0.0.7, connected since ...)`.
 *
 * @example
 * console.log(`lock held by ${describeLockHolder(holder)}`);
 */
export function describeLockHolder(holder: PostgresLockHolder): string {
  const facts = [`pid ${holder.pid}`];
  if (holder.user !== undefined) facts.push(`user ${holder.user}`);
  facts.push(holder.clientAddress !== undefined ? `client ${holder.clientAddress}` : 'local socket');
  if (holder.since !== undefined) facts.push(`connected since ${holder.since}`);
  const name = holder.applicationName !== '' ? holder.applicationName : 'a session without application_name';
  return `${name} (${facts.join(', ')})`;
}

async function lockTimeout(
  conn: PostgresConnection,
  lock: HeldAdvisoryLock,
  timeoutMs: number,
  cause?: unknown,
): Promise<LockTimeoutError> {
  const base = `timed out after ${timeoutMs} ms waiting for lock "${lock.name}" on ${conn.displayUrl}`;
  const details: Record<string, unknown> = {
    lock: lock.name,
    timeoutMs,
    classId: lock.classId,
    objId: lock.objId,
  };
  const holder = await findPostgresLockHolder((sql, params) => conn.execute(sql, params), lock).catch(
    () => undefined,
  );
  if (holder === undefined) {
    // Released between the timeout and the lookup, or not visible to this role.
    return new LockTimeoutError(`${base}: held by another session (no longer visible)`, { cause, details });
  }
  return new LockTimeoutError(`${base}: held by ${describeLockHolder(holder)}`, {
    cause,
    details: {
      ...details,
      holder: holder.applicationName,
      holderPid: holder.pid,
      holderUser: holder.user,
      holderAddress: holder.clientAddress,
      heldSince: holder.since,
    },
  });
}

/** Takes a lock back on the new session of a reconnect; a failure is final (`ConnectionError`). */
async function relock(
  conn: PostgresConnection,
  client: pg.Client,
  lock: HeldAdvisoryLock,
  timeoutMs: number,
): Promise<void> {
  await client.query("select set_config('lock_timeout', $1, false)", [String(timeoutMs)]);
  try {
    await client.query('select pg_advisory_lock($1, $2)', [lock.classId, lock.objId]);
  } catch (err) {
    const holder =
      sqlStateOf(err) === '55P03'
        ? await findPostgresLockHolder((sql, params) => client.query(sql, params), lock).catch(
            () => undefined,
          )
        : undefined;
    const { host, port, database } = conn.server;
    throw new ConnectionError(
      `lost lock "${lock.name}" on PostgreSQL at ${host}:${port}/${database}: the connection dropped, and ` +
        `after reconnecting the lock could not be taken back within ${timeoutMs} ms` +
        (holder !== undefined ? ` (now held by ${describeLockHolder(holder)})` : ''),
      { cause: err, details: { host, port, database, lock: lock.name, holderPid: holder?.pid } },
    );
  } finally {
    await client.query('reset lock_timeout').catch(() => undefined);
  }
}
