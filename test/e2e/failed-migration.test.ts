import { afterAll, describe, expect, it } from 'vitest';
import { describeRun } from '../helpers/cli.js';
import { appliedIds, count, history, tableExists } from '../helpers/db.js';
import { createProject, removeTempDirs, sqlMigration } from '../helpers/project.js';

afterAll(removeTempDirs);

describe('d. a migration whose second statement fails leaves nothing behind and can be fixed', () => {
  it('exits 1, rolls back the first statement, records no applied row; the fixed file applies', async () => {
    const project = createProject({
      '0001_base.sql': sqlMigration('CREATE TABLE base (id INTEGER PRIMARY KEY);', {
        down: 'DROP TABLE base;',
      }),
      '0002_broken.sql': sqlMigration(
        'CREATE TABLE t1 (id INTEGER PRIMARY KEY);\nINSERT INTO nope VALUES (1);',
        {
          down: 'DROP TABLE t1;',
        },
      ),
    });

    const failed = await project.run(['up']);
    expect(failed.code, describeRun(['up'], failed)).toBe(1);
    expect(failed.stderr).toContain('0002_broken');
    expect(failed.stderr).toMatch(/nope/);

    // The migration before it is done and stays done; the failed one left no table and no applied row.
    expect(tableExists(project.dbFile, 'base')).toBe(true);
    expect(tableExists(project.dbFile, 't1')).toBe(false);
    expect(appliedIds(project.dbFile)).toEqual(['0001_base']);
    expect(
      history(project.dbFile).filter((r) => r.migration_id === '0002_broken' && r.status === 'applied'),
    ).toEqual([]);

    project.write(
      '0002_broken.sql',
      sqlMigration('CREATE TABLE t1 (id INTEGER PRIMARY KEY);\nINSERT INTO t1 VALUES (1);', {
        down: 'DROP TABLE t1;',
      }),
    );
    const fixed = await project.run(['up']);
    expect(fixed.code, describeRun(['up'], fixed)).toBe(0);
    expect(tableExists(project.dbFile, 't1')).toBe(true);
    expect(count(project.dbFile, 't1')).toBe(1);
    expect(appliedIds(project.dbFile)).toEqual(['0001_base', '0002_broken']);
    // Exactly one row per migration: the failed attempt did not leave a second record behind.
    expect(history(project.dbFile).filter((r) => r.migration_id === '0002_broken')).toHaveLength(1);
  });
});
