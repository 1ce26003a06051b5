import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportTables, importTables } from '@cmpkg/transform';
import { afterEach, describe, expect, it } from 'vitest';
import { engineAvailable, TEST_ENGINES } from '../helpers/engines.js';
import {
  AUTHORS,
  authorRows,
  canonicalExpected,
  canonicalRows,
  closeAll,
  columnsOf,
  type OpenDatabase,
  openDatabase,
  POSTS,
  postRows,
  seed,
} from './copy-helpers.js';

/**
 * NDJSON export from one engine and import into another (tables created from the same portable
 * schema): no value changes on any engine pair.
 */
for (const fromEngine of TEST_ENGINES) {
  for (const toEngine of TEST_ENGINES) {
    describe.skipIf(!engineAvailable(fromEngine) || !engineAvailable(toEngine))(
      `export ${fromEngine} → import ${toEngine}`,
      () => {
        const opened: OpenDatabase[] = [];
        const dirs: string[] = [];
        afterEach(async () => {
          await closeAll(opened);
          for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
        });

        it('round-trips every value', async () => {
          const from = await openDatabase(fromEngine, opened);
          const to = await openDatabase(toEngine, opened);
          await seed(from);
          for (const table of [AUTHORS, POSTS]) {
            for (const sql of to.dialect.renderDdl({ kind: 'createTable', table }))
              await to.connection.execute(sql);
          }
          const dir = mkdtempSync(join(tmpdir(), 'cmpkg-export-'));
          dirs.push(dir);
          const out = join(dir, 'export');

          // Children listed first: the import still writes parents first.
          const exported = await exportTables({ db: from, tables: ['posts', 'authors'], out, batchSize: 6 });
          expect(exported.tables.map((t) => [t.table, t.rows])).toEqual([
            ['posts', 25],
            ['authors', 3],
          ]);
          const firstLine = JSON.parse(readFileSync(join(out, 'authors.ndjson'), 'utf8').split('\n')[0]!);
          expect(Object.keys(firstLine)).toEqual(['id', 'email', 'name', 'active', 'created_at']);

          const imported = await importTables({ db: to, input: out, batchSize: 6 });
          expect(imported.tables.map((t) => [t.table, t.written])).toEqual([
            ['authors', 3],
            ['posts', 25],
          ]);
          expect(imported.rejected).toBe(0);
          expect(await canonicalRows(to, 'authors', columnsOf(AUTHORS))).toEqual(
            canonicalExpected(authorRows(), columnsOf(AUTHORS)),
          );
          expect(await canonicalRows(to, 'posts', columnsOf(POSTS))).toEqual(
            canonicalExpected(postRows(), columnsOf(POSTS)),
          );
          // Generated keys continue after the imported ones.
          await to.test.query('insert into authors (email, active, created_at) values (?, ?, ?)', [
            'new@example.com',
            toEngine === 'postgresql' ? true : 1,
            toEngine === 'mysql' ? '2024-06-01 00:00:00' : '2024-06-01T00:00:00Z',
          ]);
          const added = await to.test.query("select id from authors where email = 'new@example.com'");
          expect(Number(added[0]?.id)).toBe(4);
        });
      },
    );
  }
}
