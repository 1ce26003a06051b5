import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type Connection,
  defineMigration,
  loadPlugin,
  type MigrationInput,
  Migrator,
  type MigratorEvents,
  type MigratorOptions,
} from '@cmpkg/core';
import { SqliteDialect } from '@cmpkg/dialect-sqlite';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

// The engine through its public entry, on real SQLite files. Results are checked by opening the
// database file with a separate better-sqlite3 handle, never by trusting the engine's own report.

let dir: string;
let dbFile: string;
let migrationsDir: string;
const open: Connection[] = [];
const dialect = new SqliteDialect();

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'cmpkg-engine-'));
  dbFile = join(dir, 'app.db');
  migrationsDir = join(dir, 'migrations');
  mkdirSync(migrationsDir);
});

afterEach(async () => {
  for (const c of open.splice(0)) await c.close();
  rmSync(dir, { recursive: true, force: true });
});

function writeJson(file: string, migration: Partial<MigrationInput> & { id: string }): void {
  const doc = {
    format: 'portable-migration-v1',
    migration: { version: '1.0.0', name: migration.id, ...migration },
  };
  writeFileSync(join(migrationsDir, file), JSON.stringify(doc, null, 2));
}

function sqlStep(id: string, sql: string, extra: Record<string, unknown> = {}) {
  return { id, name: id, sql: { universal: sql }, ...extra };
}

async function migrator(
  extra: Partial<MigratorOptions> = {},
  pluginMigrations?: MigratorOptions['plugin']['migrations'],
) {
  const connection = await dialect.connect(`sqlite:${dbFile}`);
  open.push(connection);
  const plugin = pluginMigrations
    ? { id: 'app', version: '1.0.0', migrations: pluginMigrations }
    : await loadPlugin({ dir: migrationsDir, id: 'app' });
  return new Migrator({ dialect, connection, plugin, user: 'tester', ...extra });
}

function query<T>(sql: string): T[] {
  const db = new Database(dbFile, { readonly: true });
  try {
    return db.prepare(sql).all() as T[];
  } finally {
    db.close();
  }
}

const tables = () =>
  query<{ name: string }>("select name from sqlite_master where type = 'table' order by name").map(
    (r) => r.name,
  );
const history = () =>
  query<{ migration_id: string; status: string; checksum: string }>(
    'select migration_id, status, checksum from cmpkg_migrations order by installed_rank',
  );

