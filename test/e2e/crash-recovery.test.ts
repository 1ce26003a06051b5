import { copyFileSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { describeRun } from '../helpers/cli.js';
import { appliedIds, count, history, query, tableNames } from '../helpers/db.js';
import { createProject, removeTempDirs, sqlMigration } from '../helpers/project.js';

afterAll(removeTempDirs);

const BIG_ROWS = 3_000_000;
const SPIN = 20_000_000;

/** Which table each migration creates: the history must match the schema through this map. */
const TABLE_OF: Record<string, string[]> = {
  '0001_quick_a': ['qa'],
  '0002_quick_b': ['qb'],
  '0003_slow': ['big', 'big_check'],
  '0004_after': ['qc'],
};

/**
 * What a poller may see of a database another process is writing. Errors (no file yet, no history
 * table yet, SQLITE_BUSY while the writer spills pages) just mean "nothing visible yet".
 */
function peek(file: string): { applied: string[]; runningExecution: boolean } {
  const seen = { applied: [] as string[], runningExecution: false };
  if (!existsSync(file)) return seen;
  let db: Database.Database | undefined;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true, timeout: 100 });
    seen.applied = (
      db.prepare("SELECT migration_id FROM cmpkg_migrations WHERE status = 'applied'").all() as Array<{
        migration_id: string;
      }>
    ).map((r) => r.migration_id);
    seen.runningExecution =
      (
        db.prepare("SELECT COUNT(*) AS n FROM cmpkg_executions WHERE status = 'running'").get() as {
          n: number;
        }
      ).n > 0;
  } catch {
    // Not visible yet; poll again.
  } finally {
    db?.close();
  }
  return seen;
}

/** Bytes of the database file and its -wal/-journal companions. */
function bytesOnDisk(file: string): number {
  const base = basename(file);
  let total = 0;
  for (const name of readdirSync(dirname(file))) {
    if (name === base || name.startsWith(`${base}-`)) {
      try {
        total += statSync(join(dirname(file), name)).size;
      } catch {
        // Deleted between listing and stat (a journal that just finished).
      }
    }
  }
  return total;
}

/**
 * The state a crashed database recovers to, read without touching the original: SQLite rolls a hot
 * journal back (or replays a WAL) when it opens the file read-write, so we do that on a copy and
 * leave the original for `cmpkg up` to recover itself.
 */
function recoveredCopyState(file: string): { applied: string[]; tables: string[] } {
  const copyDir = mkdtempSync(join(tmpdir(), 'cmpkg-e2e-crash-copy-'));
  try {
    const base = basename(file);
    for (const name of readdirSync(dirname(file))) {
      if (name === base || name.startsWith(`${base}-`))
        copyFileSync(join(dirname(file), name), join(copyDir, name));
    }
    const copy = join(copyDir, base);
    // SQLite recovers lazily, on the first read of a read-write connection: read once to trigger it.
    const db = new Database(copy);
    db.prepare('SELECT COUNT(*) FROM sqlite_master').get();
    db.close();
    return { applied: appliedIds(copy), tables: tableNames(copy).filter((t) => !t.startsWith('cmpkg_')) };
  } finally {
    rmSync(copyDir, { recursive: true, force: true });
  }
}

