import { copyDatabase } from '@cmpkg/transform';
import { expect, it } from 'vitest';
import { describeEnginePairs } from '../helpers/engines.js';
import {
  authorRows,
  expectNextAuthorId,
  expectSeededRows,
  LARGE_TEXT,
  seededPair,
  suiteDatabases,
} from './copy-helpers.js';

/**
 * Cross-engine copy on every ordered engine pair: the rows arrive value for value, the indexes and
 * the foreign key exist on the target, generated keys continue after the copied ones, and the
 * report's checksums agree.
 */
describeEnginePairs(
  (fromEngine, toEngine) => `copy ${fromEngine} → ${toEngine}`,
  (fromEngine, toEngine) => {
    const open = suiteDatabases();

    it('copies every value, the indexes and foreign key, resets sequences and verifies', async () => {
      const { from, to } = await seededPair(open, fromEngine, toEngine);

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
      await expectSeededRows(to);
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
      expect(posts.indexes.find((i) => i.name === 'posts_author_title')?.parts.map((p) => p.column)).toEqual([
        'author_id',
        'title',
      ]);
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
      await expectNextAuthorId(to, toEngine);
      // The foreign key is enforced on the target.
      await expect(
        to.test.query('insert into posts (author_id, title) values (?, ?)', [999, 'orphan']),
      ).rejects.toThrow();

      // Nothing of the copy's bookkeeping is left behind.
      expect(await to.test.tableNames()).toEqual(['authors', 'posts']);
    });
  },
);

function lengthFn(engine: string): string {
  return engine === 'mysql' ? 'char_length' : 'length';
}
