import { existsSync } from 'node:fs';
import { appendFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { SqliteDialect } from '@cmpkg/dialect-sqlite';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli, tempProject } from '../test-support.js';

let project: { dir: string; cleanup: () => Promise<void> };
let db: string;
let cli: (...args: string[]) => ReturnType<typeof runCli>;

const CREATE_NOTES = `-- @id: 0001_create_notes
-- @name: Create notes
-- @version: 1.0.0

-- UP MIGRATION
CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL);
INSERT INTO notes (body) VALUES ('hello; world');

-- DOWN MIGRATION
DROP TABLE notes;
`;

const ADD_TAGS = `-- @id: 0002_add_tags
-- @name: Add tags
-- @version: 1.1.0
-- @dependencies: [0001_create_notes]

-- UP MIGRATION
CREATE TABLE tags (id INTEGER PRIMARY KEY, note_id INTEGER NOT NULL REFERENCES notes (id));

-- DOWN MIGRATION
DROP TABLE tags;
`;

beforeEach(async () => {
  project = await tempProject();
  db = path.join(project.dir, 'app.db');
  cli = (...args) => runCli(args, { cwd: project.dir });
  expect((await cli('init', '--plugin', 'notes', '--db', 'sqlite:./app.db')).code).toBe(0);
  await writeFile(path.join(project.dir, 'migrations', '0001_create_notes.sql'), CREATE_NOTES);
  await writeFile(path.join(project.dir, 'migrations', '0002_add_tags.sql'), ADD_TAGS);
});
afterEach(async () => {
  await project.cleanup();
});

