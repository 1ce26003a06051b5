import { existsSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { allOutput, cliIsBuilt, describeRun } from '../helpers/cli.js';
import { query as sqliteQuery, tableNames as sqliteTables } from '../helpers/db.js';
import { createTestDatabase, describeEngines, type TestDatabase } from '../helpers/engines.js';
import { createProject, removeTempDirs, sqlMigration } from '../helpers/project.js';

afterAll(removeTempDirs);

beforeAll(() => {
  if (!cliIsBuilt()) throw new Error('build the CLI first: pnpm --filter @cmpkg/cli build');
});

const LEGACY = sqlMigration(
  `
CREATE TABLE legacy_users (id INTEGER PRIMARY KEY, full_name VARCHAR(100), email VARCHAR(100), status VARCHAR(10));
CREATE TABLE users (id INTEGER PRIMARY KEY, name VARCHAR(100) NOT NULL, email VARCHAR(100), status_label VARCHAR(20));
INSERT INTO legacy_users VALUES (1, '  Ada Lovelace ', 'ADA@Example.org', 'a');
INSERT INTO legacy_users VALUES (2, 'Grace Hopper', NULL, 'd');
INSERT INTO legacy_users VALUES (3, 'Alan Turing', 'Alan@Example.org', 'x');
`,
  { down: 'DROP TABLE users;\nDROP TABLE legacy_users;' },
);

/** A portable-migration-v1 file whose one up step is a transform with these field mappings. */
function transformMigration(mapping: unknown[]): string {
  return `${JSON.stringify(
    {
      format: 'portable-migration-v1',
      migration: {
        id: '0002_move_users',
        version: '1.0.0',
        name: 'Move legacy users',
        type: 'data',
        dependencies: ['0001_legacy'],
        steps: {
          up: [
            {
              id: 'move',
              type: 'data',
              name: 'copy legacy users into users',
              transform: { kind: 'convert', source: 'legacy_users', target: 'users', mapping },
            },
          ],
          down: [{ id: 'clear', type: 'data', name: 'empty users', sql: { universal: 'DELETE FROM users' } }],
        },
      },
    },
    null,
    2,
  )}\n`;
}

const MAPPING = [
  { source: 'id', target: 'id' },
  { source: 'full_name', target: 'name', transform: { type: 'function', definition: 'trim' } },
  { source: 'email', target: 'email', transform: { type: 'function', definition: 'lower' } },
  {
    source: 'status',
    target: 'status_label',
    transform: { type: 'lookup', definition: { a: 'active', d: 'disabled' } },
    defaultValue: 'unknown',
  },
];

describeEngines('a transform step in a migration, through cmpkg up', (engine) => {
  const databases: TestDatabase[] = [];
  afterAll(async () => {
    for (const db of databases) await db.drop();
  });

  /** A fresh project (and, on a server, a fresh database) with the legacy table and a transform. */
  const setup = async (mapping: unknown[]) => {
    const db = engine === 'sqlite' ? undefined : await createTestDatabase(engine);
    if (db) databases.push(db);
    const project = createProject(
      { '0001_legacy.sql': LEGACY, '0002_move_users.json': transformMigration(mapping) },
      'transform-e2e',
      db?.url,
    );
    const query = async (sql: string): Promise<Record<string, unknown>[]> =>
      db ? await db.query(sql) : existsSync(project.dbFile) ? sqliteQuery(project.dbFile, sql) : [];
    const tables = async (): Promise<string[]> =>
      db ? await db.tableNames() : existsSync(project.dbFile) ? sqliteTables(project.dbFile) : [];
    return { project, query, tables };
  };

  it('a function name the transform package does not have is a plan error: exit 2, nothing applied', async () => {
    const { project, tables } = await setup([
      { source: 'full_name', target: 'name', transform: { type: 'function', definition: 'titlecase' } },
    ]);
    const result = await project.run(['up']);
    expect(result.code, describeRun(['up'], result)).toBe(2);
    expect(allOutput(result)).toMatch(/E_UNKNOWN_TRANSFORM/);
    expect(allOutput(result)).toMatch(/titlecase/);
    expect(allOutput(result)).toMatch(/0002_move_users/);
    // The plan failed before the run: not even the first migration ran.
    expect(await tables()).not.toContain('legacy_users');
  });

  it('a custom function no host registered stops before any row moves', async () => {
    const { project, query } = await setup([
      { source: 'id', target: 'id' },
      { source: 'full_name', target: 'name', transform: { type: 'custom', definition: 'normalizeName' } },
    ]);
    const result = await project.run(['up']);
    expect(result.code, describeRun(['up'], result)).not.toBe(0);
    expect(allOutput(result)).toMatch(/normalizeName/);
    const moved = await query('SELECT count(*) AS n FROM users').catch(() => [{ n: 0 }]);
    expect(Number(moved[0]?.n ?? 0)).toBe(0);
  });

  it('maps, looks up and defaults every row; down undoes it', async () => {
    const { project, query } = await setup(MAPPING);
    const result = await project.run(['up']);
    expect(result.code, describeRun(['up'], result)).toBe(0);
    const rows = await query('SELECT id, name, email, status_label FROM users ORDER BY id');
    expect(rows.map((r) => ({ ...r, id: Number(r.id) }))).toEqual([
      { id: 1, name: 'Ada Lovelace', email: 'ada@example.org', status_label: 'active' },
      { id: 2, name: 'Grace Hopper', email: null, status_label: 'disabled' },
      { id: 3, name: 'Alan Turing', email: 'alan@example.org', status_label: 'unknown' },
    ]);
    const status = await project.run(['status']);
    expect(status.stdout).toMatch(/0002_move_users/);

    const down = await project.run(['down']);
    expect(down.code, describeRun(['down'], down)).toBe(0);
    expect(Number((await query('SELECT count(*) AS n FROM users'))[0]?.n)).toBe(0);
  });
});
