import { existsSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { describeRun, parseJsonOutput } from '../helpers/cli.js';
import { appliedIds, count, fileFingerprint, query, tableExists, tableNames } from '../helpers/db.js';
import { copySamplePlugin, removeTempDirs, sampleMigrationIds } from '../helpers/project.js';

afterAll(removeTempDirs);

interface StatusJson {
  pluginId: string;
  engine: string;
  migrations: Array<{ id: string; state: string; drift: boolean }>;
  counts: Record<string, number>;
  drift: string[];
}

const states = (status: StatusJson) => Object.fromEntries(status.migrations.map((m) => [m.id, m.state]));

describe('b. status before/after up and down; up --dry-run changes nothing', () => {
  it('status follows up and down, and never creates the database', async () => {
    const project = copySamplePlugin();

    const human = await project.run(['status']);
    expect(human.code, describeRun(['status'], human)).toBe(0);
    for (const id of sampleMigrationIds) expect(human.stdout).toContain(id);
    expect(human.stdout).toMatch(/pending/i);
    expect(existsSync(project.dbFile), 'status must not create the database file').toBe(false);

    const before = await project.run(['status', '--json']);
    expect(before.code, describeRun(['status', '--json'], before)).toBe(0);
    const beforeDoc = parseJsonOutput<StatusJson>(before);
    expect(beforeDoc.pluginId).toBe('sample');
    expect(beforeDoc.engine).toBe('sqlite');
    expect(states(beforeDoc)).toEqual({
      '0001_create_entries': 'pending',
      '0002_add_tags': 'pending',
      '0003_seed_categories': 'pending',
      '0004_entry_slugs': 'pending',
      '0005_entry_revisions': 'pending',
    });
    expect(beforeDoc.counts.pending).toBe(5);
    expect(beforeDoc.counts.applied).toBe(0);
    expect(existsSync(project.dbFile), 'status --json must not create the database file').toBe(false);

    const up = await project.run(['up']);
    expect(up.code, describeRun(['up'], up)).toBe(0);
    expect(appliedIds(project.dbFile)).toEqual([...sampleMigrationIds]);

    const after = parseJsonOutput<StatusJson>(await project.run(['status', '--json']));
    expect(states(after)).toEqual({
      '0001_create_entries': 'applied',
      '0002_add_tags': 'applied',
      '0003_seed_categories': 'applied',
      '0004_entry_slugs': 'applied',
      '0005_entry_revisions': 'applied',
    });
    expect(after.counts.applied).toBe(5);
    expect(after.counts.pending).toBe(0);
    expect(after.drift).toEqual([]);
    const afterHuman = await project.run(['status']);
    expect(afterHuman.code).toBe(0);
    expect(afterHuman.stdout).toMatch(/applied/i);

    // `down` rolls back the last one only (0005: the revisions table and the status column).
    const down = await project.run(['down', '--yes']);
    expect(down.code, describeRun(['down', '--yes'], down)).toBe(0);
    expect(tableExists(project.dbFile, 'entry_revisions')).toBe(false);
    expect(tableExists(project.dbFile, 'categories')).toBe(true);
    const entryColumns = query(project.dbFile, "SELECT name FROM pragma_table_info('entries')").map(
      (r) => r.name,
    );
    expect(entryColumns).toEqual(['id', 'title', 'body', 'created_at', 'slug']);
    expect(appliedIds(project.dbFile)).toEqual(sampleMigrationIds.slice(0, 4));

    const afterDown = parseJsonOutput<StatusJson>(await project.run(['status', '--json']));
    expect(states(afterDown)).toEqual({
      '0001_create_entries': 'applied',
      '0002_add_tags': 'applied',
      '0003_seed_categories': 'applied',
      '0004_entry_slugs': 'applied',
      '0005_entry_revisions': 'pending',
    });
    expect(afterDown.counts.pending).toBe(1);
  });

  it('up --dry-run on a new database prints the SQL and creates nothing', async () => {
    const project = copySamplePlugin();
    const args = ['up', '--dry-run'];
    const dry = await project.run(args);
    expect(dry.code, describeRun(args, dry)).toBe(0);
    // The exact SQL of every pending migration, rendered for SQLite.
    expect(dry.stdout).toContain('CREATE TABLE entries');
    expect(dry.stdout).toContain('CREATE INDEX idx_entries_title ON entries (title)');
    expect(dry.stdout).toMatch(/CREATE TABLE tags \(id INTEGER PRIMARY KEY AUTOINCREMENT/);
    expect(dry.stdout).toContain('CREATE UNIQUE INDEX ux_tags_name ON tags (name)');
    expect(dry.stdout).toContain(
      "INSERT INTO categories (id, slug, name) VALUES (3, 'reference', 'Reference; facts and tables')",
    );
    expect(dry.stdout).toContain('ALTER TABLE entries ADD COLUMN slug VARCHAR(220)');
    expect(dry.stdout).toContain('CREATE INDEX idx_entries_slug ON entries (slug)');
    expect(dry.stdout).toContain('CREATE TABLE entry_revisions');
    // Nothing touched: no file, or (if a dialect must create one) a file with no tables at all.
    if (existsSync(project.dbFile)) expect(tableNames(project.dbFile)).toEqual([]);
  });

  it('up --dry-run on an existing database leaves it byte-for-byte identical', async () => {
    const project = copySamplePlugin();
    // Sample 1.0.0, then its last migration rolled back: 0003 pending again, 0004 and 0005 never applied.
    expect((await project.run(['up', '--to', '1.0.0'])).code).toBe(0);
    expect((await project.run(['down', '--yes'])).code).toBe(0);
    const before = fileFingerprint(project.dbFile);

    const args = ['up', '--dry-run'];
    const dry = await project.run(args);
    expect(dry.code, describeRun(args, dry)).toBe(0);
    expect(dry.stdout).toContain('CREATE TABLE categories');
    expect(dry.stdout).toContain('CREATE TABLE entry_revisions');
    // Only the pending migrations: the applied ones are not printed again.
    expect(dry.stdout).not.toContain('CREATE TABLE entries');

    expect(fileFingerprint(project.dbFile)).toBe(before);
    expect(tableExists(project.dbFile, 'categories')).toBe(false);
    expect(appliedIds(project.dbFile)).toEqual(['0001_create_entries', '0002_add_tags']);
    expect(count(project.dbFile, 'cmpkg_migrations')).toBeGreaterThanOrEqual(2);
  });
});
