import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SchemaSnapshot } from '@cmpkg/core';
import type { CopyReport } from '@cmpkg/transform';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  allOutput,
  type CliResult,
  cliIsBuilt,
  describeRun,
  parseJsonOutput,
  runCli,
} from '../helpers/cli.js';
import { count, fileFingerprint, query, tableNames } from '../helpers/db.js';
import { createTestDatabase, describeEngines, type TestDatabase, testDialect } from '../helpers/engines.js';
import { type Project, removeTempDirs } from '../helpers/project.js';
import { SAMPLE_ENTRIES, SAMPLE_TABLES, sampleWithRows } from '../helpers/sample-data.js';

afterAll(removeTempDirs);

const ENTRIES = SAMPLE_ENTRIES;

async function copy(project: Project, args: string[]): Promise<CliResult> {
  return runCli(['copy', '--from', 'sqlite:./test.db', ...args], { cwd: project.dir });
}

/** Runs a command of the project's plugin against another database than the project's own. */
function onDatabase(project: Project, url: string, args: string[]): Promise<CliResult> {
  return runCli([...args, '--config', 'cmpkg.config.json', '--db', url], { cwd: project.dir });
}

async function introspect(url: string, engine: TestDatabase['engine']): Promise<SchemaSnapshot> {
  const dialect = testDialect(engine);
  const conn = await dialect.connect(url);
  try {
    return await dialect.introspect(conn);
  } finally {
    await conn.close();
  }
}

beforeAll(() => {
  if (!cliIsBuilt()) throw new Error('build the CLI first: pnpm --filter @cmpkg/cli build');
});

