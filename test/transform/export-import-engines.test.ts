import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { exportTables, importTables } from '@cmpkg/transform';
import { afterEach, expect, it } from 'vitest';
import { describeEnginePairs } from '../helpers/engines.js';
import {
  createFixtureTables,
  expectNextAuthorId,
  expectSeededRows,
  seededPair,
  suiteDatabases,
  tempDirs,
} from './copy-helpers.js';

/**
 * NDJSON export from one engine and import into another (tables created from the same portable
 * schema): no value changes on any engine pair.
 */
describeEnginePairs(
  (fromEngine, toEngine) => `export ${fromEngine} → import ${toEngine}`,
  (fromEngine, toEngine) => {
    const open = suiteDatabases();
    const temp = tempDirs('cmpkg-export-');
    afterEach(() => temp.removeAll());

    it('round-trips every value', async () => {
      const { from, to } = await seededPair(open, fromEngine, toEngine);
      await createFixtureTables(to);
      const out = join(temp.make(), 'export');

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
      await expectSeededRows(to);
      // Generated keys continue after the imported ones.
      await expectNextAuthorId(to, toEngine);
    });
  },
);
