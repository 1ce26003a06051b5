import { mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../helpers/cli.js';
import { query, tableNames } from '../helpers/db.js';
import { createProject, type Project, removeTempDirs } from '../helpers/project.js';

afterAll(removeTempDirs);

// A TypeScript migration imports defineMigration from the project's own @cmpkg/core, as a user's
// would; the CLI (a bundle with its own copy of core) must still recognise what it exports.
function linkCore(project: Project): void {
  const scope = join(project.dir, 'node_modules', '@cmpkg');
  mkdirSync(scope, { recursive: true });
  symlinkSync(join(repoRoot, 'packages', 'core'), join(scope, 'core'), 'dir');
}

const tsMigration = (column: string) => `import { defineMigration } from '@cmpkg/core';

export default defineMigration({
  id: '0002_typed',
  version: '1.0.0',
  name: 'Typed migration',
  up: async ({ execute }) => {
    await execute('CREATE TABLE typed (id INTEGER PRIMARY KEY, ${column} TEXT)');
    await execute("INSERT INTO typed (${column}) VALUES ('from code')");
  },
  down: async ({ execute }) => {
    await execute('DROP TABLE typed');
  },
});
`;

describe('TypeScript migrations through the CLI', () => {
  it('loads defineMigration modules next to SQL files, applies, rolls back, and detects drift', async () => {
    const project = createProject({
      '0001_base.sql': '-- @version: 1.0.0\n-- UP MIGRATION\nCREATE TABLE base (id INTEGER PRIMARY KEY);\n',
      '0002_typed.ts': tsMigration('label'),
    });
    linkCore(project);

    const up = await project.run(['up']);
    expect(up.code, up.stderr).toBe(0);
    expect(tableNames(project.dbFile)).toEqual(expect.arrayContaining(['base', 'typed']));
    expect(query(project.dbFile, 'SELECT label FROM typed')).toEqual([{ label: 'from code' }]);

    const status = await project.run(['status', '--json']);
    const report = JSON.parse(status.stdout) as { migrations: { id: string; state: string }[] };
    expect(report.migrations.map((m) => [m.id, m.state])).toEqual([
      ['0001_base', 'applied'],
      ['0002_typed', 'applied'],
    ]);

    // The code is the migration: changing it is drift, like editing applied SQL.
    project.write('0002_typed.ts', tsMigration('title'));
    const drift = await project.run(['validate']);
    expect(drift.code).toBe(3);
    expect(drift.stderr).toMatch(/0002_typed/);

    project.write('0002_typed.ts', tsMigration('label'));
    const down = await project.run(['down']);
    expect(down.code, down.stderr).toBe(0);
    expect(tableNames(project.dbFile)).not.toContain('typed');
  });

  it('a module that exports no migration exits 2 naming the file', async () => {
    const project = createProject({ '0001_nothing.ts': 'export const answer = 42;\n' });
    const run = await project.run(['status']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/0001_nothing\.ts/);
  });
});
