import { afterAll, afterEach, expect, it } from 'vitest';
import { describeRun, parseJsonOutput } from '../helpers/cli.js';
import { createTestDatabase, describeEngines, type TestDatabase } from '../helpers/engines.js';
import { createProject, removeTempDirs, sqlMigration } from '../helpers/project.js';

/**
 * A failing migration on every engine. Where DDL is transactional (PostgreSQL, SQLite) it leaves
 * no trace. MySQL commits DDL implicitly, so the migration runs step by step: it is left `partial`
 * naming the failed step, a fixed file resumes at that step, and `down` undoes the finished steps.
 */
afterAll(removeTempDirs);

function twoSteps(second: string): string {
  return `${JSON.stringify(
    {
      format: 'portable-migration-v1',
      migration: {
        id: '0002_two_steps',
        version: '1.0.0',
        name: 'two steps',
        dependencies: ['0001_base'],
        steps: {
          up: [
            {
              id: 'create-notes',
              type: 'sql',
              name: 'create notes',
              sql: { universal: 'CREATE TABLE notes (id INTEGER NOT NULL PRIMARY KEY, body VARCHAR(100))' },
            },
            {
              id: 'seed-notes',
              type: 'sql',
              name: 'seed notes',
              sql: { universal: second },
            },
          ],
          down: [
            { id: 'drop-notes', type: 'sql', name: 'drop notes', sql: { universal: 'DROP TABLE notes' } },
          ],
        },
      },
    },
    null,
    2,
  )}\n`;
}

const BASE = sqlMigration(
  'CREATE TABLE base (id INTEGER NOT NULL PRIMARY KEY);\nINSERT INTO base (id) VALUES (1);',
  {
    down: 'DROP TABLE base;',
  },
);
const BROKEN = "INSERT INTO notes (id, body) VALUES (1, 'one');\nINSERT INTO no_such_table (id) VALUES (2)";
const FIXED =
  "INSERT INTO notes (id, body) VALUES (1, 'one');\nINSERT INTO notes (id, body) VALUES (2, 'two')";

describeEngines('conformance: a failing migration', (engine) => {
  let db: TestDatabase;
  afterEach(async () => db?.drop());

  it('exits 1 naming the step; the fixed file then completes the migration', async () => {
    db = await createTestDatabase(engine);
    const project = createProject(
      { '0001_base.sql': BASE, '0002_two_steps.json': twoSteps(BROKEN) },
      'e2e',
      db.url,
    );
    const up = await project.run(['up']);
    expect(up.code, describeRun(['up'], up)).toBe(1);
    expect(up.stderr).toContain('0002_two_steps');
    expect(up.stderr).toContain('seed-notes');
    // The migration before the failing one is kept on every engine.
    expect(await db.count('base')).toBe(1);

    const status = parseJsonOutput<{ migrations: Array<{ id: string; state: string; failedStep?: string }> }>(
      await project.run(['status', '--json']),
    );
    const failed = status.migrations.find((m) => m.id === '0002_two_steps');
    if (engine === 'mysql') {
      // No transactional DDL: the finished step stays, and the history says where it stopped.
      expect(failed).toMatchObject({ state: 'partial', failedStep: 'seed-notes' });
      expect(await db.tableNames()).toContain('notes');
    } else {
      // All or nothing: no table, no row, no applied record.
      expect(failed?.state === 'pending' || failed?.state === 'failed').toBe(true);
      expect(await db.tableNames()).not.toContain('notes');
    }

    project.write('0002_two_steps.json', twoSteps(FIXED));
    const resumed = await project.run(['up']);
    expect(resumed.code, describeRun(['up'], resumed)).toBe(0);
    expect(await db.count('notes')).toBe(2);
    expect((await db.history()).map((h) => [h.migration_id, h.status])).toEqual([
      ['0001_base', 'applied'],
      ['0002_two_steps', 'applied'],
    ]);
  });

  it('a failing statement in an SQL file: nothing left where DDL is transactional, a resume at it on MySQL', async () => {
    db = await createTestDatabase(engine);
    const project = createProject(
      {
        '0001_base.sql': BASE,
        '0002_bad.sql': sqlMigration(
          "INSERT INTO base (id) VALUES (2);\nINSERT INTO base (id) VALUES ('not a number', 3);",
          { dependencies: ['0001_base'] },
        ),
      },
      'e2e',
      db.url,
    );
    const up = await project.run(['up']);
    expect(up.code, describeRun(['up'], up)).toBe(1);
    expect(up.stderr).toContain('0002_bad');
    expect(up.stderr).toMatch(/statement 2/);
    // Transactional engines keep nothing of it; MySQL keeps statement 1 and journals that it ran.
    expect(await db.count('base')).toBe(engine === 'mysql' ? 2 : 1);

    project.write(
      '0002_bad.sql',
      sqlMigration('INSERT INTO base (id) VALUES (2);\nINSERT INTO base (id) VALUES (3);', {
        dependencies: ['0001_base'],
      }),
    );
    const fixed = await project.run(['up']);
    expect(fixed.code, describeRun(['up'], fixed)).toBe(0);
    // On MySQL the resume starts at statement 2: running statement 1 again would hit the primary key.
    expect((await db.query('select id from base order by id')).map((r) => Number(r.id))).toEqual([1, 2, 3]);
  });
});

describeEngines(
  'conformance: rolling back a partial migration',
  (engine) => {
    let db: TestDatabase;
    afterEach(async () => db?.drop());

    it('down undoes the finished steps of a partial migration', async () => {
      db = await createTestDatabase(engine);
      const project = createProject(
        { '0001_base.sql': BASE, '0002_two_steps.json': twoSteps(BROKEN) },
        'e2e',
        db.url,
      );
      expect((await project.run(['up'])).code).toBe(1);
      expect(await db.tableNames()).toContain('notes');
      const down = await project.run(['down']);
      expect(down.code, describeRun(['down'], down)).toBe(0);
      expect(await db.tableNames()).not.toContain('notes');
      expect((await db.history()).map((h) => h.migration_id)).toEqual(['0001_base']);
    });
  },
  // Only engines without transactional DDL leave a migration partial.
  ['mysql'],
);
