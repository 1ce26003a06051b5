import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { cliIsBuilt, describeRun, parseJsonOutput, runCli } from '../helpers/cli.js';
import { createTestDatabase, describeEngines, type TestDatabase } from '../helpers/engines.js';
import { fingerprint } from '../helpers/fingerprint.js';
import { PACKED_DATA, type PackageFixture, pack, packageFixture } from '../helpers/packages.js';
import { copySamplePlugin, removeTempDirs, sampleMigrationIds } from '../helpers/project.js';

/**
 * `cmpkg install` on every engine, as a host runs it: a first install of 1.0.0 (with its data),
 * the upgrade to 2.0.0, refusals that leave the database as it was, and a downgrade. Results are
 * read from the database directly, and `cmpkg status` with the plugin's own files must agree.
 */

let fx: PackageFixture;
/** Sample 2.1.0 by the publisher: 2.0.0 plus a migration that fails when it runs (not when planned). */
let broken: string;

beforeAll(async () => {
  if (!cliIsBuilt()) throw new Error('build the CLI first: pnpm --filter @cmpkg/cli build');
  fx = await packageFixture();
  const project = copySamplePlugin();
  project.write(
    '0006_broken.sql',
    '-- @version: 2.1.0\n\n-- UP MIGRATION\nINSERT INTO no_such_table (id) VALUES (1);\n\n-- DOWN MIGRATION\nSELECT 1;\n',
  );
  broken = await pack(project, ['--key', fx.keys.publisher.key, '--version', '2.1.0', '--out-dir', fx.work]);
}, 120_000);
afterAll(() => {
  fx?.cleanup();
  removeTempDirs();
});

interface StatusJson {
  installedVersion: string | null;
  migrations: Array<{ id: string; state: string; drift: boolean }>;
  counts: Record<string, number>;
}

