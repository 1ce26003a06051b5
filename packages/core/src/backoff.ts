import os from 'node:os';

/**
 * The wait before retry number `attempt` (0-based): exponential from `initialMs`, capped at
 * `maxMs`, with "equal jitter" (half fixed, half random) so that several waiters do not retry in
 * lockstep. The one back-off of cmpkg: step retries, lock polling and reconnects use it.
 *
 * @example
 * import { setTimeout as sleep } from 'node:timers/promises';
 * for (let attempt = 0; !(await tryLock()); attempt++) await sleep(backoffDelay(attempt, 25, 250));
 */
export function backoffDelay(attempt: number, initialMs: number, maxMs: number): number {
  const cap = Math.min(maxMs, initialMs * 2 ** attempt);
  return cap / 2 + (Math.random() * cap) / 2;
}

/**
 * Who takes a lock when the caller names nobody: `user@host pid N`, as waiters see it in a lock
 * timeout. `os.userInfo()` throws for a uid without a passwd entry (common in containers); the
 * user is then left out.
 *
 * @example
 * await dialect.acquireLock(conn, 'cmpkg', { timeoutMs: 5000, holder: defaultLockHolder() });
 */
export function defaultLockHolder(): string {
  let user: string | undefined;
  try {
    user = os.userInfo().username;
  } catch {
    user = undefined;
  }
  return `${user ? `${user}@` : ''}${os.hostname()} pid ${process.pid}`;
}
