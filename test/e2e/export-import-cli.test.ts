import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  allOutput,
  type CliResult,
  cliIsBuilt,
  describeRun,
  parseJsonOutput,
  runCli,
} from '../helpers/cli.js';
import { count, fileFingerprint, query } from '../helpers/db.js';
import { createTestDatabase, describeEngines, type TestDatabase } from '../helpers/engines.js';
import { copySamplePlugin, type Project, removeTempDirs } from '../helpers/project.js';
import { SAMPLE_ENTRIES, sampleWithRows } from '../helpers/sample-data.js';

afterAll(removeTempDirs);

beforeAll(() => {
  if (!cliIsBuilt()) throw new Error('build the CLI first: pnpm --filter @cmpkg/cli build');
});

const EXPORTED = ['entries', 'tags', 'entry_tags'];

/** Runs `cmpkg <args>` in `dir` against `db` (a URL), with nothing else from the project. */
function cli(dir: string, db: string, args: string[]): Promise<CliResult> {
  return runCli([...args, '--db', db], { cwd: dir });
}

function ndjsonLines(file: string): Array<Record<string, unknown>> {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** A fresh SQLite file with the sample schema applied (categories seeded, other tables empty). */
async function emptySample(): Promise<Project> {
  const project = copySamplePlugin();
  const up = await project.run(['up']);
  expect(up.code, describeRun(['up'], up)).toBe(0);
  return project;
}

let source: Project;
let exportDir: string;

beforeAll(async () => {
  source = await sampleWithRows();
  exportDir = join(source.dir, 'export');
  const args = ['export', '--tables', EXPORTED.join(','), '--out', './export', '--json'];
  const result = await source.run(args);
  expect(result.code, describeRun(args, result)).toBe(0);
});

describe('cmpkg export', () => {
  it('writes one NDJSON file per table and an export.json with rows, columns and sha256', () => {
    expect(readdirSync(exportDir).sort()).toEqual([
      'entries.ndjson',
      'entry_tags.ndjson',
      'export.json',
      'tags.ndjson',
    ]);
    const manifest = JSON.parse(readFileSync(join(exportDir, 'export.json'), 'utf8')) as {
      format: string;
      tables: Array<{
        table: string;
        file: string;
        rows: number;
        sha256: string;
        columns: Array<{ name: string }>;
      }>;
    };
    expect(manifest.format).toBe('cmpkg-export/1');
    const entries = manifest.tables.find((t) => t.table === 'entries');
    expect(entries?.rows).toBe(SAMPLE_ENTRIES);
    // 1.1.0 added the slug, 2.0.0 the status.
    expect(entries?.columns.map((c) => c.name)).toEqual([
      'id',
      'title',
      'body',
      'created_at',
      'slug',
      'status',
    ]);
    const bytes = readFileSync(join(exportDir, 'entries.ndjson'));
    expect(entries?.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));

    const rows = ndjsonLines(join(exportDir, 'entries.ndjson'));
    expect(rows).toHaveLength(SAMPLE_ENTRIES);
    const source7 = query(source.dbFile, 'SELECT id, title, body, slug, status FROM entries WHERE id = 7')[0];
    expect(source7).toMatchObject({ slug: 'entry-7-—-ünïcødé-✓', status: 'published' });
    expect(rows.find((r) => r.id === 7)).toMatchObject(source7 ?? {});
  });

  it('--json prints the report: tables with rows, files and sha256', async () => {
    const args = ['export', '--tables', 'tags', '--out', './tags-only', '--json'];
    const result = await source.run(args);
    expect(result.code, describeRun(args, result)).toBe(0);
    const report = parseJsonOutput<{
      rows: number;
      tables: Array<{ table: string; rows: number; sha256: string }>;
    }>(result);
    expect(report.rows).toBe(3);
    expect(report.tables).toEqual([
      expect.objectContaining({ table: 'tags', rows: 3, sha256: expect.any(String) }),
    ]);
  });

  it('--out - writes one table as NDJSON to stdout, and refuses --json', async () => {
    const result = await source.run(['export', '--tables', 'categories', '--out', '-']);
    expect(result.code, describeRun(['export'], result)).toBe(0);
    const lines = result.stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { id: number; slug: string });
    expect(lines.map((l) => l.slug)).toEqual(['general', 'how-to', 'reference', 'troubleshooting']);

    const refused = await source.run(['export', '--tables', 'categories', '--out', '-', '--json']);
    expect(refused.code, describeRun(['export', '--json'], refused)).toBe(2);
    expect(allOutput(refused)).toMatch(/--out -.*--json/);
  });

  it('--date-column with --since/--until and --where export exactly the matching rows', async () => {
    const args = ['export', '--tables', 'entries', '--out', './march.ndjson'];
    const dated = await source.run([
      ...args,
      '--date-column',
      'created_at',
      '--since',
      '2024-03-03',
      '--until',
      '2024-03-05',
    ]);
    expect(dated.code, describeRun(args, dated)).toBe(0);
    const expected = query(
      source.dbFile,
      "SELECT id FROM entries WHERE created_at >= '2024-03-03' AND created_at < '2024-03-05' ORDER BY id",
    ).map((r) => r.id);
    expect(expected.length).toBeGreaterThan(0);
    expect(ndjsonLines(join(source.dir, 'march.ndjson')).map((r) => r.id)).toEqual(expected);

    const where = await source.run([
      'export',
      '--tables',
      'entries',
      '--out',
      './low.ndjson',
      '--where',
      'id <= 5',
    ]);
    expect(where.code, describeRun(['export', '--where'], where)).toBe(0);
    expect(ndjsonLines(join(source.dir, 'low.ndjson')).map((r) => r.id)).toEqual([1, 2, 3, 4, 5]);
  });

  it('bad arguments exit 2 naming what is wrong, and write no file', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['--tables', 'entries', '--out', './x.ndjson', '--since', '2024-01-01'], /--date-column/],
      [
        ['--tables', 'entries', '--out', './x.ndjson', '--date-column', 'created_at', '--since', 'yesterday'],
        /--since/,
      ],
      [['--tables', 'entries,tags', '--out', './x.ndjson'], /one table/],
      [['--tables', 'nope', '--out', './x.ndjson'], /nope/],
      [['--tables', 'entries', '--out', './x.ndjson', '--batch-size', '-1'], /--batch-size/],
    ];
    for (const [args, message] of cases) {
      const result = await source.run(['export', ...args]);
      expect(result.code, describeRun(['export', ...args], result)).toBe(2);
      expect(allOutput(result)).toMatch(message);
      expect(existsSync(join(source.dir, 'x.ndjson'))).toBe(false);
    }
  });
});