describe('up / status / down against a real SQLite file', () => {
  it('plans and dry-runs without creating the database', async () => {
    const plan = await cli('plan');
    expect(plan.code).toBe(0);
    expect(plan.stdout).toContain("INSERT INTO notes (body) VALUES ('hello; world');");
    const dry = await cli('up', '--dry-run', '--json');
    expect(dry.code).toBe(0);
    const doc = JSON.parse(dry.stdout);
    expect(doc).toMatchObject({ ok: true, dryRun: true });
    expect(doc.plan.migrations.map((m: { id: string }) => m.id)).toEqual([
      '0001_create_notes',
      '0002_add_tags',
    ]);
    expect(doc.results.map((r: { status: string }) => r.status)).toEqual(['planned', 'planned']);
    expect(existsSync(db)).toBe(false);
  });

  it("resolves the config's relative database and migrations against the config file, from any cwd", async () => {
    const elsewhere = path.dirname(project.dir);
    const config = path.join(project.dir, 'cmpkg.config.json');
    const up = await runCli(['up', '--config', config], { cwd: elsewhere });
    expect(up.code, up.stderr).toBe(0);
    expect(existsSync(db)).toBe(true);
    expect(existsSync(path.join(elsewhere, 'app.db'))).toBe(false);
  });

  it('applies everything, then has nothing to do', async () => {
    const up = await cli('up', '--reason', 'first install');
    expect(up.stderr).toBe('');
    expect(up.code).toBe(0);
    expect(up.stdout).toMatch(/✔ 0001_create_notes\s+1\.0\.0\s+Create notes/);
    expect(up.stdout).toMatch(/✔ 0002_add_tags\s+1\.1\.0\s+Add tags/);
    expect(up.stdout).toContain('Applied 2 migrations');
    expect(existsSync(db)).toBe(true);

    const again = await cli('up');
    expect(again).toMatchObject({ code: 0, stderr: '' });
    expect(again.stdout).toBe('Nothing to do: notes is up to date (1.1.0)\n');

    const status = await cli('status', '--json');
    const report = JSON.parse(status.stdout);
    expect(report.counts).toMatchObject({ applied: 2, pending: 0 });
    expect(report.installedVersion).toBe('1.1.0');

    const history = await cli('history', '--json');
    const h = JSON.parse(history.stdout);
    expect(h.executions[0]).toMatchObject({ kind: 'up', status: 'succeeded', reason: 'first install' });
    expect(h.migrations).toHaveLength(2);
  });

  it('stops at a failing migration with exit 1 and reports partial progress', async () => {
    await writeFile(
      path.join(project.dir, 'migrations', '0003_broken.sql'),
      '-- @version: 1.2.0\n-- UP\nINSERT INTO nope VALUES (1);\n',
    );
    const up = await cli('up', '--json');
    expect(up.code).toBe(1);
    const doc = JSON.parse(up.stdout);
    expect(doc.ok).toBe(false);
    expect(doc.results.map((r: { status: string }) => r.status)).toEqual(['applied', 'applied', 'failed']);
    expect(doc.error).toMatchObject({ code: 'E_STEP_FAILED', category: 'failure' });
    expect(up.stderr).toMatch(/^error\[E_STEP_FAILED\]: .*no such table: nope\n$/);
  });

  it('exits 2 on a file that does not parse, and never creates the database', async () => {
    await writeFile(path.join(project.dir, 'migrations', '0003_bad.sql'), '-- @bogus: x\nSELECT 1;\n');
    for (const command of ['up', 'status', 'validate', 'plan']) {
      const r = await cli(command);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/^error\[E_UNKNOWN_HEADER\]: .*0003_bad\.sql:1/);
    }
    expect(existsSync(db)).toBe(false);
  });

  it('refuses drift with exit 3 naming the migration, and --repair accepts it', async () => {
    expect((await cli('up')).code).toBe(0);
    await appendFile(
      path.join(project.dir, 'migrations', '0001_create_notes.sql'),
      'CREATE INDEX ix ON notes (body);\n',
    );
    const validate = await cli('validate');
    expect(validate.code).toBe(3);
    expect(validate.stderr).toMatch(/^error\[E_DRIFT\]: .*0001_create_notes/);
    const up = await cli('up');
    expect(up.code).toBe(3);
    const status = await cli('status');
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/0001_create_notes .* applied DRIFT/);
    const repair = await cli('up', '--repair', '--json');
    expect(repair.code).toBe(0);
    expect(JSON.parse(repair.stdout)).toMatchObject({
      ok: true,
      repaired: ['0001_create_notes'],
      results: [],
    });
    expect((await cli('validate')).code).toBe(0);
    // Repaired once: the next run has nothing left to record.
    expect((await cli('up', '--repair')).stdout).toMatch(/^Nothing to do/);
  });

  it('rolls back the last migration, without asking when stdin is not a TTY', async () => {
    expect((await cli('up')).code).toBe(0);
    const dry = await cli('down', '--dry-run');
    expect(dry.stdout).toContain('DROP TABLE tags;');
    const down = await cli('down', '--reason', 'bad idea');
    expect(down.code).toBe(0);
    expect(down.stdout).toMatch(/✔ 0002_add_tags/);
    const status = JSON.parse((await cli('status', '--json')).stdout);
    expect(status.counts).toMatchObject({ applied: 1, pending: 1 });
  });

  it('asks on a TTY unless --yes; "no" changes nothing', async () => {
    expect((await cli('up')).code).toBe(0);
    const questions: string[] = [];
    const tty = (answer: boolean) => ({
      stdin: { isTTY: true },
      confirm: async (q: string) => {
        questions.push(q);
        return answer;
      },
    });
    const no = await runCli(['down', '--all'], { cwd: project.dir, io: tty(false) });
    expect(no.code).toBe(1);
    expect(no.stderr).toBe('error[E_CANCELLED]: rollback cancelled: nothing was changed\n');
    expect(questions[0]).toMatch(
      /^Roll back 2 migrations \(0002_add_tags, 0001_create_notes\) on sqlite:.*\? \[y\/N\] $/,
    );
    const yes = await runCli(['down', '--all', '--yes'], { cwd: project.dir, io: tty(false) });
    expect(yes.code).toBe(0);
    expect(questions).toHaveLength(1);
    expect(JSON.parse((await cli('status', '--json')).stdout).counts.applied).toBe(0);
  });

  it('refuses a rollback without down steps (exit 3) unless --force', async () => {
    await writeFile(
      path.join(project.dir, 'migrations', '0003_one_way.sql'),
      '-- @version: 1.2.0\n-- UP\nCREATE TABLE t (x INTEGER);\n',
    );
    expect((await cli('up')).code).toBe(0);
    const refused = await cli('down');
    expect(refused.code).toBe(3);
    expect(refused.stderr).toMatch(/^error\[E_ROLLBACK_REFUSED\]/);
    const forced = await cli('down', '--force', '--json');
    expect(forced.code).toBe(0);
    expect(JSON.parse(forced.stdout).results[0]).toMatchObject({
      migrationId: '0003_one_way',
      status: 'rolled-back',
    });
  });

  it('gives up on a held lock after --lock-timeout with exit 3, naming the holder', async () => {
    const dialect = new SqliteDialect();
    const conn = await dialect.connect(`sqlite:${db}`);
    const release = await dialect.acquireLock(conn, 'cmpkg', { timeoutMs: 1000, holder: 'test-holder' });
    try {
      const r = await cli('up', '--lock-timeout', '0.2');
      expect(r.code).toBe(3);
      expect(r.stderr).toMatch(/^error\[E_LOCK_TIMEOUT\]: .*test-holder/);
    } finally {
      await release();
      await conn.close();
    }
    expect((await cli('up')).code).toBe(0);
  });

  it('reports an unreachable database in one line, exit 1, stack only with --verbose', async () => {
    const bad = 'sqlite:./missing-dir/x.db';
    const r = await cli('up', '--db', bad);
    expect(r.code).toBe(1);
    expect(r.stderr.split('\n').filter(Boolean)).toHaveLength(1);
    expect(r.stderr).toMatch(/^error\[E_CONNECTION\]: /);
    const verbose = await cli('up', '--db', bad, '--verbose');
    expect(verbose.stderr).toMatch(/\n\s+at /);
  });
});
