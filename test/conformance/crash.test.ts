import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, expect, it } from 'vitest';
import { describeRun } from '../helpers/cli.js';
import {
  createTestDatabase,
  describeEngines,
  type TestDatabase,
  type TestEngine,
} from '../helpers/engines.js';
import { createProject, removeTempDirs, sqlMigration } from '../helpers/project.js';

/**
 * `cmpkg up` SIGKILLed in the middle of a long migration, on every engine: the lock dies with the
 * process (or its connection), the next `up` finishes the job, and the history matches the schema.
 */
afterAll(removeTempDirs);

/**
 * A step that keeps the engine busy for several seconds. On MySQL it has no effect of its own: DDL
 * there is not transactional, and whether a statement the server was still running when its client
 * died completed is up to the server; the journal makes cmpkg re-run the interrupted step.
 */
const SLOW: Record<TestEngine, string> = {
  // Some 4 s of counting inside the write transaction (the e2e crash test covers a kill while a
  // big insert has spilled to the file and left a hot journal).
  sqlite:
    'CREATE TABLE slow AS WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 30000000) SELECT count(*) AS i FROM n',
  // pg_sleep costs about 1.1 ms a call: some 6 s in all.
  postgresql:
    'CREATE TABLE slow AS SELECT i FROM generate_series(1, 5000) AS i WHERE pg_sleep(0.001) IS NOT NULL',
  mysql: 'SELECT SLEEP(4)',
};

function slowMigration(engine: TestEngine): string {
  const step = (id: string, sql: string) => ({ id, type: 'sql', name: id, sql: { universal: sql } });
  const steps = [step('slow', SLOW[engine])];
  if (engine === 'mysql') steps.push(step('create-slow', 'CREATE TABLE slow (i INTEGER)'));
  return JSON.stringify({
    format: 'portable-migration-v1',
    migration: {
      id: '0002_slow',
      version: '1.0.0',
      name: 'slow',
      dependencies: ['0001_first'],
      steps: { up: steps },
    },
  });
}

describeEngines('conformance: SIGKILL mid-run, then resume', (engine) => {
  let db: TestDatabase;
  afterEach(async () => db?.drop());

  it('the next up completes and the history matches the schema', { timeout: 120_000 }, async () => {
    db = await createTestDatabase(engine);
    const project = createProject(
      {
        '0001_first.sql': sqlMigration('CREATE TABLE first_t (id INTEGER NOT NULL PRIMARY KEY);'),
        '0002_slow.json': slowMigration(engine),
        '0003_last.sql': sqlMigration('CREATE TABLE last_t (id INTEGER NOT NULL PRIMARY KEY);', {
          dependencies: ['0002_slow'],
        }),
      },
      'e2e',
      db.url,
    );
    const running = project.start(['up']);
    // Wait until the run is inside the slow migration: its execution row says so.
    const deadline = Date.now() + 30_000;
    let busySince: number | undefined;
    for (;;) {
      // SQLite: a writer that has spilled its cache keeps readers out until it commits. The short
      // writes before the slow migration (history tables, the execution row) do so for
      // milliseconds; being kept out for longer means the slow migration is running.
      const rows = await db
        .query("select count(*) as n from cmpkg_executions where status = 'running'")
        .catch((err: { code?: string }) => (err.code === 'SQLITE_BUSY' ? undefined : [{ n: 0 }]));
      if (rows === undefined) {
        busySince ??= Date.now();
        if (Date.now() - busySince > 500) break;
      } else {
        busySince = undefined;
        if (Number(rows[0]?.n) > 0) break;
      }
      if (Date.now() > deadline) throw new Error('the run never started');
      await sleep(50);
    }
    await sleep(700);
    expect(running.child.kill('SIGKILL')).toBe(true);
    const killed = await running.done;
    expect(killed.signal).toBe('SIGKILL');

    const resumed = await project.run(['up', '--lock-timeout', '60']);
    expect(resumed.code, describeRun(['up'], resumed)).toBe(0);
    const history = await db.history();
    expect(history.map((h) => [h.migration_id, h.status])).toEqual([
      ['0001_first', 'applied'],
      ['0002_slow', 'applied'],
      ['0003_last', 'applied'],
    ]);
    const tables = await db.tableNames();
    for (const t of ['first_t', 'slow', 'last_t']) expect(tables).toContain(t);
    const executions = await db.query('select status, error from cmpkg_executions order by id');
    expect(executions.map((e) => e.status)).toEqual(['failed', 'succeeded']);
    expect(String(executions[0]?.error)).toMatch(/interrupted/);
  });
});