describe('cmpkg import into SQLite', () => {
  it('imports an export directory into a fresh database: the same rows', async () => {
    const target = await emptySample();
    const result = await cli(target.dir, 'sqlite:./test.db', ['import', exportDir, '--json']);
    expect(result.code, describeRun(['import', exportDir], result)).toBe(0);
    const report = parseJsonOutput<{ tables: Array<{ table: string; rows: number }> }>(result);
    expect(Object.fromEntries(report.tables.map((t) => [t.table, t.rows]))).toEqual({
      entries: SAMPLE_ENTRIES,
      tags: 3,
      entry_tags: 40,
    });
    for (const table of EXPORTED) {
      // Timestamps are written in the portable spelling (`2024-03-01T10:00:00`); SQLite keeps text as
      // given, so the comparison is on the instant, not on the separator.
      const columns = table === 'entry_tags' ? '*' : "*, replace(created_at, 'T', ' ') AS created_at";
      const sql = `SELECT ${columns} FROM ${table} ORDER BY 1, 2`;
      expect(query(target.dbFile, sql), table).toEqual(query(source.dbFile, sql));
    }
  });

  it('a bad row exits 2 naming file:line, and nothing is written', async () => {
    const target = await emptySample();
    const file = writeEntries(target, [good(1), { ...good(2), title: null }, good(3)]);
    const before = fileFingerprint(target.dbFile);
    const result = await cli(target.dir, 'sqlite:./test.db', ['import', file]);
    expect(result.code, describeRun(['import', file], result)).toBe(2);
    expect(allOutput(result)).toMatch(/E_DATA/);
    expect(allOutput(result)).toContain('entries.ndjson:2');
    expect(count(target.dbFile, 'entries')).toBe(0);
    expect(fileFingerprint(target.dbFile)).toBe(before);
  });

  it('an unknown field exits 2 naming file:line and the field', async () => {
    const target = await emptySample();
    const file = writeEntries(target, [good(1), { ...good(2), headline: 'x' }]);
    const result = await cli(target.dir, 'sqlite:./test.db', ['import', file]);
    expect(result.code, describeRun(['import', file], result)).toBe(2);
    expect(allOutput(result)).toMatch(/entries\.ndjson:2.*headline|headline.*entries\.ndjson:2/);
    expect(count(target.dbFile, 'entries')).toBe(0);
  });

  it('--skip-errors --reject-file writes the good rows and the bad ones to the reject file', async () => {
    const target = await emptySample();
    const file = writeEntries(target, [
      good(1),
      { ...good(2), title: null },
      good(3),
      { ...good(1), title: 'dup' },
    ]);
    const args = ['import', file, '--skip-errors', '--reject-file', 'rejects.ndjson'];
    const result = await cli(target.dir, 'sqlite:./test.db', args);
    expect(result.code, describeRun(args, result)).toBe(0);
    expect(query(target.dbFile, 'SELECT id, title FROM entries ORDER BY id')).toEqual([
      { id: 1, title: 'Entry 1' },
      { id: 3, title: 'Entry 3' },
    ]);
    const rejects = ndjsonLines(join(target.dir, 'rejects.ndjson')) as Array<{
      line: number;
      error: string;
      row: Record<string, unknown>;
    }>;
    expect(rejects.map((r) => r.line)).toEqual([2, 4]);
    expect(rejects[0]?.row).toMatchObject({ id: 2, title: null });
    expect(rejects[1]?.row).toMatchObject({ id: 1, title: 'dup' });
    for (const r of rejects) expect(r.error).toEqual(expect.any(String));
    expect(allOutput(result)).toMatch(/2 rows rejected/);
  });

  it('--validate checks the rows and writes nothing', async () => {
    const target = await emptySample();
    const before = fileFingerprint(target.dbFile);
    const result = await cli(target.dir, 'sqlite:./test.db', ['import', exportDir, '--validate']);
    expect(result.code, describeRun(['import', '--validate'], result)).toBe(0);
    expect(result.stdout).toMatch(/nothing written/);
    expect(count(target.dbFile, 'entries')).toBe(0);
    expect(fileFingerprint(target.dbFile)).toBe(before);
  });

  it('--validate lists the rows that would fail with file:line, exits 2, and writes nothing', async () => {
    const target = await emptySample();
    const file = writeEntries(target, [
      good(1),
      { ...good(2), title: null },
      good(3),
      { ...good(4), headline: 'x' },
    ]);
    const before = fileFingerprint(target.dbFile);
    const result = await cli(target.dir, 'sqlite:./test.db', ['import', file, '--validate']);
    expect(result.code, describeRun(['import', '--validate'], result)).toBe(2);
    expect(result.stdout).toMatch(/2 cannot/);
    expect(result.stdout).toMatch(/entries\.ndjson:2: /);
    expect(result.stdout).toMatch(/entries\.ndjson:4: .*headline/);
    expect(count(target.dbFile, 'entries')).toBe(0);
    expect(fileFingerprint(target.dbFile)).toBe(before);

    const json = await cli(target.dir, 'sqlite:./test.db', ['import', file, '--validate', '--json']);
    expect(json.code).toBe(2);
    const report = parseJsonOutput<{
      validateOnly: boolean;
      written: number;
      rejected: number;
      problems: Array<{ line: number }>;
    }>(json);
    expect(report).toMatchObject({ validateOnly: true, written: 0, rejected: 2 });
    // Decoding problems are found before writing ones; the order between them is not promised.
    expect(report.problems.map((p) => p.line).sort()).toEqual([2, 4]);
  });

  it('--mode merge updates rows by key and --mode replace empties the table first', async () => {
    const target = await emptySample();
    const file = join(target.dir, 'categories.ndjson');
    writeFileSync(
      file,
      `${JSON.stringify({ id: 2, slug: 'how-to', name: 'Guides' })}\n${JSON.stringify({ id: 5, slug: 'news', name: 'News' })}\n`,
    );
    const merged = await cli(target.dir, 'sqlite:./test.db', ['import', file, '--mode', 'merge']);
    expect(merged.code, describeRun(['import', '--mode', 'merge'], merged)).toBe(0);
    expect(query(target.dbFile, 'SELECT id, name FROM categories ORDER BY id').map((r) => r.name)).toEqual([
      'General',
      'Guides',
      'Reference; facts and tables',
      'Troubleshooting',
      'News',
    ]);
    const replaced = await cli(target.dir, 'sqlite:./test.db', ['import', file, '--mode', 'replace']);
    expect(replaced.code, describeRun(['import', '--mode', 'replace'], replaced)).toBe(0);
    expect(query(target.dbFile, 'SELECT id FROM categories ORDER BY id').map((r) => r.id)).toEqual([2, 5]);
  });

  it('--table names the target of a single file', async () => {
    const target = await emptySample();
    const file = join(target.dir, 'some-name.ndjson');
    writeFileSync(file, `${JSON.stringify({ name: 'solo', created_at: '2024-01-01T00:00:00' })}\n`);
    const result = await cli(target.dir, 'sqlite:./test.db', ['import', file, '--table', 'tags']);
    expect(result.code, describeRun(['import', '--table', 'tags'], result)).toBe(0);
    expect(query(target.dbFile, 'SELECT name FROM tags')).toEqual([{ name: 'solo' }]);
  });

  it('bad arguments exit 2 naming the option or the file', async () => {
    const target = await emptySample();
    const before = fileFingerprint(target.dbFile);
    const cases: Array<[string[], RegExp]> = [
      [['import', exportDir, '--reject-file', 'r.ndjson'], /--reject-file needs --skip-errors/],
      [['import', exportDir, '--mode', 'upsert'], /--mode/],
      [['import', 'missing.ndjson'], /missing\.ndjson/],
      [['import', exportDir, '--table', 'entries'], /--table/],
      [['import', exportDir, '--batch-size', 'many'], /--batch-size/],
    ];
    for (const [args, message] of cases) {
      const result = await cli(target.dir, 'sqlite:./test.db', args);
      expect(result.code, describeRun(args, result)).toBe(2);
      expect(allOutput(result)).toMatch(message);
    }
    expect(fileFingerprint(target.dbFile)).toBe(before);
  });
});