describeEngines('cmpkg install: 1.0.0, then the upgrade to 2.0.0', (engine) => {
  let db: TestDatabase;
  afterEach(async () => db?.drop());

  const install = (args: string[]) => runCli(['install', ...args, '--db', db.url], { cwd: fx.work });
  /** `cmpkg status` with the sample plugin's files (the project's config) against the test database. */
  const status = async () => {
    const args = ['status', '--json', '--config', 'cmpkg.config.json', '--db', db.url];
    const result = await runCli(args, { cwd: fx.project.dir });
    expect(result.code, describeRun(args, result)).toBe(0);
    return parseJsonOutput<StatusJson>(result);
  };
  const userTables = async () => (await db.tableNames()).filter((t) => !t.startsWith('cmpkg_'));
  const plugins = async () =>
    (await db.query('SELECT plugin_id, version, key_id FROM cmpkg_plugins')).map((r) => ({ ...r }));
  /**
   * Everything the tests compare before and after a refused or failed install: every table's schema
   * and rows, the execution log included (a failed install adds one row there on purpose).
   */
  const snapshot = () => fingerprint(engine, db.url, { exclude: ['cmpkg_lock'] });
  const executions = () => db.count('cmpkg_executions');

  it('installs 1.0.0 with its rows, upgrades to 2.0.0, and status agrees', async () => {
    db = await createTestDatabase(engine);
    const first = await install([fx.packages.v1, '--trust-key', fx.keys.publisher.pub, '--json']);
    expect(first.code, describeRun(['install', '1.0.0'], first)).toBe(0);
    expect(parseJsonOutput(first)).toMatchObject({
      ok: true,
      action: 'install',
      fromVersion: null,
      toVersion: '1.0.0',
      keyId: fx.keys.publisher.keyId,
      pinned: true,
    });
    expect((await userTables()).sort()).toEqual(['categories', 'entries', 'entry_tags', 'tags']);
    for (const [table, rows] of Object.entries(PACKED_DATA)) expect(await db.count(table), table).toBe(rows);
    expect(await db.count('categories')).toBe(4);
    expect(await plugins()).toEqual([
      { plugin_id: 'sample', version: '1.0.0', key_id: fx.keys.publisher.encoded },
    ]);
    const v1 = await status();
    expect(v1.installedVersion).toBe('1.0.0');
    expect(v1.counts).toMatchObject({ applied: 3, pending: 2 });
    expect(v1.migrations.filter((m) => m.drift)).toEqual([]);

    const upgrade = await install([fx.packages.v2]);
    expect(upgrade.code, describeRun(['install', '2.0.0'], upgrade)).toBe(0);
    expect(upgrade.stdout).toMatch(/Upgrade sample 1\.0\.0 → 2\.0\.0 on /);
    expect(upgrade.stdout).toMatch(/0004_entry_slugs/);
    expect(upgrade.stdout).toMatch(/Upgraded sample 1\.0\.0 → 2\.0\.0 on .* in /);

    expect((await userTables()).sort()).toEqual([
      'categories',
      'entries',
      'entry_revisions',
      'entry_tags',
      'tags',
    ]);
    // 0004's transforms filled every slug; 0005 added the status and a first revision of every entry.
    const rows = await db.query(`SELECT id, title, slug, status FROM entries ORDER BY id`);
    expect(rows).toHaveLength(PACKED_DATA.entries);
    for (const row of rows) {
      expect(row.status).toBe('published');
      expect(String(row.slug)).toMatch(new RegExp(`^entry-${Number(row.id)}-—-`));
      expect(String(row.slug)).not.toContain(' ');
    }
    expect(await db.count('entry_revisions')).toBe(PACKED_DATA.entries);
    const [revision] = await db.query(
      'SELECT r.title AS revision_title, e.title AS entry_title, r.revision FROM entry_revisions r JOIN entries e ON e.id = r.entry_id WHERE r.entry_id = ?',
      [7],
    );
    expect(revision).toMatchObject({ revision_title: revision?.entry_title });
    expect(Number(revision?.revision)).toBe(1);

    expect(await plugins()).toEqual([
      { plugin_id: 'sample', version: '2.0.0', key_id: fx.keys.publisher.encoded },
    ]);
    const v2 = await status();
    expect(v2.installedVersion).toBe('2.0.0');
    expect(v2.counts).toMatchObject({ applied: sampleMigrationIds.length, pending: 0 });
    expect(v2.migrations.map((m) => [m.id, m.state, m.drift])).toEqual(
      sampleMigrationIds.map((id) => [id, 'applied', false]),
    );
    const executions = await db.query(
      "SELECT kind, status, from_version, to_version FROM cmpkg_executions WHERE kind = 'install' ORDER BY id",
    );
    expect(executions).toEqual([
      { kind: 'install', status: 'succeeded', from_version: null, to_version: '1.0.0' },
      { kind: 'install', status: 'succeeded', from_version: '1.0.0', to_version: '2.0.0' },
    ]);
  });

  it('refuses an older version, another key and --dry-run changes nothing; --allow-downgrade undoes 2.0.0', async () => {
    db = await createTestDatabase(engine);
    expect((await install([fx.packages.v1])).code).toBe(0);
    const dry = await install([fx.packages.v2, '--dry-run']);
    expect(dry.code, describeRun(['install', '--dry-run'], dry)).toBe(0);
    expect(dry.stdout).toMatch(/Dry run: nothing was changed/);
    expect(await userTables()).not.toContain('entry_revisions');
    expect((await install([fx.packages.v2])).code).toBe(0);

    const before = await snapshot();
    const older = await install([fx.packages.v11]);
    expect(older.code, describeRun(['install', '1.1.0'], older)).toBe(3);
    expect(older.stderr).toMatch(/error\[E_DOWNGRADE\]/);
    const other = await install([fx.packages.v2Other]);
    expect(other.code, describeRun(['install', 'other key'], other)).toBe(3);
    expect(other.stderr).toMatch(/error\[E_UNTRUSTED_KEY\]/);
    expect(await snapshot()).toEqual(before);

    const down = await install([fx.packages.v11, '--allow-downgrade', '--json']);
    expect(down.code, describeRun(['install', '--allow-downgrade'], down)).toBe(0);
    expect(parseJsonOutput(down)).toMatchObject({
      ok: true,
      action: 'downgrade',
      fromVersion: '2.0.0',
      toVersion: '1.1.0',
    });
    expect(await userTables()).not.toContain('entry_revisions');
    const columns = (await db.query('SELECT * FROM entries WHERE id = 1'))[0] ?? {};
    expect(Object.keys(columns).sort()).toEqual(['body', 'created_at', 'id', 'slug', 'title']);
    expect(await db.count('entries')).toBe(PACKED_DATA.entries);
    expect(await plugins()).toEqual([
      { plugin_id: 'sample', version: '1.1.0', key_id: fx.keys.publisher.encoded },
    ]);
    const after = await status();
    expect(after.installedVersion).toBe('1.1.0');
    expect(after.counts).toMatchObject({ applied: 4, pending: 1 });
  });

  it('a migration that fails puts the database back as it was: exit 1, saying so', async () => {
    db = await createTestDatabase(engine);
    expect((await install([fx.packages.v1])).code).toBe(0);
    const before = await fingerprint(engine, db.url);
    const executionsBefore = await executions();

    const failed = await install([broken]);
    expect(failed.code, describeRun(['install', '2.1.0 (broken)'], failed)).toBe(1);
    expect(failed.stdout).toMatch(
      /Install failed: the database was restored \(sample is still at 1\.0\.0 on /,
    );
    expect(failed.stderr).toMatch(/error\[E_INSTALL_FAILED\]/);
    expect(failed.stderr).toMatch(/no_such_table/);
    // 0004 and 0005 ran before 0006 failed; all of it is gone again (schema and rows).
    expect(await fingerprint(engine, db.url)).toEqual(before);
    // The one trace of the attempt: a failed install in the history that already existed.
    expect(await executions()).toBe(executionsBefore + 1);
    const [last] = await db.query(
      "SELECT kind, status, from_version FROM cmpkg_executions WHERE kind = 'install' ORDER BY id DESC",
    );
    expect(last).toEqual({ kind: 'install', status: 'failed', from_version: '1.0.0' });
    expect((await status()).installedVersion).toBe('1.0.0');

    const json = await install([broken, '--json']);
    expect(json.code).toBe(1);
    expect(parseJsonOutput(json)).toMatchObject({
      ok: false,
      action: 'upgrade',
      restored: true,
      error: { code: 'E_INSTALL_FAILED', category: 'failure' },
    });
  });

  it('accepts the successor key with the rotation statement signed by the pinned key', async () => {
    db = await createTestDatabase(engine);
    expect((await install([fx.packages.v1])).code).toBe(0);
    const refused = await install([fx.packages.v2Successor]);
    expect(refused.code, describeRun(['install', 'successor'], refused)).toBe(3);
    const rotated = await install([fx.packages.v2Successor, '--rotation', fx.keys.successor.rotation]);
    expect(rotated.code, describeRun(['install', '--rotation'], rotated)).toBe(0);
    expect(await plugins()).toEqual([
      { plugin_id: 'sample', version: '2.0.0', key_id: fx.keys.successor.encoded },
    ]);
    // The old key is no longer trusted for this plugin.
    const old = await install([fx.packages.v11, '--allow-downgrade']);
    expect(old.code, describeRun(['install', 'old key'], old)).toBe(3);
    expect(old.stderr).toMatch(/error\[E_UNTRUSTED_KEY\]/);
  });
});
