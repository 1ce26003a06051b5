import { afterAll, describe, expect, it } from 'vitest';
import { allOutput, describeRun, parseJsonOutput } from '../helpers/cli.js';
import { appliedIds, query, tableExists } from '../helpers/db.js';
import { createProject, removeTempDirs, sqlMigration } from '../helpers/project.js';

afterAll(removeTempDirs);

interface HistoryJson {
  pluginId: string;
  migrations: Array<{ migrationId: string; status: string }>;
  executions: Array<{ kind: string; status: string; user: string; reason: string | null }>;
}

describe('h. rolling back a migration without down steps needs --force, and is recorded', () => {
  it('refuses (exit 3) without --force; with --force --reason records the reason and user', async () => {
    const project = createProject({
      '0001_keep.sql': sqlMigration('CREATE TABLE keep (id INTEGER PRIMARY KEY);', {
        down: 'DROP TABLE keep;',
      }),
      // No DOWN section: there is nothing that could undo it.
      '0002_one_way.sql': sqlMigration('CREATE TABLE one_way (id INTEGER PRIMARY KEY);'),
    });
    const up = await project.run(['up']);
    expect(up.code, describeRun(['up'], up)).toBe(0);
    expect(appliedIds(project.dbFile)).toEqual(['0001_keep', '0002_one_way']);

    const refused = await project.run(['down', '--yes']);
    expect(refused.code, describeRun(['down', '--yes'], refused)).toBe(3);
    expect(allOutput(refused)).toContain('0002_one_way');
    expect(allOutput(refused)).toMatch(/--force/);
    // Refused means nothing was rolled back: still applied, table still there.
    expect(appliedIds(project.dbFile)).toEqual(['0001_keep', '0002_one_way']);
    expect(tableExists(project.dbFile, 'one_way')).toBe(true);

    const args = ['down', '--yes', '--force', '--reason', 'x', '--user', 'e2e-tester'];
    const forced = await project.run(args);
    expect(forced.code, describeRun(args, forced)).toBe(0);
    // Only the last migration is rolled back; the one before it is untouched.
    expect(appliedIds(project.dbFile)).toEqual(['0001_keep']);
    expect(tableExists(project.dbFile, 'keep')).toBe(true);

    const downs = query(
      project.dbFile,
      `SELECT kind, status, reason, "user" AS user FROM cmpkg_executions WHERE kind = 'down' AND status = 'succeeded' ORDER BY id`,
    );
    expect(downs).toEqual([{ kind: 'down', status: 'succeeded', reason: 'x', user: 'e2e-tester' }]);

    const historyArgs = ['history', '--json'];
    const hist = await project.run(historyArgs);
    expect(hist.code, describeRun(historyArgs, hist)).toBe(0);
    const doc = parseJsonOutput<HistoryJson>(hist);
    expect(doc.pluginId).toBe('e2e');
    expect(doc.executions).toEqual(
      expect.arrayContaining([expect.objectContaining({ kind: 'down', reason: 'x', user: 'e2e-tester' })]),
    );
    expect(doc.migrations.filter((m) => m.status === 'applied').map((m) => m.migrationId)).toEqual([
      '0001_keep',
    ]);
  });
});
