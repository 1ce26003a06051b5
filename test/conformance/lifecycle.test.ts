import { afterAll, afterEach, expect, it } from 'vitest';
import { allOutput, describeRun, parseJsonOutput } from '../helpers/cli.js';
import { createTestDatabase, describeEngines, type TestDatabase } from '../helpers/engines.js';
import { copySamplePlugin, removeTempDirs, sampleMigrationIds } from '../helpers/project.js';

/**
 * The foundation scenarios on every engine, through the CLI as a user runs it: apply the sample
 * plugin, a second `up` is a no-op, status before and after, drift is refused, rollback works.
 */
afterAll(removeTempDirs);

describeEngines('conformance: apply, no-op, status, drift, rollback', (engine) => {
  let db: TestDatabase;
  afterEach(async () => db?.drop());

  it('applies the sample plugin once; a second up does nothing', async () => {
    db = await createTestDatabase(engine);
    const project = copySamplePlugin(db.url);

    const before = await project.run(['status', '--json']);
    expect(before.code, describeRun(['status'], before)).toBe(0);
    const pending = parseJsonOutput<{ counts: Record<string, number> }>(before);
    expect(pending.counts).toMatchObject({ applied: 0, pending: sampleMigrationIds.length });
    // status is read-only: it created nothing, not even the history tables.
    expect(await db.tableNames()).toEqual([]);

    const up = await project.run(['up']);
    expect(up.code, describeRun(['up'], up)).toBe(0);
    expect(await db.tableNames()).toEqual(
      expect.arrayContaining([
        'entries',
        'tags',
        'entry_tags',
        'categories',
        'entry_revisions',
        'cmpkg_migrations',
      ]),
    );
    expect(await db.count('categories')).toBe(4);
    const history = await db.history();
    expect(history.map((h) => [h.migration_id, h.status])).toEqual(
      sampleMigrationIds.map((id) => [id, 'applied']),
    );

    const again = await project.run(['up']);
    expect(again.code, describeRun(['up'], again)).toBe(0);
    expect(again.stdout).toContain('Nothing to do');
    expect(await db.history()).toEqual(history);

    const after = parseJsonOutput<{ counts: Record<string, number>; engine: string }>(
      await project.run(['status', '--json']),
    );
    expect(after.counts).toMatchObject({ applied: sampleMigrationIds.length, pending: 0 });
    expect(after.engine).toBe(engine);
    const plan = await project.run(['plan']);
    expect(plan.code, describeRun(['plan'], plan)).toBe(0);
    expect(plan.stdout).toContain('Nothing to do');
    const past = parseJsonOutput<{ executions: Array<{ kind: string; status: string }> }>(
      await project.run(['history', '--json']),
    );
    expect(past.executions.map((e) => [e.kind, e.status])).toEqual([['up', 'succeeded']]);
  });

  it('refuses drift (exit 3, naming the migration) and leaves the history alone', async () => {
    db = await createTestDatabase(engine);
    const project = copySamplePlugin(db.url);
    expect((await project.run(['up'])).code).toBe(0);
    const history = await db.history();
    project.write(
      '0003_seed_categories.sql',
      project.read('0003_seed_categories.sql').replace("'General'", "'Everything else'"),
    );
    const validate = await project.run(['validate']);
    expect(validate.code, describeRun(['validate'], validate)).toBe(3);
    expect(allOutput(validate)).toContain('0003_seed_categories');
    const up = await project.run(['up']);
    expect(up.code, describeRun(['up'], up)).toBe(3);
    expect(await db.history()).toEqual(history);
    expect((await db.query('select name from categories where id = 1'))[0]?.name).toBe('General');
  });

  it('rolls everything back and applies it again', async () => {
    db = await createTestDatabase(engine);
    const project = copySamplePlugin(db.url);
    expect((await project.run(['up'])).code).toBe(0);
    const down = await project.run(['down', '--all']);
    expect(down.code, describeRun(['down', '--all'], down)).toBe(0);
    expect((await db.tableNames()).filter((t) => !t.startsWith('cmpkg_'))).toEqual([]);
    expect(await db.history()).toEqual([]);
    const up = await project.run(['up']);
    expect(up.code, describeRun(['up'], up)).toBe(0);
    expect(await db.count('categories')).toBe(4);
  });

  it('introspects what it applied', async () => {
    db = await createTestDatabase(engine);
    const project = copySamplePlugin(db.url);
    expect((await project.run(['up'])).code).toBe(0);
    const result = await project.run(['introspect', '--json']);
    expect(result.code, describeRun(['introspect'], result)).toBe(0);
    const snapshot = parseJsonOutput<{
      engine: string;
      tables: Array<{
        name: string;
        rowCount: number;
        columns: Array<{ name: string; type: string | null }>;
      }>;
    }>(result);
    expect(snapshot.engine).toBe(engine);
    expect(snapshot.tables.map((t) => t.name)).toEqual([
      'categories',
      'entries',
      'entry_revisions',
      'entry_tags',
      'tags',
    ]);
    const entries = snapshot.tables.find((t) => t.name === 'entries');
    expect(entries?.columns.map((c) => [c.name, c.type])).toEqual([
      ['id', 'integer'],
      ['title', 'varchar(200)'],
      ['body', 'text'],
      ['created_at', engine === 'mysql' ? 'timestamptz' : 'timestamp'],
      // 1.1.0 (0004_entry_slugs) and 2.0.0 (0005_entry_revisions) add these.
      ['slug', 'varchar(220)'],
      ['status', 'varchar(16)'],
    ]);

    const one = await project.run(['introspect', '--table', 'categories', '--exact-counts']);
    expect(one.code, describeRun(['introspect'], one)).toBe(0);
    expect(one.stdout).toContain('categories');
    expect(one.stdout).toContain('4 rows');
    expect(one.stdout).not.toContain('entry_tags');

    const missing = await project.run(['introspect', '--table', 'nope']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('no table "nope"');
  });
});
