import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exportTables, importTables } from '@cmpkg/transform';
import { expect, it } from 'vitest';
import { describeEngines, type TestEngine } from '../helpers/engines.js';
import { AUTHORS, author, importSuite, type OpenDatabase, rejection } from './copy-helpers.js';

/**
 * Import modes, failures that write nothing, skip-errors with a reject file, validate-only, export
 * filters and the export manifest, on every engine.
 */

describeEngines('export/import', (engine: TestEngine) => {
  const { seeded, tempDir, ndjson } = importSuite(engine, 'cmpkg-ei-');
  async function authors(db: OpenDatabase): Promise<Array<[number, string, string | null]>> {
    const rows = await db.test.query('select id, email, name from authors order by id');
    return rows.map((r) => [Number(r.id), String(r.email), (r.name as string | null) ?? null]);
  }

  it('inserts, merges by primary key, and replaces', async () => {
    const db = await seeded();
    await importTables({ db, input: ndjson([author(4, 'four@example.com'), author(5, 'five@example.com')]) });
    expect((await authors(db)).map((r) => r[0])).toEqual([1, 2, 3, 4, 5]);

    await importTables({
      db,
      input: ndjson([author(2, 'zoe@example.com', 'Zoë v2'), author(6, 'six@example.com', 'Six')]),
      mode: 'merge',
    });
    const merged = await authors(db);
    expect(merged.map((r) => r[0])).toEqual([1, 2, 3, 4, 5, 6]);
    expect(merged[1]).toEqual([2, 'zoe@example.com', 'Zoë v2']);
    expect(merged[5]).toEqual([6, 'six@example.com', 'Six']);

    // posts reference authors: replace them too, in one import, children deleted first.
    const dir = tempDir();
    writeFileSync(join(dir, 'authors.ndjson'), `${JSON.stringify(author(9, 'nine@example.com', 'Nine'))}\n`);
    writeFileSync(
      join(dir, 'posts.ndjson'),
      `${JSON.stringify({ id: 1, author_id: 9, title: 'only one' })}\n`,
    );
    const report = await importTables({ db, input: dir, mode: 'replace' });
    expect(report.tables.map((t) => t.table)).toEqual(['authors', 'posts']);
    expect(await authors(db)).toEqual([[9, 'nine@example.com', 'Nine']]);
    expect(await db.test.count('posts')).toBe(1);
  });

  it('writes nothing when a row violates a constraint, naming file and line', async () => {
    const db = await seeded();
    const duplicate = ndjson([author(7, 'seven@example.com'), author(1, 'dup@example.com')]);
    const dup = await rejection(importTables({ db, input: duplicate, batchSize: 1 }));
    expect(dup.code).toBe('E_DATA');
    expect(dup.message).toContain('authors.ndjson:2');
    expect((await authors(db)).map((r) => r[0])).toEqual([1, 2, 3]);

    const nullEmail = ndjson([
      author(7, 'seven@example.com'),
      author(8, 'eight@example.com'),
      author(9, null),
    ]);
    const notNull = await rejection(importTables({ db, input: nullEmail }));
    expect(notNull.code).toBe('E_DATA');
    expect(notNull.message).toContain('authors.ndjson:3');
    expect((await authors(db)).map((r) => r[0])).toEqual([1, 2, 3]);

    const unknown = ndjson([author(7, 'seven@example.com'), { ...author(8, 'e@example.com'), emali: 'x' }]);
    const field = await rejection(importTables({ db, input: unknown }));
    expect(field.code).toBe('E_DATA');
    expect(field.message).toContain('authors.ndjson:2');
    expect(field.message).toContain('"emali"');
    expect((await authors(db)).map((r) => r[0])).toEqual([1, 2, 3]);
  });

  it('with skipErrors writes the good rows and lists exactly the bad ones', async () => {
    const db = await seeded();
    const input = ndjson([
      author(10, 'ten@example.com'),
      author(1, 'dup@example.com'),
      author(11, 'eleven@example.com'),
      author(12, null),
      '{"id": 13, "email": ',
      { ...author(14, 'x@example.com'), nope: 1 },
      author(15, 'fifteen@example.com'),
    ]);
    const rejectFile = join(tempDir(), 'rejects.ndjson');
    const report = await importTables({ db, input, skipErrors: true, rejectFile, batchSize: 3 });
    expect(report.written).toBe(3);
    expect(report.rejected).toBe(4);
    expect((await authors(db)).map((r) => r[0])).toEqual([1, 2, 3, 10, 11, 15]);
    const rejects = readFileSync(rejectFile, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { line: number; error: string; row: unknown });
    expect(rejects.map((r) => r.line).sort((a, b) => a - b)).toEqual([2, 4, 5, 6]);
    expect(rejects.find((r) => r.line === 2)?.row).toMatchObject({ id: 1, email: 'dup@example.com' });
    expect(rejects.find((r) => r.line === 6)?.error).toContain('"nope"');
    expect(report.problems.map((p) => p.line).sort((a, b) => a - b)).toEqual([2, 4, 5, 6]);
  });

  it('validateOnly reports the problems and writes nothing', async () => {
    const db = await seeded();
    const good = ndjson([author(20, 'twenty@example.com'), author(21, 'x@example.com')]);
    const report = await importTables({ db, input: good, validateOnly: true });
    expect(report.validateOnly).toBe(true);
    expect(report.rows).toBe(2);
    expect(report.written).toBe(0);
    expect(report.problems).toEqual([]);
    expect((await authors(db)).map((r) => r[0])).toEqual([1, 2, 3]);

    // Replacing authors alone would orphan their posts.
    const orphaning = await rejection(importTables({ db, input: good, mode: 'replace' }));
    expect(orphaning.code).toBe('E_DATA');
    expect(orphaning.message).toContain('authors');
    expect((await authors(db)).map((r) => r[0])).toEqual([1, 2, 3]);

    const input = ndjson([
      author(20, 'twenty@example.com'),
      author(2, 'dup@example.com'),
      author(21, 'x@example.com'),
    ]);

    const bad = await importTables({ db, input, validateOnly: true });
    expect(bad.problems.map((p) => [p.file, p.line])).toEqual([['authors.ndjson', 2]]);
    expect((await authors(db)).map((r) => r[0])).toEqual([1, 2, 3]);
  });

  it('exports only the rows in the date range and filter, with a manifest of checksums', async () => {
    const db = await seeded();
    const out = join(tempDir(), 'export');
    const report = await exportTables({
      db,
      tables: ['authors'],
      out,
      dateColumn: 'created_at',
      since: '2000-01-01',
      until: '2024-05-01T10:00:00.123456Z',
    });
    // 1999-12-31 is before, 2024-05-01T10:00:00.123456Z is the (exclusive) end.
    expect(report.tables[0]?.rows).toBe(1);
    const lines = readFileSync(join(out, 'authors.ndjson'), 'utf8').trim().split('\n');
    expect(lines.map((l) => (JSON.parse(l) as { id: number }).id)).toEqual([2]);

    const manifest = JSON.parse(readFileSync(join(out, 'export.json'), 'utf8'));
    expect(manifest).toMatchObject({
      format: 'cmpkg-export/1',
      source: db.connection.displayUrl,
      tables: [
        {
          table: 'authors',
          file: 'authors.ndjson',
          rows: 1,
          columns: AUTHORS.columns.map((c) => ({ name: c.name, type: c.type })),
        },
      ],
    });
    const sha = createHash('sha256')
      .update(readFileSync(join(out, 'authors.ndjson')))
      .digest('hex');
    expect(manifest.tables[0].sha256).toBe(sha);
    expect(typeof manifest.createdAt).toBe('string');

    const single = join(tempDir(), 'active.ndjson');
    await exportTables({
      db,
      tables: ['authors'],
      out: single,
      where: 'id >= 2',
      dateColumn: 'created_at',
      since: '1990-01-01',
    });
    const ids = readFileSync(single, 'utf8')
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { id: number }).id);
    expect(ids).toEqual([2, 3]);
  });

  it('refuses an import whose file changed after the export, and leaves no file when an export fails', async () => {
    const db = await seeded();
    const out = join(tempDir(), 'export');
    await exportTables({ db, tables: ['authors'], out });
    writeFileSync(join(out, 'authors.ndjson'), `${readFileSync(join(out, 'authors.ndjson'), 'utf8')}\n`);
    const changed = await rejection(importTables({ db, input: out, mode: 'replace' }));
    expect(changed.code).toBe('E_DATA');
    expect(changed.message).toContain('authors.ndjson');
    expect(await db.test.count('authors')).toBe(3);

    const failing = join(tempDir(), 'failing');
    await expect(
      exportTables({ db, tables: ['authors', 'posts'], out: failing, where: 'no_such_column = 1' }),
    ).rejects.toThrow();
    expect(existsSync(failing) ? readdirSync(failing) : []).toEqual([]);

    const missing = await rejection(exportTables({ db, tables: ['nope'], out: join(tempDir(), 'x') }));
    expect(missing.code).toBe('E_MAPPING');
    expect(missing.message).toContain('nope');
  });
});