describe('Migrator.up', () => {
  it('applies pending migrations once, records them, and is a no-op the second time', async () => {
    writeJson('0001_a.json', {
      id: '0001_a',
      steps: { up: [sqlStep('up', 'CREATE TABLE a (id int); INSERT INTO a VALUES (1)')] },
    });
    writeJson('0002_b.json', {
      id: '0002_b',
      dependencies: ['0001_a'],
      steps: { up: [sqlStep('up', 'CREATE TABLE b (id int)')] },
    });
    const m = await migrator();
    const first = await m.up();
    expect(first.error).toBeUndefined();
    expect(first.results.map((r) => [r.migrationId, r.status])).toEqual([
      ['0001_a', 'applied'],
      ['0002_b', 'applied'],
    ]);
    expect(tables()).toEqual(expect.arrayContaining(['a', 'b', 'cmpkg_migrations', 'cmpkg_steps']));
    expect(history().map((h) => [h.migration_id, h.status])).toEqual([
      ['0001_a', 'applied'],
      ['0002_b', 'applied'],
    ]);
    expect(history()[0]?.checksum).toMatch(/^sha256:[0-9a-f]{64}$/);
    const second = await m.up();
    expect(second.error).toBeUndefined();
    expect(second.results).toEqual([]);
    expect(query<{ n: number }>('select count(*) as n from cmpkg_executions')[0]?.n).toBe(1);
    expect(
      query<{ version: string }>("select version from cmpkg_plugins where plugin_id = 'app'")[0]?.version,
    ).toBe('1.0.0');
  });

  it('keeps earlier migrations of the run when a later one fails, and leaves no trace of the failed one', async () => {
    writeJson('0001_a.json', { id: '0001_a', steps: { up: [sqlStep('up', 'CREATE TABLE a (id int)')] } });
    writeJson('0002_b.json', {
      id: '0002_b',
      steps: { up: [sqlStep('up', 'CREATE TABLE b (id int); INSERT INTO missing VALUES (1)')] },
    });
    const m = await migrator();
    const run = await m.up();
    expect(run.error?.code).toBe('E_STEP_FAILED');
    expect(run.error?.message).toMatch(/0002_b.*statement 2.*no such table: missing/);
    expect(run.results.map((r) => r.status)).toEqual(['applied', 'failed']);
    expect(tables()).toContain('a');
    expect(tables()).not.toContain('b');
    expect(history().map((h) => h.migration_id)).toEqual(['0001_a']);
    const exec = query<{ status: string; error: string }>('select status, error from cmpkg_executions');
    expect(exec[0]?.status).toBe('failed');
    expect(exec[0]?.error).toMatch(/no such table: missing/);
  });

  it('continues past a failure with continueOnError and skips its dependants', async () => {
    writeJson('0001_bad.json', {
      id: '0001_bad',
      steps: { up: [sqlStep('up', 'INSERT INTO nope VALUES (1)')] },
    });
    writeJson('0002_ok.json', { id: '0002_ok', steps: { up: [sqlStep('up', 'CREATE TABLE ok (id int)')] } });
    writeJson('0003_dep.json', {
      id: '0003_dep',
      dependencies: ['0001_bad'],
      steps: { up: [sqlStep('up', 'CREATE TABLE dep (id int)')] },
    });
    const m = await migrator({ continueOnError: true });
    const run = await m.up();
    expect(run.error?.code).toBe('E_STEP_FAILED');
    expect(run.results.map((r) => [r.migrationId, r.status])).toEqual([
      ['0001_bad', 'failed'],
      ['0002_ok', 'applied'],
      ['0003_dep', 'skipped'],
    ]);
    expect(tables()).toContain('ok');
    expect(tables()).not.toContain('dep');
  });

  it('runs non-transactional migrations step by step and resumes at the failed step', async () => {
    const steps = (second: string) => ({
      up: [
        sqlStep('s1', 'CREATE TABLE t1 (id int)', { transactional: false }),
        sqlStep('s2', second, { transactional: false }),
      ],
      down: [
        sqlStep('d2', 'DROP TABLE IF EXISTS t2', { transactional: false }),
        sqlStep('d1', 'DROP TABLE t1'),
      ],
    });
    writeJson('0001_nt.json', { id: '0001_nt', steps: steps('INSERT INTO nope VALUES (1)') });
    const first = await (await migrator()).up();
    expect(first.error?.message).toMatch(/step "s2"/);
    expect(first.results[0]?.status).toBe('partial');
    expect(history()).toEqual([expect.objectContaining({ migration_id: '0001_nt', status: 'partial' })]);
    const status = await (await migrator()).status();
    expect(status.migrations[0]).toMatchObject({ state: 'partial', failedStep: 's2' });

    // Fixing the unfinished step is allowed; s1 must not run again (CREATE TABLE t1 would fail).
    writeJson('0001_nt.json', { id: '0001_nt', steps: steps('CREATE TABLE t2 (id int)') });
    const resumed = await (await migrator()).up();
    expect(resumed.error).toBeUndefined();
    expect(resumed.results[0]?.steps.map((s) => s.stepId)).toEqual(['s2']);
    expect(history()[0]?.status).toBe('applied');
    expect(tables()).toEqual(expect.arrayContaining(['t1', 't2']));

    // Rolling back runs step by step too (one down step is not transactional) and clears the record.
    const undo = await (await migrator()).down({ reason: 'undo' });
    expect(undo.error).toBeUndefined();
    expect(undo.results[0]?.steps.map((s) => [s.stepId, s.status])).toEqual([
      ['d2', 'done'],
      ['d1', 'done'],
    ]);
    expect(tables()).not.toContain('t1');
    expect(tables()).not.toContain('t2');
    expect(history()).toEqual([]);
    expect(query('select * from cmpkg_steps')).toEqual([]);
  });

  it('treats an edit to a finished step of a partial migration as drift', async () => {
    writeJson('0001_nt.json', {
      id: '0001_nt',
      steps: {
        up: [
          sqlStep('s1', 'CREATE TABLE t1 (id int)', { transactional: false }),
          sqlStep('s2', 'INSERT INTO nope VALUES (1)'),
        ],
      },
    });
    await (await migrator()).up();
    writeJson('0001_nt.json', {
      id: '0001_nt',
      steps: {
        up: [
          sqlStep('s1', 'CREATE TABLE t1 (id int, x int)', { transactional: false }),
          sqlStep('s2', 'SELECT 1'),
        ],
      },
    });
    const run = await (await migrator()).up();
    expect(run.error?.code).toBe('E_DRIFT');
    expect(run.error?.message).toMatch(/finished step "s1"/);

    // --repair accepts the edited finished step (not re-run) and resumes at s2.
    const repaired = await (await migrator({ repair: true })).up();
    expect(repaired.error).toBeUndefined();
    expect(repaired.repaired).toEqual(['0001_nt']);
    expect(repaired.results[0]?.steps.map((s) => s.stepId)).toEqual(['s2']);
    expect(history()[0]?.status).toBe('applied');
    expect((await (await migrator()).validate()).ok).toBe(true);
  });

  it('resumes a step outside a transaction after the statements it already ran, unless they changed', async () => {
    const step = (third: string, first = 'CREATE TABLE t1 (id int)') => ({
      up: [sqlStep('s1', `${first}; INSERT INTO t1 VALUES (1); ${third}`, { transactional: false })],
    });
    writeJson('0001_nt.json', { id: '0001_nt', steps: step('INSERT INTO nope VALUES (1)') });
    const failed = await (await migrator()).up();
    expect(failed.error?.message).toMatch(/statement 3/);
    // Statements 1 and 2 ran and stay (no transaction); the journal says how far the step got.
    expect(query('select * from t1')).toEqual([{ id: 1 }]);
    expect(query('select status, statements_done from cmpkg_steps')).toEqual([
      { status: 'failed', statements_done: 2 },
    ]);

    // Editing a statement that already ran is refused: skipping it would skip something else.
    writeJson('0001_nt.json', {
      id: '0001_nt',
      steps: step('INSERT INTO t1 VALUES (3)', 'CREATE TABLE t1 (id int, x int)'),
    });
    const edited = await (await migrator()).up();
    expect(edited.error?.code).toBe('E_DRIFT');
    expect(edited.error?.message).toMatch(/statements 1-2 ran before the step failed/);

    // Fixing only the failed statement resumes at it: CREATE TABLE t1 would fail if it ran again.
    writeJson('0001_nt.json', { id: '0001_nt', steps: step('INSERT INTO t1 VALUES (3)') });
    const resumed = await (await migrator()).up();
    expect(resumed.error).toBeUndefined();
    expect(query('select id from t1 order by id')).toEqual([{ id: 1 }, { id: 3 }]);
    expect(history()[0]?.status).toBe('applied');
    expect(query('select status, statements_done from cmpkg_steps')).toEqual([
      { status: 'done', statements_done: 3 },
    ]);
  });

  it('--repair runs a changed, partly run step from its first statement', async () => {
    const step = (first: string, third: string) => ({
      up: [sqlStep('s1', `${first}; INSERT INTO t1 VALUES (1); ${third}`, { transactional: false })],
    });
    writeJson('0001_nt.json', {
      id: '0001_nt',
      steps: step('CREATE TABLE t1 (id int)', 'INSERT INTO nope VALUES (1)'),
    });
    expect((await (await migrator()).up()).error).toBeDefined();
    // The operator undid the effects by hand and rewrote the step.
    const conn = await dialect.connect(`sqlite:${dbFile}`);
    await conn.execute('DROP TABLE t1');
    await conn.close();
    writeJson('0001_nt.json', { id: '0001_nt', steps: step('CREATE TABLE t1 (id integer)', 'SELECT 1') });
    expect((await (await migrator()).up()).error?.code).toBe('E_DRIFT');
    const repaired = await (await migrator({ repair: true })).up();
    expect(repaired.error).toBeUndefined();
    expect(query('select id from t1')).toEqual([{ id: 1 }]);
    expect(history()[0]?.status).toBe('applied');
  });

  it('refuses drift of an applied migration, and --repair records the new checksum', async () => {
    writeJson('0001_a.json', { id: '0001_a', steps: { up: [sqlStep('up', 'CREATE TABLE a (id int)')] } });
    await (await migrator()).up();
    const before = history()[0]?.checksum;
    writeJson('0001_a.json', {
      id: '0001_a',
      steps: { up: [sqlStep('up', 'CREATE TABLE a (id int, name text)')] },
    });
    const refused = await (await migrator()).up();
    expect(refused.error?.code).toBe('E_DRIFT');
    expect(refused.error?.category).toBe('safety');
    await expect((await migrator()).validate()).rejects.toMatchObject({ code: 'E_DRIFT' });
    const repaired = await (await migrator({ repair: true })).up();
    expect(repaired.error).toBeUndefined();
    expect(history()[0]?.checksum).not.toBe(before);
    expect((await (await migrator()).validate()).ok).toBe(true);
  });

  it('retries transient errors with back-off and reports each retry', async () => {
    let calls = 0;
    const flaky = defineMigration({
      id: 'flaky',
      version: '1.0.0',
      name: 'flaky',
      up: async ({ execute }) => {
        calls++;
        if (calls < 3) throw Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' });
        await execute('CREATE TABLE flaky (id int)');
      },
    });
    const m = await migrator({ retry: { attempts: 3, initialDelayMs: 5 } }, [{ ...flaky, pluginId: 'app' }]);
    const retries: MigratorEvents['error'][] = [];
    m.on('error', (e) => retries.push(e));
    const run = await m.up();
    expect(run.error).toBeUndefined();
    expect(calls).toBe(3);
    expect(run.results[0]?.steps[0]?.attempts).toBe(3);
    expect(retries.filter((r) => r.willRetry)).toHaveLength(2);
    expect(tables()).toContain('flaky');
  });

  it('does not retry permanent errors', async () => {
    let calls = 0;
    const broken = defineMigration({
      id: 'broken',
      version: '1.0.0',
      name: 'broken',
      up: async ({ execute }) => {
        calls++;
        await execute('CREATE TABLE (');
      },
    });
    const run = await (
      await migrator({ retry: { attempts: 5, initialDelayMs: 1 } }, [{ ...broken, pluginId: 'app' }])
    ).up();
    expect(run.error?.code).toBe('E_STEP_FAILED');
    expect(calls).toBe(1);
  });

  it('enforces per-step timeouts on SQL and code steps and rolls the migration back', async () => {
    writeJson('0001_slow.json', {
      id: '0001_slow',
      steps: {
        up: [
          sqlStep('mk', 'CREATE TABLE slow (id int)'),
          sqlStep(
            'fill',
            'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 3000000) INSERT INTO slow SELECT x FROM c',
            { timeout: 0.05 },
          ),
        ],
      },
    });
    const run = await (await migrator()).up();
    expect(run.error?.code).toBe('E_STEP_TIMEOUT');
    expect(tables()).not.toContain('slow');

    const hang = defineMigration({
      id: 'hang',
      version: '1.0.0',
      name: 'hang',
      up: async ({ execute }) => {
        await execute('CREATE TABLE hang (id int)');
        await new Promise<void>((resolve) => setTimeout(resolve, 5_000));
      },
    });
    hang.steps.up[0]!.timeout = 0.1;
    const started = Date.now();
    const code = await (await migrator({}, [{ ...hang, pluginId: 'app' }])).up();
    expect(code.error?.code).toBe('E_STEP_TIMEOUT');
    expect(Date.now() - started).toBeLessThan(4_000);
    expect(tables()).not.toContain('hang');
  });

  it('checks pre/post validation and expected changes, rolling back on a mismatch', async () => {
    writeJson('0001_v.json', {
      id: '0001_v',
      steps: {
        up: [
          sqlStep('mk', 'CREATE TABLE v (id int); CREATE INDEX v_id ON v (id)', {
            expectedChanges: { tables: 1, indexes: 1 },
          }),
          sqlStep('fill', 'INSERT INTO v VALUES (1), (2)', {
            preValidation: 'SELECT count(*) = 0 FROM v',
            postValidation: 'SELECT count(*) = 2 FROM v',
            expectedChanges: { rows: 2 },
          }),
        ],
      },
    });
    expect((await (await migrator()).up()).error).toBeUndefined();
    expect(query<{ n: number }>('select count(*) as n from v')[0]?.n).toBe(2);

    writeJson('0002_bad_rows.json', {
      id: '0002_bad_rows',
      steps: { up: [sqlStep('more', 'INSERT INTO v VALUES (3)', { expectedChanges: { rows: 5 } })] },
    });
    const rows = await (await migrator()).up();
    expect(rows.error?.code).toBe('E_EXPECTED_CHANGES');
    expect(query<{ n: number }>('select count(*) as n from v')[0]?.n).toBe(2);

    rmSync(join(migrationsDir, '0002_bad_rows.json'));
    writeJson('0002_bad_check.json', {
      id: '0002_bad_check',
      steps: { up: [sqlStep('more', 'DELETE FROM v', { postValidation: 'SELECT count(*) > 0 FROM v' })] },
    });
    const check = await (await migrator()).up();
    expect(check.error?.code).toBe('E_VALIDATION_FAILED');
    expect(check.error?.message).toMatch(/postValidation failed/);
    expect(query<{ n: number }>('select count(*) as n from v')[0]?.n).toBe(2);
  });

  it('records migrations for other engines as skipped, and applies one once it includes the engine', async () => {
    writeJson('0001_pg.json', {
      id: '0001_pg',
      databaseEngines: ['postgresql'],
      steps: { up: [sqlStep('up', 'CREATE TABLE pg_only (id int)')] },
    });
    writeJson('0002_all.json', {
      id: '0002_all',
      steps: { up: [sqlStep('up', 'CREATE TABLE everywhere (id int)')] },
    });
    const first = await (await migrator()).up();
    expect(first.results.map((r) => [r.migrationId, r.status])).toEqual([
      ['0001_pg', 'skipped'],
      ['0002_all', 'applied'],
    ]);
    expect(history().map((h) => [h.migration_id, h.status])).toEqual([
      ['0001_pg', 'skipped'],
      ['0002_all', 'applied'],
    ]);
    expect(tables()).not.toContain('pg_only');
    const status = await (await migrator()).status();
    expect(status.migrations[0]).toMatchObject({ id: '0001_pg', state: 'skipped', reason: 'engine' });

    writeJson('0001_pg.json', {
      id: '0001_pg',
      databaseEngines: ['postgresql', 'sqlite'],
      steps: { up: [sqlStep('up', 'CREATE TABLE pg_only (id int)')] },
    });
    const second = await (await migrator()).up();
    expect(second.error).toBeUndefined();
    expect(second.results.map((r) => [r.migrationId, r.status])).toEqual([['0001_pg', 'applied']]);
    expect(history().find((h) => h.migration_id === '0001_pg')?.status).toBe('applied');
    expect(tables()).toContain('pg_only');
  });

  it('skips a failing step marked skipOnError and applies the rest', async () => {
    writeJson('0001_s.json', {
      id: '0001_s',
      steps: {
        up: [
          sqlStep('mk', 'CREATE TABLE s (id int)'),
          sqlStep('optional', 'INSERT INTO nope VALUES (1)', { skipOnError: true }),
          sqlStep('fill', 'INSERT INTO s VALUES (1)'),
        ],
      },
    });
    const run = await (await migrator()).up();
    expect(run.error).toBeUndefined();
    expect(run.results[0]?.steps.map((s) => s.status)).toEqual(['done', 'skipped', 'done']);
    expect(query<{ n: number }>('select count(*) as n from s')[0]?.n).toBe(1);
  });

  it('emits plan, start, step, progress and done events in order', async () => {
    writeJson('0001_a.json', { id: '0001_a', steps: { up: [sqlStep('up', 'CREATE TABLE a (id int)')] } });
    const m = await migrator();
    const seen: string[] = [];
    m.on('plan', () => seen.push('plan'))
      .on('migration:start', (e) => seen.push(`start:${e.id}`))
      .on('step:done', (e) => seen.push(`step:${e.stepId}`))
      .on('migration:done', (e) => seen.push(`done:${e.migrationId}`))
      .on('progress', (e) => seen.push(`progress:${e.done}/${e.total}`));
    await m.up();
    expect(seen).toEqual(['plan', 'start:0001_a', 'step:up', 'progress:1/1', 'done:0001_a']);
  });

  it('dry run returns the exact SQL and touches nothing', async () => {
    writeJson('0001_a.json', {
      id: '0001_a',
      steps: { up: [sqlStep('up', 'CREATE TABLE a (id int);\nINSERT INTO a VALUES (1)')] },
    });
    const run = await (await migrator()).up({ dryRun: true });
    expect(run.dryRun).toBe(true);
    expect(run.plan?.migrations[0]?.steps[0]?.statements).toEqual([
      'CREATE TABLE a (id int)',
      'INSERT INTO a VALUES (1)',
    ]);
    expect(run.results[0]?.status).toBe('planned');
    expect(tables()).toEqual([]);
  });

  it('backs up before a migration that requires it', async () => {
    writeJson('0001_a.json', { id: '0001_a', steps: { up: [sqlStep('up', 'CREATE TABLE a (id int)')] } });
    await (await migrator()).up();
    writeJson('0002_risky.json', {
      id: '0002_risky',
      requiresBackup: true,
      steps: { up: [sqlStep('up', 'DROP TABLE a')] },
    });
    const run = await (await migrator({ backupDirectory: dir })).up();
    expect(run.error).toBeUndefined();
    expect(run.backup?.location).toMatch(/\.bak$/);
    expect(readdirSync(dir).some((f) => f.endsWith('.bak'))).toBe(true);
    const backup = new Database(run.backup!.location, { readonly: true });
    expect(backup.prepare("select name from sqlite_master where name = 'a'").all()).toHaveLength(1);
    backup.close();
    expect(query<{ kind: string }>("select kind from cmpkg_executions where kind = 'backup'")).toHaveLength(
      1,
    );
  });

  it('refuses a required backup the database cannot make, unless told to skip it', async () => {
    writeJson('0001_risky.json', {
      id: '0001_risky',
      requiresBackup: true,
      steps: { up: [sqlStep('up', 'CREATE TABLE r (id int)')] },
    });
    const plugin = await loadPlugin({ dir: migrationsDir, id: 'app' });
    const memory = await dialect.connect('sqlite::memory:');
    open.push(memory);
    const refused = await new Migrator({ dialect, connection: memory, plugin }).up();
    expect(refused.error?.code).toBe('E_BACKUP_REQUIRED');
    expect(refused.error?.category).toBe('safety');
    expect((await memory.execute("select name from sqlite_master where name = 'r'")).rows).toEqual([]);
    const skipped = await new Migrator({ dialect, connection: memory, plugin, backup: 'skip' }).up();
    expect(skipped.error).toBeUndefined();
    expect((await memory.execute("select name from sqlite_master where name = 'r'")).rows).toHaveLength(1);
  });

  it('marks every migration of a shared transaction failed when its COMMIT fails', async () => {
    // A deferred foreign key is only checked at COMMIT: the statements succeed, the commit does not.
    writeJson('0001_parent.json', {
      id: '0001_parent',
      steps: {
        up: [
          sqlStep(
            'up',
            'CREATE TABLE parent (id INTEGER PRIMARY KEY); CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED)',
          ),
        ],
      },
    });
    writeJson('0002_orphan.json', {
      id: '0002_orphan',
      steps: { up: [sqlStep('up', 'INSERT INTO child (id, parent_id) VALUES (1, 42)')] },
    });
    const m = await migrator();
    const done: string[] = [];
    m.on('migration:done', (r) => done.push(`${r.migrationId}:${r.status}`));
    const run = await m.up();
    expect(run.error?.message).toMatch(/FOREIGN KEY/i);
    expect(run.results.map((r) => r.status)).toEqual(['failed', 'failed']);
    expect(done).toEqual(['0001_parent:failed', '0002_orphan:failed']);
    expect(tables()).not.toContain('parent');
    expect(query('select * from cmpkg_migrations')).toEqual([]);
    expect(query<{ status: string }>("select status from cmpkg_executions where kind = 'up'")).toEqual([
      { status: 'failed' },
    ]);
  });

  it('stops before migrating when the required backup fails', async () => {
    writeJson('0001_risky.json', {
      id: '0001_risky',
      requiresBackup: true,
      steps: { up: [sqlStep('up', 'CREATE TABLE r (id int)')] },
    });
    // A file where the backup directory should be: the backup cannot be written.
    const notADirectory = join(dir, 'not-a-dir');
    writeFileSync(notADirectory, 'x');
    const run = await (await migrator({ backupDirectory: notADirectory })).up();
    expect(run.error).toBeDefined();
    expect(run.results).toEqual([]);
    expect(tables()).not.toContain('r');
    expect(query('select * from cmpkg_migrations')).toEqual([]);
    expect(
      query<{ kind: string; status: string }>('select kind, status from cmpkg_executions order by id'),
    ).toEqual([
      { kind: 'up', status: 'failed' },
      { kind: 'backup', status: 'failed' },
    ]);
  });

  it('gives up on the lock after the timeout and names the holder', async () => {
    writeJson('0001_a.json', { id: '0001_a', steps: { up: [sqlStep('up', 'CREATE TABLE a (id int)')] } });
    const other = await dialect.connect(`sqlite:${dbFile}`);
    open.push(other);
    const release = await dialect.acquireLock(other, 'cmpkg', { timeoutMs: 1000, holder: 'someone-else' });
    try {
      const run = await (await migrator({ lockTimeoutMs: 300 })).up();
      expect(run.error?.code).toBe('E_LOCK_TIMEOUT');
      expect(run.error?.message).toMatch(/someone-else/);
      expect(tables()).not.toContain('a');
    } finally {
      await release();
    }
  });
});

