import { afterAll, afterEach, expect, it } from 'vitest';
import { describeRun } from '../helpers/cli.js';
import { createTestDatabase, describeEngines, type TestDatabase, testDialect } from '../helpers/engines.js';
import { createProject, removeTempDirs, sqlMigration } from '../helpers/project.js';

/**
 * 20 `cmpkg up` processes at once against one database: the engine's native lock (lock file,
 * advisory lock, GET_LOCK) lets one apply each migration and the others find nothing to do.
 */
afterAll(removeTempDirs);

const RUNNERS = 20;
const MIGRATIONS = 5;

describeEngines('conformance: 20 parallel runners', (engine) => {
  let db: TestDatabase;
  afterEach(async () => db?.drop());

  it('apply every migration exactly once', { timeout: 180_000 }, async () => {
    db = await createTestDatabase(engine);
    const files: Record<string, string> = {};
    for (let i = 1; i <= MIGRATIONS; i++) {
      const id = `000${i}_step`;
      // A migration that is not idempotent: applied twice, its INSERT would fail on the primary key.
      files[`${id}.sql`] = sqlMigration(
        `CREATE TABLE t${i} (id INTEGER NOT NULL PRIMARY KEY);\nINSERT INTO counter (id, migration) VALUES (${i}, '${id}');`,
        { dependencies: i === 1 ? ['0000_counter'] : [`000${i - 1}_step`] },
      );
    }
    files['0000_counter.sql'] = sqlMigration(
      'CREATE TABLE counter (id INTEGER NOT NULL PRIMARY KEY, migration VARCHAR(50));',
    );
    const project = createProject(files, 'e2e', db.url);
    const runs = await Promise.all(
      Array.from({ length: RUNNERS }, () => project.run(['up', '--lock-timeout', '150'])),
    );
    for (const r of runs) expect(r.code, describeRun(['up'], r)).toBe(0);
    expect(await db.count('counter')).toBe(MIGRATIONS);
    const history = await db.history();
    expect(history).toHaveLength(MIGRATIONS + 1);
    expect(history.every((h) => h.status === 'applied')).toBe(true);
    // Exactly one runner applied anything; the rest waited for the lock and found nothing to do.
    const appliers = runs.filter((r) => !r.stdout.includes('Nothing to do'));
    expect(appliers).toHaveLength(1);
  });

  it('a run that cannot get the lock in time exits 3 naming the holder, and changes nothing', async () => {
    db = await createTestDatabase(engine);
    const project = createProject(
      { '0001_t.sql': sqlMigration('CREATE TABLE t (id INTEGER NOT NULL PRIMARY KEY);') },
      'e2e',
      db.url,
    );
    const dialect = testDialect(engine);
    const conn = await dialect.connect(db.url);
    try {
      const release = await dialect.acquireLock(conn, 'cmpkg', {
        timeoutMs: 5_000,
        holder: 'nightly-deploy on ci-7',
      });
      const up = await project.run(['up', '--lock-timeout', '1']);
      expect(up.code, describeRun(['up'], up)).toBe(3);
      expect(up.stderr).toContain('error[E_LOCK_TIMEOUT]');
      expect(up.stderr).toContain('nightly-deploy on ci-7');
      expect(await db.tableNames()).not.toContain('t');
      await release();
      const after = await project.run(['up', '--lock-timeout', '5']);
      expect(after.code, describeRun(['up'], after)).toBe(0);
    } finally {
      await conn.close();
    }
  });
});