describe('g. `cmpkg up` killed with SIGKILL mid-migration resumes cleanly', () => {
  it('the next up completes everything and the history matches the schema', async () => {
    const project = createProject({
      '0001_quick_a.sql': sqlMigration('CREATE TABLE qa (id INTEGER PRIMARY KEY);', {
        down: 'DROP TABLE qa;',
      }),
      '0002_quick_b.sql': sqlMigration('CREATE TABLE qb (id INTEGER PRIMARY KEY);', {
        down: 'DROP TABLE qb;',
      }),
      // Seconds of work: millions of rows written (uncommitted pages on disk when the kill lands),
      // then a CPU-bound statement that keeps the migration open a while longer.
      '0003_slow.sql': sqlMigration(
        `CREATE TABLE big (id INTEGER PRIMARY KEY, v TEXT NOT NULL);
INSERT INTO big (id, v)
  WITH RECURSIVE seq(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM seq WHERE x < ${BIG_ROWS})
  SELECT x, 'row ' || x FROM seq;
CREATE TABLE big_check (n INTEGER NOT NULL);
INSERT INTO big_check (n)
  WITH RECURSIVE spin(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM spin WHERE x < ${SPIN})
  SELECT COUNT(*) FROM spin;`,
        { down: 'DROP TABLE big_check;\nDROP TABLE big;', dependencies: ['0002_quick_b'] },
      ),
      '0004_after.sql': sqlMigration('CREATE TABLE qc (id INTEGER PRIMARY KEY);', {
        down: 'DROP TABLE qc;',
        dependencies: ['0003_slow'],
      }),
    });

    const run = project.start(['up']);
    let exited = false;
    void run.done.then(() => {
      exited = true;
    });

    // Kill while the slow migration is under way. Whichever of these shows first: the quick ones are
    // committed (+0.5 s), the slow one's rows are reaching the disk (the database and its WAL/journal
    // pass 8 MB, as only the big INSERT makes them), or the run has been recorded as running for a while
    // (should the engine commit several migrations at once, the first signal never comes).
    const startedAt = Date.now();
    let quickAt: number | undefined;
    let runningAt: number | undefined;
    for (;;) {
      expect(exited, `cmpkg up finished before it could be killed\n${JSON.stringify(run.output())}`).toBe(
        false,
      );
      const now = Date.now();
      const seen = peek(project.dbFile);
      if (seen.runningExecution) runningAt ??= now;
      if (seen.applied.includes('0001_quick_a') && seen.applied.includes('0002_quick_b')) quickAt ??= now;
      if (quickAt !== undefined && now - quickAt >= 500) break;
      if (bytesOnDisk(project.dbFile) > 8 * 1024 * 1024) break;
      if (runningAt !== undefined && now - runningAt >= 2_500) break;
      expect(now - startedAt, 'no sign of the run within 30 s').toBeLessThan(30_000);
      await sleep(25);
    }
    expect(run.child.kill('SIGKILL')).toBe(true);
    const killed = await run.done;
    expect(killed.signal, describeRun(['up'], killed)).toBe('SIGKILL');

    // The kill landed inside the slow migration, and what SQLite recovers to is consistent: the
    // slow migration is neither recorded nor half there.
    const crashed = recoveredCopyState(project.dbFile);
    expect(crashed.applied, 'the kill came too late: 0003_slow had already committed').not.toContain(
      '0003_slow',
    );
    expect(crashed.tables).not.toContain('big');
    expect(crashed.tables).not.toContain('big_check');
    for (const id of crashed.applied)
      for (const table of TABLE_OF[id] ?? []) expect(crashed.tables).toContain(table);

    const resume = await project.run(['up']);
    expect(resume.code, describeRun(['up'], resume)).toBe(0);

    // Everything applied exactly once, every recorded migration's tables exist, and no table exists
    // without its migration recorded.
    const rows = history(project.dbFile);
    expect(rows.map((r) => r.migration_id).sort()).toEqual(Object.keys(TABLE_OF));
    expect(rows.map((r) => r.status)).toEqual(['applied', 'applied', 'applied', 'applied']);
    const tables = tableNames(project.dbFile).filter((t) => !t.startsWith('cmpkg_'));
    expect(tables.sort()).toEqual(Object.values(TABLE_OF).flat().sort());
    // No partial data: the rows the killed run wrote were rolled back, and the resumed run wrote them once.
    expect(count(project.dbFile, 'big')).toBe(BIG_ROWS);
    expect(query(project.dbFile, 'SELECT n FROM big_check')).toEqual([{ n: SPIN }]);
    // The resumed run is recorded as a success.
    const succeeded = query(
      project.dbFile,
      "SELECT COUNT(*) AS n FROM cmpkg_executions WHERE kind = 'up' AND status = 'succeeded'",
    );
    expect(Number(succeeded[0]?.n)).toBeGreaterThanOrEqual(1);
    // The killed run's execution row is closed as interrupted, not left `running` forever.
    const open = query(project.dbFile, "SELECT COUNT(*) AS n FROM cmpkg_executions WHERE status = 'running'");
    expect(Number(open[0]?.n)).toBe(0);
    const interrupted = query(
      project.dbFile,
      "SELECT COUNT(*) AS n FROM cmpkg_executions WHERE status = 'failed' AND error LIKE 'interrupted%'",
    );
    expect(Number(interrupted[0]?.n)).toBe(1);
  }, 180_000);
});