describe('Migrator.down', () => {
  it('rolls back with a reason and user, and refuses a migration without down steps unless forced', async () => {
    writeJson('0001_a.json', {
      id: '0001_a',
      steps: { up: [sqlStep('up', 'CREATE TABLE a (id int)')], down: [sqlStep('down', 'DROP TABLE a')] },
    });
    writeJson('0002_b.json', { id: '0002_b', steps: { up: [sqlStep('up', 'CREATE TABLE b (id int)')] } });
    await (await migrator()).up();
    const refused = await (await migrator()).down();
    expect(refused.error?.code).toBe('E_ROLLBACK_REFUSED');
    expect(tables()).toContain('b');
    const forced = await (await migrator()).down({ force: true, reason: 'cleanup' });
    expect(forced.error).toBeUndefined();
    expect(history().map((h) => h.migration_id)).toEqual(['0001_a']);
    expect(tables()).toContain('b'); // --force without down steps removes only the record
    const undo = await (await migrator()).down({ reason: 'bad table' });
    expect(undo.results.map((r) => r.status)).toEqual(['rolled-back']);
    expect(tables()).not.toContain('a');
    const execs = query<{ kind: string; reason: string; user: string }>(
      "select kind, reason, user from cmpkg_executions where kind = 'down' order by id",
    );
    expect(execs).toEqual([
      { kind: 'down', reason: 'cleanup', user: 'tester' },
      { kind: 'down', reason: 'bad table', user: 'tester' },
    ]);
    expect(query("select * from cmpkg_plugins where plugin_id = 'app'")).toEqual([]);
  });
});
