import { copyDatabase } from '@cmpkg/transform';
import { afterEach, describe, expect, it } from 'vitest';
import { engineAvailable, TEST_ENGINES } from '../helpers/engines.js';
import {
  AUTHORS,
  authorRows,
  canonicalExpected,
  canonicalRows,
  closeAll,
  columnsOf,
  LARGE_TEXT,
  type OpenDatabase,
  openDatabase,
  POSTS,
  postRows,
  seed,
} from './copy-helpers.js';

/**
 * Cross-engine copy on every ordered engine pair: the rows arrive value for value, the indexes and
 * the foreign key exist on the target, generated keys continue after the copied ones, and the
 * report's checksums agree.
 */
for (const fromEngine of TEST_ENGINES) {
  for (const toEngine of TEST_ENGINES) {
    describe.skipIf(!engineAvailable(fromEngine) || !engineAvailable(toEngine))(
      `copy ${fromEngine} → ${toEngine}`,
      () => {
        const opened: OpenDatabase[] = [];
        afterEach(() => closeAll(opened));

        it('copies every value, the indexes and foreign key, resets sequences and verifies', async () => {
          const from = await openDatabase(fromEngine, opened);
          const to = await openDatabase(toEngine, opened);
          await seed(from);

          const report = await copyDatabase({ from, to, batchSize: 7 });

          expect(report.verified).toBe(true);
          expect(report.tables.map((t) => t.target)).toEqual(['authors', 'posts']);
          for (const t of report.tables) {
            expect(t.verified).toBe(true);
            expect(t.sourceChecksum).toMatch(/^sum128:[0-9a-f]{32}$/);
            expect(t.targetChecksum).toBe(t.sourceChecksum);
            expect(t.targetRows).toBe(t.sourceRows);
            expect(t.resumed).toBe(false);
          }
          expect(report.tables.map((t) => t.rows)).toEqual([3, 25]);

          // Every value, compared by key against what was seeded (not only against the source).
          for (const [table, rows] of [
            [AUTHORS, authorRows()],
            [POSTS, postRows()],
          ] as const) {
            const got = await canonicalRows(to, table.name, columnsOf(table));
            expect(got).toEqual(canonicalExpected(rows, columnsOf(table)));
          }
          // And through the raw driver, for the values most easily mangled.
          const big = await to.test.query(`select ${lengthFn(toEngine)}(body) as n from posts where id = 1`);
          expect(Number(big[0]?.n)).toBe([...LARGE_TEXT].length);
          expect(Buffer.byteLength(LARGE_TEXT)).toBeGreaterThan(200 * 1024);
          const zoe = await to.test.query('select name from authors where id = 2');
          expect(zoe[0]?.name).toBe(authorRows()[1]![2]);

          const snapshot = await to.dialect.introspect(to.connection);
          const authors = snapshot.tables.find((t) => t.name === 'authors')!;
          const posts = snapshot.tables.find((t) => t.name === 'posts')!;
          expect(authors.indexes.find((i) => i.name === 'authors_email_key')).toMatchObject({
            unique: true,
            parts: [{ column: 'email' }],
          });
          expect(
            posts.indexes.find((i) => i.name === 'posts_author_title')?.parts.map((p) => p.column),
          ).toEqual(['author_id', 'title']);
          expect(posts.foreignKeys).toEqual([
            expect.objectContaining({
              columns: ['author_id'],
              referencedTable: 'authors',
              referencedColumns: ['id'],
            }),
          ]);
          expect(posts.primaryKey?.columns).toEqual(['id']);
          expect(authors.columns.find((c) => c.name === 'id')?.autoIncrement).toBe(true);

          // Generated keys continue after the copied ones.
          await to.test.query('insert into authors (email, active, created_at) values (?, ?, ?)', [
            'new@example.com',
            toEngine === 'postgresql' ? true : 1,
            toEngine === 'mysql' ? '2024-06-01 00:00:00' : '2024-06-01T00:00:00Z',
          ]);
          const added = await to.test.query("select id from authors where email = 'new@example.com'");
          expect(Number(added[0]?.id)).toBe(4);
          // The foreign key is enforced on the target.
          await expect(
            to.test.query('insert into posts (author_id, title) values (?, ?)', [999, 'orphan']),
          ).rejects.toThrow();

          // Nothing of the copy's bookkeeping is left behind.
          expect(await to.test.tableNames()).toEqual(['authors', 'posts']);
        });
      },
    );
  }
}

function lengthFn(engine: string): string {
  return engine === 'mysql' ? 'char_length' : 'length';
}
