import { afterAll, describe, expect, it } from 'vitest';
import { describeRun } from '../helpers/cli.js';
import { count, history, query, tableNames } from '../helpers/db.js';
import { createProject, type Project, removeTempDirs, sqlMigration } from '../helpers/project.js';

afterAll(removeTempDirs);

const MIGRATIONS = 4;
const ROWS = 20_000;

/**
 * Migrations that each take a noticeable moment (a table and 20k rows), so concurrent runs overlap
 * instead of finishing one after another by luck. A second run of any of them would fail on
 * CREATE TABLE, and a re-run INSERT would double the row count.
 */
function slowishProject(): Project {
  const files: Record<string, string> = {};
  for (let i = 1; i <= MIGRATIONS; i++) {
    const table = `c${i}`;
    files[`000${i}_${table}.sql`] = sqlMigration(
      `CREATE TABLE ${table} (id INTEGER PRIMARY KEY, v TEXT NOT NULL);
INSERT INTO ${table} (id, v)
  WITH RECURSIVE seq(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM seq WHERE x < ${ROWS})
  SELECT x, 'row ' || x FROM seq;`,
      { down: `DROP TABLE ${table};` },
    );
  }
  return createProject(files);
}

async function raceUp(processes: number): Promise<void> {
  const project = slowishProject();
  // Started in the same tick: they all race for the lock, and for creating the database file itself.
  const runs = Array.from({ length: processes }, () => project.start(['up']));
  const results = await Promise.all(runs.map((r) => r.done));
  results.forEach((result, i) => {
    expect(result.code, `process ${i + 1} of ${processes}\n${describeRun(['up'], result)}`).toBe(0);
  });

  const rows = history(project.dbFile);
  expect(rows).toHaveLength(MIGRATIONS);
  const perId = new Map<string, number>();
  for (const row of rows) perId.set(row.migration_id, (perId.get(row.migration_id) ?? 0) + 1);
  for (let i = 1; i <= MIGRATIONS; i++) {
    expect(perId.get(`000${i}_c${i}`), `history rows for 000${i}_c${i}`).toBe(1);
    expect(count(project.dbFile, `c${i}`), `rows in c${i}`).toBe(ROWS);
  }
  expect(rows.every((r) => r.status === 'applied')).toBe(true);
  // Each table exists exactly once, and nothing else was created besides cmpkg's own tables.
  const userTables = tableNames(project.dbFile).filter((t) => !t.startsWith('cmpkg_'));
  expect(userTables).toEqual(['c1', 'c2', 'c3', 'c4']);
  // Exactly one of the runs did the work; each of the others either waited and found nothing to do
  // or recorded a run that applied nothing, but none applied a migration a second time.
  const ups = query(
    project.dbFile,
    "SELECT COUNT(*) AS n FROM cmpkg_executions WHERE kind = 'up' AND status = 'succeeded'",
  );
  expect(Number(ups[0]?.n)).toBeGreaterThanOrEqual(1);
}

describe('f. concurrent `cmpkg up` on one database applies each migration exactly once', () => {
  it('two processes at once', async () => {
    await raceUp(2);
  });

  it('ten processes at once', async () => {
    await raceUp(10);
  }, 120_000);
});
