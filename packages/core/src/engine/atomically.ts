import type { Connection } from '../dialect.js';

/**
 * Runs `work` so that it either fully happens or leaves nothing behind: inside a savepoint when the
 * connection is already in a transaction (which stays usable after a failure, even on PostgreSQL
 * where a failed statement aborts it), otherwise in a transaction of its own. The error of `work` is
 * the one rethrown; a failing rollback (the session died with it) is not allowed to hide it.
 *
 * @example
 * const written = await atomically(conn, 'cmpkg_bulk_1', () => writeRows(conn, rows));
 */
export async function atomically<T>(conn: Connection, savepoint: string, work: () => Promise<T>): Promise<T> {
  const own = !conn.inTransaction;
  await conn.execute(own ? 'BEGIN' : `SAVEPOINT ${savepoint}`);
  try {
    const result = await work();
    await conn.execute(own ? 'COMMIT' : `RELEASE SAVEPOINT ${savepoint}`);
    return result;
  } catch (err) {
    try {
      if (own) await conn.execute('ROLLBACK');
      else {
        await conn.execute(`ROLLBACK TO SAVEPOINT ${savepoint}`);
        await conn.execute(`RELEASE SAVEPOINT ${savepoint}`);
      }
    } catch {
      // The session is gone, or a deadlock already rolled the whole transaction back (the savepoint
      // with it): the work's own error says more.
    }
    throw err;
  }
}