describeEngines(
  'cmpkg copy: the sample plugin from SQLite',
  (engine) => {
    let project: Project;
    let target: TestDatabase;
    let sourceBefore: string;

    beforeAll(async () => {
      project = await sampleWithRows();
      sourceBefore = fileFingerprint(project.dbFile);
      target = await createTestDatabase(engine);
    });
    afterAll(async () => {
      await target?.drop();
    });

    it('copies schema and rows, verifies them, and reports JSON; the source is untouched', async () => {
      const args = ['--to', target.url, '--json'];
      const result = await copy(project, args);
      expect(result.code, describeRun(['copy', ...args], result)).toBe(0);
      const report = parseJsonOutput<CopyReport>(result);

      // The report: every sample table and cmpkg's history, verified by count and checksum.
      const copiedTables = report.tables.map((t) => t.target);
      expect(copiedTables.filter((t) => !t.startsWith('cmpkg_')).sort()).toEqual([...SAMPLE_TABLES]);
      expect(copiedTables).toEqual(
        expect.arrayContaining(['cmpkg_migrations', 'cmpkg_steps', 'cmpkg_executions']),
      );
      expect(copiedTables).not.toContain('cmpkg_lock');
      expect(report.verified).toBe(true);
      expect(report.jobId).toEqual(expect.any(String));
      for (const t of report.tables) {
        expect(t.verified, t.source).toBe(true);
        expect(t.sourceRows).toBe(t.targetRows);
        expect(t.targetChecksum).toBe(t.sourceChecksum);
        expect(t.sourceChecksum).toMatch(/^sum128:[0-9a-f]+$/);
      }
      const byTable = Object.fromEntries(report.tables.map((t) => [t.target, t.rows]));
      expect(byTable).toMatchObject({
        categories: 4,
        entries: ENTRIES,
        entry_revisions: ENTRIES,
        entry_tags: 40,
        tags: 3,
      });
      const sourceMigrations = query(project.dbFile, 'SELECT count(*) AS n FROM cmpkg_migrations')[0]?.n;
      expect(byTable.cmpkg_migrations).toBe(sourceMigrations);
      expect(report.rows).toBe(Object.values(byTable).reduce((a, b) => a + b, 0));

      // The target itself: the tables, and the rows value by value.
      const tables = await target.tableNames();
      for (const t of SAMPLE_TABLES) expect(tables).toContain(t);
      expect(await target.count('entries')).toBe(ENTRIES);
      expect(await target.count('entry_tags')).toBe(40);
      const source = query(project.dbFile, 'SELECT id, title, body FROM entries ORDER BY id');
      const copied = await target.query('SELECT id, title, body FROM entries ORDER BY id');
      expect(copied.map((r) => ({ id: Number(r.id), title: r.title, body: r.body }))).toEqual(source);
      const [reference] = await target.query('SELECT name FROM categories WHERE id = ?', [3]);
      expect(reference?.name).toBe('Reference; facts and tables');

      // Schema: the title index, the unique tag names and both foreign keys of the link table.
      const snapshot = await introspect(target.url, engine);
      const entries = snapshot.tables.find((t) => t.name === 'entries');
      expect(entries?.primaryKey?.columns).toEqual(['id']);
      expect(entries?.indexes.some((i) => i.parts.map((p) => p.column).join() === 'title')).toBe(true);
      const tags = snapshot.tables.find((t) => t.name === 'tags');
      expect(tags?.indexes.some((i) => i.unique && i.parts.map((p) => p.column).join() === 'name')).toBe(
        true,
      );
      const links = snapshot.tables.find((t) => t.name === 'entry_tags');
      expect(links?.foreignKeys.map((f) => f.referencedTable).sort()).toEqual(['entries', 'tags']);

      // The auto-increment key goes on after the copied ids.
      await target.query('INSERT INTO tags (name, created_at) VALUES (?, ?)', [
        'delta',
        '2024-05-01 00:00:00',
      ]);
      const [delta] = await target.query('SELECT id FROM tags WHERE name = ?', ['delta']);
      expect(Number(delta?.id)).toBe(4);

      // The history came along and the copy is recorded after it; the source was only read.
      const sourceRuns = query(project.dbFile, 'SELECT kind, status FROM cmpkg_executions ORDER BY id');
      const runs = await target.query('SELECT kind, status FROM cmpkg_executions ORDER BY id');
      expect(runs).toEqual([...sourceRuns, { kind: 'copy', status: 'succeeded' }]);
      expect(fileFingerprint(project.dbFile)).toBe(sourceBefore);

      // The moved database is the same plugin installation: everything applied, nothing to do.
      const status = await onDatabase(project, target.url, ['status', '--json']);
      expect(status.code, describeRun(['status'], status)).toBe(0);
      const migrations = parseJsonOutput<{ migrations: Array<{ id: string; state: string }> }>(
        status,
      ).migrations;
      expect(migrations.length).toBeGreaterThan(0);
      for (const m of migrations) expect(m.state, m.id).toBe('applied');
      const up = await onDatabase(project, target.url, ['up']);
      expect(up.code, describeRun(['up'], up)).toBe(0);
      expect(up.stdout).toMatch(/Nothing to do/);
    });

    it('refuses a target whose tables already hold rows: exit 3, the target unchanged', async () => {
      const args = ['--to', target.url];
      const result = await copy(project, args);
      expect(result.code, describeRun(['copy', ...args], result)).toBe(3);
      expect(allOutput(result)).toMatch(/E_TARGET_NOT_EMPTY/);
      expect(await target.count('entries')).toBe(ENTRIES);
      expect(await target.count('tags')).toBe(4);
    });

    it('a mapping naming an unknown column exits 2, names the file and field, and creates nothing', async () => {
      const fresh = await createTestDatabase(engine);
      try {
        writeFileSync(
          join(project.dir, 'mapping.json'),
          JSON.stringify({ tables: { entries: { columns: { headline: 'title' } } } }, null, 2),
        );
        const args = ['--to', fresh.url, '--map', 'mapping.json'];
        const result = await copy(project, args);
        expect(result.code, describeRun(['copy', ...args], result)).toBe(2);
        const output = allOutput(result);
        expect(output).toMatch(/E_MAPPING/);
        expect(output).toContain('mapping.json');
        expect(output).toContain('headline');
        expect(await fresh.tableNames()).toEqual([]);
      } finally {
        await fresh.drop();
      }
    });
  },
  ['postgresql', 'mysql'],
);