describeEngines(
  'cmpkg import of a SQLite export',
  (engine) => {
    let target: TestDatabase;
    beforeAll(async () => {
      target = await createTestDatabase(engine);
      const project = copySamplePlugin(target.url);
      const up = await project.run(['up']);
      expect(up.code, describeRun(['up'], up)).toBe(0);
    });
    afterAll(async () => {
      await target?.drop();
    });

    it('loads every exported table with the same values', async () => {
      const result = await cli(source.dir, target.url, ['import', exportDir]);
      expect(result.code, describeRun(['import', exportDir], result)).toBe(0);
      expect(result.stdout).toMatch(/Imported 163 rows into 3 tables/);
      expect(await target.count('entries')).toBe(SAMPLE_ENTRIES);
      expect(await target.count('entry_tags')).toBe(40);
      const expected = query(source.dbFile, 'SELECT id, title, body FROM entries ORDER BY id');
      const actual = await target.query('SELECT id, title, body FROM entries ORDER BY id');
      expect(actual.map((r) => ({ id: Number(r.id), title: r.title, body: r.body }))).toEqual(expected);
      const tags = await target.query('SELECT id, name FROM tags ORDER BY id');
      expect(tags.map((r) => [Number(r.id), r.name])).toEqual([
        [1, 'alpha'],
        [2, 'beta'],
        [3, 'gamma'],
      ]);
    });

    it('a constraint violation exits 2 naming file:line and leaves the table as it was', async () => {
      const dir = copySamplePlugin().dir;
      const file = join(dir, 'tags.ndjson');
      writeFileSync(
        file,
        `${JSON.stringify({ id: 10, name: 'new', created_at: '2024-01-01T00:00:00' })}\n${JSON.stringify({ id: 11, name: 'alpha', created_at: '2024-01-01T00:00:00' })}\n`,
      );
      const result = await cli(dir, target.url, ['import', file]);
      expect(result.code, describeRun(['import', file], result)).toBe(2);
      expect(allOutput(result)).toContain('tags.ndjson:2');
      expect(await target.count('tags')).toBe(3);
    });
  },
  ['postgresql', 'mysql'],
);

/** An `entries` row as the export writes it (sample 2.0.0: with the slug and the status). */
function good(id: number): Record<string, unknown> {
  return {
    id,
    title: `Entry ${id}`,
    body: 'text',
    created_at: '2024-03-01T10:00:00',
    slug: `entry-${id}`,
    status: 'published',
  };
}

function writeEntries(project: Project, rows: Array<Record<string, unknown>>): string {
  const file = join(project.dir, 'entries.ndjson');
  writeFileSync(file, rows.map((r) => `${JSON.stringify(r)}\n`).join(''));
  return file;
}
