import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { canonicalValueText, decodeValue } from '@cmpkg/core';
import { copyDatabase, type ProgressEvent, TransformRegistry, verifyCopy } from '@cmpkg/transform';
import { afterEach, expect, it } from 'vitest';
import { describeEngines, engineAvailable } from '../helpers/engines.js';
import {
  AUTHORS,
  authorRows,
  canonicalExpected,
  canonicalRows,
  columnsOf,
  createTable,
  POSTS,
  postRows,
  rejection,
  seed,
  seededPair,
  suiteDatabases,
  tempDirs,
} from './copy-helpers.js';

/**
 * Copy behaviours beyond the plain copy, from SQLite into every engine: table subsets, mapping
 * files, refusals that leave the target as it was, replace, resume after an interruption, and
 * verification catching a changed target.
 */

describeEngines('copy sqlite → target', (engine) => {
  const open = suiteDatabases();
  const temp = tempDirs('cmpkg-map-');
  afterEach(() => temp.removeAll());
  const setup = () => seededPair(open, 'sqlite', engine);
  function mappingFile(content: unknown): string {
    const file = join(temp.make(), 'mapping.json');
    writeFileSync(file, JSON.stringify(content));
    return file;
  }

  it('copies only the tables asked for', async () => {
    const { from, to } = await setup();
    const report = await copyDatabase({ from, to, tables: ['authors'] });
    expect(report.tables.map((t) => t.source)).toEqual(['authors']);
    expect(report.verified).toBe(true);
    expect(await to.test.tableNames()).toEqual(['authors']);
    expect(await to.test.count('authors')).toBe(3);
  });

  it('renames a table and columns, leaves a column out and computes one with a function', async () => {
    const { from, to } = await setup();
    const file = mappingFile({
      tables: {
        posts: { target: 'articles', columns: { title: 'headline', body: null }, filter: 'id <= 20' },
        authors: {
          mapping: [
            { source: 'email', target: 'email_upper', transform: { type: 'function', definition: 'upper' } },
          ],
        },
      },
    });
    const report = await copyDatabase({ from, to, mappingFile: file, batchSize: 10 });
    expect(report.verified).toBe(true);
    expect(report.tables.map((t) => `${t.source}->${t.target}:${t.rows}`)).toEqual([
      'authors->authors:3',
      'posts->articles:20',
    ]);
    expect(await to.test.tableNames()).toEqual(['articles', 'authors']);

    const snapshot = await to.dialect.introspect(to.connection);
    const articles = snapshot.tables.find((t) => t.name === 'articles')!;
    expect(articles.columns.map((c) => c.name)).toEqual([
      'id',
      'author_id',
      'headline',
      'meta',
      'price',
      'attachment',
      'published_at',
      'score',
    ]);
    expect(articles.foreignKeys[0]).toMatchObject({ referencedTable: 'authors', columns: ['author_id'] });
    // The composite index follows the renamed column.
    expect(articles.indexes.find((i) => i.name === 'posts_author_title')?.parts.map((p) => p.column)).toEqual(
      ['author_id', 'headline'],
    );

    const authors = await to.test.query('select id, email, email_upper from authors order by id');
    expect(authors.map((r) => [Number(r.id), r.email, r.email_upper])).toEqual([
      [1, 'ada@example.com', 'ADA@EXAMPLE.COM'],
      [2, 'zoe@example.com', 'ZOE@EXAMPLE.COM'],
      [3, 'nobody@example.com', 'NOBODY@EXAMPLE.COM'],
    ]);
    expect(await to.test.count('articles')).toBe(20);
    const headlines = await to.test.query('select headline from articles where id = 7');
    expect(headlines[0]?.headline).toBe(postRows()[6]![2]);
  });

  it('rejects an unknown column, table or function in the mapping before creating anything', async () => {
    const { from, to } = await setup();
    const cases: Array<[unknown, string]> = [
      [{ tables: { posts: { columns: { nope: 'x' } } } }, 'field "tables.posts.columns.nope"'],
      [{ tables: { nope: {} } }, 'field "tables.nope"'],
      [
        { tables: { authors: { mapping: [{ source: 'emali', target: 'e' }] } } },
        'tables.authors.mapping[0].source',
      ],
      [
        {
          tables: {
            authors: {
              mapping: [
                { source: 'email', target: 'e', transform: { type: 'function', definition: 'shout' } },
              ],
            },
          },
        },
        'tables.authors.mapping[0].transform.definition',
      ],
      [{ tables: { posts: { filter: 'no_such_column > 1' } } }, 'field "tables.posts.filter"'],
      [{ tables: { posts: { colums: {} } } }, 'field "tables.posts.colums"'],
    ];
    for (const [content, field] of cases) {
      const file = mappingFile(content);
      const error = await rejection(copyDatabase({ from, to, mappingFile: file }));
      expect(error.code).toBe('E_MAPPING');
      expect(error.message).toContain(file);
      expect(error.message).toContain(field);
      expect(await to.test.tableNames()).toEqual([]);
    }
  });

  it('undoes everything when a custom function throws or a row cannot be written', async () => {
    const { from, to } = await setup();
    const registry = new TransformRegistry();
    registry.register('explode', (value) => {
      if (String(value).startsWith('post 020')) throw new Error('boom at 20');
      return value;
    });
    const custom = await rejection(
      copyDatabase({
        from,
        to,
        registry,
        batchSize: 5,
        mapping: {
          tables: {
            posts: {
              mapping: [
                {
                  source: 'title',
                  target: 'title',
                  transform: { type: 'custom', definition: 'explode' },
                  required: false,
                },
              ],
            },
          },
        },
      }),
    );
    expect(custom.code).toBe('E_TRANSFORM_FAILED');
    expect(await to.test.tableNames()).toEqual([]);

    // authors.name is NULL in row 3: a required mapping makes that row unwritable.
    const data = await rejection(
      copyDatabase({
        from,
        to,
        mapping: { tables: { authors: { mapping: [{ source: 'name', target: 'name', required: true }] } } },
      }),
    );
    expect(data.code).toBe('E_DATA');
    expect(data.message).toContain('id=3');
    expect(await to.test.tableNames()).toEqual([]);

    // Every email the same: the unique index cannot be created on the copied rows.
    const duplicates = await rejection(
      copyDatabase({
        from,
        to,
        mapping: {
          tables: {
            authors: {
              mapping: [
                {
                  source: 'email',
                  target: 'email',
                  transform: { type: 'lookup', definition: {} },
                  defaultValue: 'same@example.com',
                  required: false,
                },
              ],
            },
          },
        },
      }),
    );
    expect(duplicates.code).toBe('E_DATA');
    expect(duplicates.message).toContain('authors_email_key');
    expect(await to.test.tableNames()).toEqual([]);

    // Leaving out authors that posts reference: the foreign key cannot hold, nothing stays.
    const orphans = await rejection(
      copyDatabase({ from, to, mapping: { tables: { authors: { filter: 'id <> 3' } } } }),
    );
    expect(orphans.code).toBe('E_DATA');
    expect(orphans.message).toContain('posts');
    expect(await to.test.tableNames()).toEqual([]);
  });

  it('refuses a non-empty target table, leaving it untouched, and replaces it when asked', async () => {
    const { from, to } = await setup();
    await createTable(to, { ...AUTHORS, indexes: [] });
    await to.test.query('insert into authors (id, email, active, created_at) values (?, ?, ?, ?)', [
      42,
      'keep@example.com',
      engine === 'postgresql' ? true : 1,
      engine === 'mysql' ? '2020-01-01 00:00:00' : '2020-01-01T00:00:00Z',
    ]);
    const refused = await rejection(copyDatabase({ from, to }));
    expect(refused.code).toBe('E_TARGET_NOT_EMPTY');
    expect(refused.message).toContain('authors');
    expect(await to.test.tableNames()).toEqual(['authors']);
    const kept = await to.test.query('select id, email from authors');
    expect(kept.map((r) => [Number(r.id), r.email])).toEqual([[42, 'keep@example.com']]);

    const report = await copyDatabase({ from, to, replace: true });
    expect(report.verified).toBe(true);
    expect(await canonicalRows(to, 'authors', columnsOf(AUTHORS))).toEqual(
      canonicalExpected(authorRows(), columnsOf(AUTHORS)),
    );
    expect(await to.test.tableNames()).toEqual(['authors', 'posts']);
  });

  it('resumes an interrupted copy exactly where it stopped', async () => {
    const { from, to } = await setup();
    const controller = new AbortController();
    const seen: ProgressEvent[] = [];
    const interrupted = copyDatabase({
      from,
      to,
      batchSize: 4,
      signal: controller.signal,
      onProgress: (e) => {
        seen.push(e);
        if (e.phase === 'copy' && e.table === 'posts' && e.rows >= 8 && !e.done) controller.abort();
      },
    });
    await expect(interrupted).rejects.toThrow();
    // Two batches of posts were committed, with their checkpoint.
    expect(await to.test.count('posts')).toBe(8);
    expect(await to.test.tableNames()).toContain('cmpkg_checkpoints');

    const report = await copyDatabase({ from, to, batchSize: 4 });
    const posts = report.tables.find((t) => t.source === 'posts')!;
    const authors = report.tables.find((t) => t.source === 'authors')!;
    expect(posts.resumed).toBe(true);
    expect(authors.resumed).toBe(true);
    expect(posts.rows).toBe(25);
    expect(report.verified).toBe(true);
    expect(posts.targetChecksum).toBe(posts.sourceChecksum);
    expect(await canonicalRows(to, 'posts', columnsOf(POSTS))).toEqual(
      canonicalExpected(postRows(), columnsOf(POSTS)),
    );
    expect(await to.test.tableNames()).toEqual(['authors', 'posts']);
    expect(seen.some((e) => e.phase === 'copy' && e.rowsPerSecond >= 0)).toBe(true);
  });

  it('verification catches a changed or missing target row', async () => {
    const { from, to } = await setup();
    const report = await copyDatabase({ from, to, verify: false });
    expect(report.verified).toBe(false);
    expect(report.tables.every((t) => t.verified === null)).toBe(true);

    const clean = await verifyCopy({ from, to });
    expect(clean.map((t) => [t.target, t.verified, t.sourceRows])).toEqual([
      ['authors', true, 3],
      ['posts', true, 25],
    ]);

    await to.test.query("update posts set title = 'tampered' where id = 5");
    const changed = await rejection(verifyCopy({ from, to }));
    expect(changed.code).toBe('E_VERIFY_FAILED');
    expect(changed.message).toContain('posts');
    expect(changed.message).toContain('different content');

    await to.test.query('delete from posts where id = 6');
    const missing = await rejection(verifyCopy({ from, to }));
    expect(missing.code).toBe('E_VERIFY_FAILED');
    expect(missing.message).toContain('25 source row(s) but 24 in the target');
  });
});

// Keeps the canonical comparison honest: a value that differs must not compare equal.
it('canonical comparison tells different values apart', () => {
  const type = 'timestamptz' as const;
  expect(canonicalValueText(type, decodeValue(type, '2024-01-01T00:00:00.000001Z'))).not.toBe(
    canonicalValueText(type, decodeValue(type, '2024-01-01T00:00:00Z')),
  );
});

describeEngines(
  'copy mysql → target',
  (engine) => {
    const open = suiteDatabases();

    it.skipIf(!engineAvailable('mysql'))(
      'refuses a MySQL table without a key before writing anything',
      async () => {
        const from = await open('mysql');
        const to = await open(engine);
        await from.connection.execute('create table loose (name varchar(20))');
        await from.connection.execute("insert into loose values ('a'), ('a')");
        const error = await rejection(copyDatabase({ from, to }));
        expect(error.code).toBe('E_DATA');
        expect(error.message).toContain('loose');
        expect(await to.test.tableNames()).toEqual([]);
        // Left out, the rest copies.
        await seed(from);
        const report = await copyDatabase({ from, to, tables: ['authors', 'posts'] });
        expect(report.verified).toBe(true);
      },
    );
  },
  ['sqlite', 'mysql'],
);