describe('cmpkg copy between SQLite files', () => {
  let project: Project;
  const target = (name: string) => join(project.dir, name);

  beforeAll(async () => {
    project = await sampleWithRows();
  });

  it('--tables copies only the named tables, and prints a table per copied table', async () => {
    const args = ['--to', 'sqlite:./subset.db', '--tables', 'categories,entries'];
    const result = await copy(project, args);
    expect(result.code, describeRun(['copy', ...args], result)).toBe(0);
    expect(tableNames(target('subset.db')).filter((t) => !t.startsWith('cmpkg_'))).toEqual([
      'categories',
      'entries',
    ]);
    expect(count(target('subset.db'), 'entries')).toBe(ENTRIES);
    // The human report: one line per table with its rows and a verified mark, then the totals.
    expect(result.stdout).toMatch(/categories\s+4\s.*✓/);
    expect(result.stdout).toMatch(/entries\s+120\s.*✓/);
    expect(result.stdout).toMatch(/total\s+124\s/);
  });

  it('--no-history leaves the migration history behind: the target shows every migration pending', async () => {
    const args = ['--to', 'sqlite:./nohistory.db', '--no-history', '--json'];
    const result = await copy(project, args);
    expect(result.code, describeRun(['copy', ...args], result)).toBe(0);
    const report = parseJsonOutput<CopyReport>(result);
    expect(report.tables.map((t) => t.target).sort()).toEqual([...SAMPLE_TABLES]);
    // The copy itself is recorded; nothing of the source's history came along.
    expect(query(target('nohistory.db'), 'SELECT count(*) AS n FROM cmpkg_migrations')).toEqual([{ n: 0 }]);
    expect(query(target('nohistory.db'), 'SELECT kind FROM cmpkg_executions')).toEqual([{ kind: 'copy' }]);
    const status = await onDatabase(project, 'sqlite:./nohistory.db', ['status', '--json']);
    const states = parseJsonOutput<{ migrations: Array<{ state: string }> }>(status).migrations.map(
      (m) => m.state,
    );
    expect(states.length).toBeGreaterThan(0);
    expect(new Set(states)).toEqual(new Set(['pending']));
  });

  it('--map renames a table and a column and leaves a column out', async () => {
    writeFileSync(
      join(project.dir, 'rename.json'),
      JSON.stringify({
        tables: { categories: { target: 'sections', columns: { slug: 'code', name: null } } },
      }),
    );
    const args = ['--to', 'sqlite:./renamed.db', '--tables', 'categories', '--map', 'rename.json', '--json'];
    const result = await copy(project, args);
    expect(result.code, describeRun(['copy', ...args], result)).toBe(0);
    const report = parseJsonOutput<CopyReport>(result);
    expect(report.tables.map((t) => [t.source, t.target, t.rows])).toEqual([['categories', 'sections', 4]]);
    expect(query(target('renamed.db'), 'SELECT * FROM sections ORDER BY id')).toEqual([
      { id: 1, code: 'general' },
      { id: 2, code: 'how-to' },
      { id: 3, code: 'reference' },
      { id: 4, code: 'troubleshooting' },
    ]);
  });

  it('--no-verify copies without checksums and says so', async () => {
    const args = ['--to', 'sqlite:./unverified.db', '--tables', 'tags', '--no-verify', '--json'];
    const result = await copy(project, args);
    expect(result.code, describeRun(['copy', ...args], result)).toBe(0);
    const report = parseJsonOutput<CopyReport>(result);
    expect(report.tables[0]?.verified).toBeNull();
    expect(count(target('unverified.db'), 'tags')).toBe(3);
  });

  it('a mapping file that is not valid JSON exits 2 naming the file and line; nothing is created', async () => {
    writeFileSync(
      join(project.dir, 'broken.json'),
      '{\n  "tables": {\n    "entries": { "target": "posts", }\n  }\n}\n',
    );
    const args = ['--to', 'sqlite:./broken.db', '--map', 'broken.json'];
    const result = await copy(project, args);
    expect(result.code, describeRun(['copy', ...args], result)).toBe(2);
    expect(allOutput(result)).toMatch(/broken\.json:3:\d+/);
    // Read before any connection is opened: the target file is not even created.
    expect(existsSync(target('broken.db'))).toBe(false);
  });

  it('a mapping file that cannot be read exits 2 naming the option and the file', async () => {
    for (const map of ['nowhere.json', 'migrations']) {
      const args = ['--to', 'sqlite:./missing.db', '--map', map];
      const result = await copy(project, args);
      expect(result.code, describeRun(['copy', ...args], result)).toBe(2);
      expect(allOutput(result)).toContain(`--map ${map}: cannot read the file`);
    }
    expect(existsSync(target('missing.db'))).toBe(false);
  });

  it('records copies in the target history: a finished one, and a failed one once the history exists', async () => {
    const file = target('history.db');
    const first = await copy(project, ['--to', 'sqlite:./history.db', '--tables', 'tags']);
    expect(first.code, describeRun(['copy'], first)).toBe(0);
    writeFileSync(
      join(project.dir, 'bad.json'),
      JSON.stringify({ tables: { categories: { columns: { nope: 'x' } } } }),
    );
    const failed = await copy(project, [
      '--to',
      'sqlite:./history.db',
      '--tables',
      'categories',
      '--map',
      'bad.json',
    ]);
    expect(failed.code, describeRun(['copy'], failed)).toBe(2);
    const runs = query(file, 'SELECT kind, status, reason, summary, error FROM cmpkg_executions ORDER BY id');
    expect(runs.map((r) => [r.kind, r.status])).toEqual([
      ['copy', 'succeeded'],
      ['copy', 'failed'],
    ]);
    expect(String(runs[0]?.reason)).toContain('test.db');
    expect(JSON.parse(String(runs[0]?.summary))).toMatchObject({ rows: 3, verified: true });
    expect(String(runs[1]?.error)).toMatch(/^E_MAPPING: .*nope/);
    expect(tableNames(file)).not.toContain('categories');

    // `cmpkg history` on the target shows them.
    const history = await runCli(
      ['history', '--db', 'sqlite:./history.db', '--config', 'cmpkg.config.json'],
      {
        cwd: project.dir,
      },
    );
    expect(history.code, describeRun(['history'], history)).toBe(0);
    expect(history.stdout).toMatch(/copy .*succeeded/);
  });

  it('a mapping with an unknown table exits 2 naming the field; the target keeps no new table', async () => {
    writeFileSync(join(project.dir, 'unknown.json'), JSON.stringify({ tables: { posts: { target: 'p' } } }));
    const args = ['--to', 'sqlite:./unknown.db', '--map', 'unknown.json'];
    const result = await copy(project, args);
    expect(result.code, describeRun(['copy', ...args], result)).toBe(2);
    expect(allOutput(result)).toMatch(/unknown\.json.*posts/);
    expect(tableNames(target('unknown.db'))).toEqual([]);
  });

  it('a non-empty target table exits 3 and the target stays as it was', async () => {
    const file = target('occupied.db');
    const db = new Database(file);
    db.exec(
      "CREATE TABLE categories (id INTEGER PRIMARY KEY, slug TEXT, name TEXT); INSERT INTO categories VALUES (9, 'mine', 'Mine')",
    );
    db.close();
    const before = fileFingerprint(file);
    const args = ['--to', 'sqlite:./occupied.db'];
    const result = await copy(project, args);
    expect(result.code, describeRun(['copy', ...args], result)).toBe(3);
    expect(allOutput(result)).toMatch(/categories/);
    expect(tableNames(file)).toEqual(['categories']);
    expect(query(file, 'SELECT * FROM categories')).toEqual([{ id: 9, slug: 'mine', name: 'Mine' }]);
    expect(fileFingerprint(file)).toBe(before);

    // --replace replaces it.
    const replaced = await copy(project, [...args, '--replace']);
    expect(replaced.code, describeRun(['copy', ...args, '--replace'], replaced)).toBe(0);
    expect(count(file, 'categories')).toBe(4);
  });

  it('bad option values exit 2 naming the option', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['--to', 'sqlite:./x.db', '--batch-size', '0'], /--batch-size/],
      [['--to', 'sqlite:./x.db', '--tables', 'a,,b'], /--tables/],
      [['--to', 'oracle://db/x'], /unsupported database URL/],
      [[], /--to/],
      [['--to', 'sqlite:./test.db'], /same database/],
      [['--to', 'sqlite:./x.db', '--tables', 'nope'], /nope/],
    ];
    for (const [args, message] of cases) {
      const result = await copy(project, args);
      expect(result.code, describeRun(['copy', ...args], result)).toBe(2);
      expect(allOutput(result)).toMatch(message);
    }
  });
});
