import { afterAll, describe, expect, it } from 'vitest';
import { allOutput, describeRun } from '../helpers/cli.js';
import { count, history, indexNames, query, tableNames } from '../helpers/db.js';
import { copySamplePlugin, removeTempDirs, sampleMigrationIds, sampleVersions } from '../helpers/project.js';

afterAll(removeTempDirs);

describe('a. the sample plugin (annotated SQL with every header + every-field JSON) loads and applies', () => {
  it('applies all five migrations, records sha256 history, and a second up is a no-op', async () => {
    const project = copySamplePlugin();

    const up = await project.run(['up']);
    expect(up.code, describeRun(['up'], up)).toBe(0);

    // The schema itself, read from the file: 0001 (SQL), 0002 (JSON, three steps), 0003 (SQL + data),
    // 0004 (JSON: a column, an index, transform steps), 0005 (SQL: a column, a table, data).
    const tables = tableNames(project.dbFile);
    for (const table of ['entries', 'tags', 'entry_tags', 'categories', 'entry_revisions'])
      expect(tables).toContain(table);
    expect(indexNames(project.dbFile)).toEqual(
      expect.arrayContaining(['idx_entries_title', 'ux_tags_name', 'idx_entries_slug']),
    );
    const entryColumns = query(project.dbFile, "SELECT name FROM pragma_table_info('entries')").map(
      (r) => r.name,
    );
    expect(entryColumns).toEqual(['id', 'title', 'body', 'created_at', 'slug', 'status']);
    // The JSON step's `sqlite` key wins over `universal`: only the SQLite text says AUTOINCREMENT.
    const [tagsDdl] = query(
      project.dbFile,
      "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'tags'",
    );
    expect(String(tagsDdl?.sql)).toMatch(/AUTOINCREMENT/i);
    // The link table's foreign keys made it through the multi-line JSON SQL string.
    const fks = query(
      project.dbFile,
      'SELECT "table" FROM pragma_foreign_key_list(\'entry_tags\') ORDER BY "table"',
    );
    expect(fks.map((r) => r.table)).toEqual(['entries', 'tags']);
    // The seed ran once, including the value with a `;` inside a string literal.
    expect(count(project.dbFile, 'categories')).toBe(4);
    const [reference] = query(project.dbFile, 'SELECT name FROM categories WHERE id = 3');
    expect(reference?.name).toBe('Reference; facts and tables');

    // History: one applied row per migration, with the metadata from the headers and a sha256 checksum.
    const rows = history(project.dbFile);
    expect(rows.map((r) => r.migration_id).sort()).toEqual([...sampleMigrationIds]);
    const versionOf = new Map<string, string>(
      Object.entries(sampleVersions).flatMap(([version, ids]) => ids.map((id) => [id, version] as const)),
    );
    for (const row of rows) {
      expect(row.status).toBe('applied');
      expect(row.plugin_id).toBe('sample');
      expect(row.version, row.migration_id).toBe(versionOf.get(row.migration_id));
      expect(row.checksum).toMatch(/^sha256:[0-9a-f]{64}$/);
    }
    expect(rows.map((r) => r.version).sort()).toEqual(['1.0.0', '1.0.0', '1.0.0', '1.1.0', '2.0.0']);
    expect(new Set(rows.map((r) => r.checksum)).size).toBe(sampleMigrationIds.length);
    expect(rows.find((r) => r.migration_id === '0001_create_entries')?.name).toBe('Create entries');
    expect(rows.find((r) => r.migration_id === '0002_add_tags')?.name).toBe('Add tags');
    // Dependencies order the run: 0001 before 0002 (depends on it) and 0003 (depends on it).
    const rank = (id: string) => Number(rows.find((r) => r.migration_id === id)?.installed_rank);
    expect(rank('0001_create_entries')).toBeLessThan(rank('0002_add_tags'));
    expect(rank('0001_create_entries')).toBeLessThan(rank('0003_seed_categories'));
    // Ties are broken by version: the 1.1.0 and 2.0.0 migrations come after every 1.0.0 one.
    expect(rank('0003_seed_categories')).toBeLessThan(rank('0004_entry_slugs'));
    expect(rank('0004_entry_slugs')).toBeLessThan(rank('0005_entry_revisions'));

    const before = query(project.dbFile, 'SELECT * FROM cmpkg_migrations ORDER BY migration_id');

    const again = await project.run(['up']);
    expect(again.code, describeRun(['up'], again)).toBe(0);
    expect(allOutput(again)).toMatch(/nothing to do/i);
    expect(query(project.dbFile, 'SELECT * FROM cmpkg_migrations ORDER BY migration_id')).toEqual(before);
    expect(count(project.dbFile, 'categories')).toBe(4);
  });

  it('reads every header of the annotated SQL file and every field of the JSON document', async () => {
    const project = copySamplePlugin();
    const args = ['plan', '--json'];
    const plan = await project.run(args);
    expect(plan.code, describeRun(args, plan)).toBe(0);
    const doc = JSON.parse(plan.stdout) as {
      migrations: Array<{
        id: string;
        name: string;
        version: string;
        riskLevel: string;
        transactional: boolean;
        steps: Array<{ id: string; statements: string[] }>;
      }>;
    };
    const byId = new Map(doc.migrations.map((m) => [m.id, m]));
    expect([...byId.keys()].sort()).toEqual([...sampleMigrationIds]);

    const sql = byId.get('0001_create_entries')!;
    expect(sql.name).toBe('Create entries');
    expect(sql.riskLevel).toBe('low');
    const sqlStatements = sql.steps.flatMap((s) => s.statements);
    expect(sqlStatements).toHaveLength(2);
    expect(sqlStatements[0]).toMatch(/CREATE TABLE entries/);
    expect(sqlStatements[1]).toMatch(/CREATE INDEX idx_entries_title/);

    const json = byId.get('0002_add_tags')!;
    expect(json.name).toBe('Add tags');
    expect(json.riskLevel).toBe('medium');
    expect(json.steps.map((s) => s.id)).toEqual(['create-tags', 'create-entry-tags', 'index-tag-names']);
    expect(json.steps[0]?.statements.join('\n')).toMatch(/AUTOINCREMENT/);

    // The seed's four INSERTs are four statements; the `;` inside a string literal does not split.
    const seed = byId.get('0003_seed_categories')!;
    const seedStatements = seed.steps.flatMap((s) => s.statements);
    expect(seedStatements.filter((s) => /^\s*INSERT/i.test(s))).toHaveLength(4);

    // 1.1.0: two SQL steps, then two transform steps (no SQL to show: the data moves through @cmpkg/transform).
    const slugs = byId.get('0004_entry_slugs')!;
    expect(slugs.version).toBe('1.1.0');
    expect(slugs.steps.map((s) => s.id)).toEqual(['add-slug', 'index-slug', 'fill-slug', 'hyphenate-slug']);
    expect(slugs.steps.slice(2).map((s) => s.statements)).toEqual([[], []]);

    // 2.0.0: the high-risk schema change and its data migration.
    const revisions = byId.get('0005_entry_revisions')!;
    expect(revisions.version).toBe('2.0.0');
    expect(revisions.riskLevel).toBe('high');
    const revisionStatements = revisions.steps.flatMap((s) => s.statements);
    expect(revisionStatements.map((s) => s.split(/\s+/).slice(0, 3).join(' '))).toEqual([
      'ALTER TABLE entries',
      'CREATE TABLE entry_revisions',
      'INSERT INTO entry_revisions',
    ]);
  });
});
