import { importTables } from '@cmpkg/transform';
import { expect, it } from 'vitest';
import { describeEngines, type TestEngine } from '../helpers/engines.js';
import { author, importSuite, type OpenDatabase, rejection } from './copy-helpers.js';

/**
 * importTables inside a caller's transaction (what an install from a package does): a savepoint of
 * it, nothing committed, the caller's ROLLBACK undoes the import, a failed import undoes only
 * itself and leaves the caller's transaction usable, auto-increment columns follow the rows.
 */

describeEngines('import inside a caller transaction', (engine: TestEngine) => {
  const { seeded, ndjson } = importSuite(engine, 'cmpkg-itx-');
  async function ids(db: OpenDatabase): Promise<number[]> {
    return (await db.test.query('select id from authors order by id')).map((r) => Number(r.id));
  }
  const callerRow =
    "insert into authors (id, email, name, active, created_at) values (90, 'caller@example.com', 'Caller', true, '2024-03-01 00:00:00')";

  it('commits nothing: the caller rolls the import back with its own work', async () => {
    const db = await seeded();
    const before = await ids(db);
    await db.connection.execute('BEGIN');
    await db.connection.execute(callerRow);
    const report = await importTables({
      db,
      input: ndjson([author(50, 'fifty@example.com'), author(2, 'two@example.com', 'Two v2')]),
      mode: 'merge',
    });
    expect(report.written).toBe(2);
    expect(db.connection.inTransaction).toBe(true);
    await db.connection.execute('ROLLBACK');
    expect(await ids(db)).toEqual(before);
    expect((await db.test.query('select name from authors where id = 2'))[0]?.name).not.toBe('Two v2');
  });

  it('a failed import undoes only itself; the caller commits the rest', async () => {
    const db = await seeded();
    const before = await ids(db);
    await db.connection.execute('BEGIN');
    await db.connection.execute(callerRow);
    const error = await rejection(
      importTables({ db, input: ndjson([author(50, 'fifty@example.com'), author(51, null)]) }),
    );
    expect(error.code).toBe('E_DATA');
    expect(db.connection.inTransaction).toBe(true);
    await db.connection.execute('COMMIT');
    expect(await ids(db)).toEqual([...before, 90]);
  });

  it('synchronises auto-increment columns inside the caller transaction', async () => {
    const db = await seeded();
    await db.connection.execute('BEGIN');
    await importTables({ db, input: ndjson([author(500, 'big@example.com')]), mode: 'merge' });
    await db.connection.execute('COMMIT');
    await db.test.query(
      "insert into authors (email, active, created_at) values ('next@example.com', true, '2024-03-01 00:00:00')",
    );
    const rows = await db.test.query("select id from authors where email = 'next@example.com'");
    expect(Number(rows[0]?.id)).toBe(501);
  });
});
