import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadPlugin, MIGRATION_LOCK_NAME, Migrator, parseJsonMigration } from '@cmpkg/core';
import { createRotation, type InstallEvent, openPackage } from '@cmpkg/packager';
import { createTransformRunner } from '@cmpkg/transform';
import { afterAll, afterEach, beforeEach, expect, it } from 'vitest';
import { describeEngines } from '../helpers/engines.js';
import { fingerprint } from '../helpers/fingerprint.js';
import { kbIds, PLUGIN } from './fixtures.js';
import { factory, fixture, type InstallTarget, keys, openTarget, packSpec } from './install-helpers.js';

/**
 * installPackage on every engine, against real databases: fresh installs, upgrades, no-ops,
 * downgrades (refused, and allowed with the stored documents), key pinning and rotation, requires,
 * engines, dry runs and backups. Everything is checked in the database itself.
 */

afterAll(() => factory.cleanup());

describeEngines('install from a package', (engine) => {
  let t: InstallTarget;
  beforeEach(async () => {
    t = await openTarget(engine);
  });
  afterEach(async () => {
    await t?.close();
  });
  const rows = async (sql: string) => (await t.db.query(sql)).map((r) => Object.values(r).map(String));
  /** Everything but the lock holder table (the lock itself writes it, outside any transaction). */
  const state = () => fingerprint(engine, t.db.url, { exclude: ['cmpkg_lock'] });
  /** The install's refusal, after checking that it left the database exactly as it was. */
  async function refusedUnchanged(...args: Parameters<InstallTarget['refusal']>) {
    const before = await state();
    const refused = await t.refusal(...args);
    expect(await state(), refused.message).toEqual(before);
    return refused;
  }

  it('installs a fresh database: schema, seed, data, records and one install execution', async () => {
    const pkg = await fixture('p100');
    const events: InstallEvent['type'][] = [];
    const result = await t.install('p100', { onEvent: (e) => events.push(e.type) });
    expect(result.error).toBeUndefined();
    expect(result).toMatchObject({
      pluginId: PLUGIN,
      action: 'install',
      fromVersion: null,
      toVersion: '1.0.0',
      keyId: keys.a.keyId,
      pinned: true,
      rotated: false,
      digest: pkg.digest,
      dryRun: false,
      mode: engine === 'mysql' ? 'compensate' : 'transaction',
    });
    expect(result.migrations.map((m) => [m.migrationId, m.status])).toEqual([
      ['0001_base', 'applied'],
      ['0002_seed', 'applied'],
    ]);
    expect(result.data?.written).toBe(5);
    expect(events[0]).toBe('verified');
    expect(events).toEqual(
      expect.arrayContaining(['plan', 'migration:start', 'migration:done', 'data:done']),
    );

    expect(await rows('select id, name from kb_categories order by id')).toEqual([
      ['1', 'general'],
      ['2', 'howto'],
      ['3', 'extra'],
    ]);
    expect(await rows('select id, category_id, title from kb_entries order by id')).toEqual([
      ['1', '1', 'Hello World'],
      ['2', '3', 'Second Entry'],
    ]);
    expect(await t.historyIds()).toEqual(kbIds('1.0.0'));
    const packaged = await t.db.query('select distinct package_digest from cmpkg_migrations');
    expect(packaged.map((r) => r.package_digest)).toEqual([pkg.digest]);
    const plugin = await t.pluginRow();
    expect(plugin).toMatchObject({ version: '1.0.0', package_digest: pkg.digest, key_id: keys.a.encoded });

    const installs = (await t.executions()).filter((e) => e.kind === 'install');
    expect(installs).toHaveLength(1);
    expect(installs[0]).toMatchObject({ status: 'succeeded', from: null, to: '1.0.0' });
    expect(JSON.parse(installs[0]!.summary!)).toMatchObject({
      action: 'install',
      digest: pkg.digest,
      keyId: keys.a.keyId,
      migrations: ['0001_base:applied', '0002_seed:applied'],
      data: { rows: 5, tables: { kb_categories: 3, kb_entries: 2 } },
    });
    expect(result.executionId).toBeGreaterThan(0);

    // The stored documents are the packed ones, and load as the applied migrations.
    const docs = await t.db.query(
      'select migration_id, checksum, document from cmpkg_package_migrations order by migration_id',
    );
    expect(docs.map((d) => d.migration_id)).toEqual(kbIds('1.0.0'));
    for (const d of docs) {
      expect(parseJsonMigration(String(d.document), 'stored.json').checksum).toBe(d.checksum);
    }
  });

  it('upgrades 1.0.0 → 1.2.0 by applying only the new migrations', async () => {
    expect((await t.install('p100')).error).toBeUndefined();
    const before = await t.db.query(
      "select migration_id, applied_at, installed_rank from cmpkg_migrations where migration_id in ('0001_base', '0002_seed') order by migration_id",
    );
    const pkg = await fixture('p120');
    const result = await t.install('p120');
    expect(result.error).toBeUndefined();
    expect(result).toMatchObject({
      action: 'upgrade',
      fromVersion: '1.0.0',
      toVersion: '1.2.0',
      pinned: false,
    });
    expect(result.migrations.map((m) => [m.migrationId, m.status])).toEqual(
      ['0003_tags', '0004_index', '0005_summary', '0006_search'].map((id) => [id, 'applied']),
    );
    // Without importData the package's rows are not imported again on an upgrade.
    expect(result.data).toBeUndefined();
    expect(await t.historyIds()).toEqual(kbIds('1.2.0'));
    // 1.0.0's migrations did not run again: same records, and the seed is not doubled.
    expect(
      await t.db.query(
        "select migration_id, applied_at, installed_rank from cmpkg_migrations where migration_id in ('0001_base', '0002_seed') order by migration_id",
      ),
    ).toEqual(before);
    expect(await t.db.count('kb_categories')).toBe(3);
    // The transform step filled the new table from the rows installed with 1.0.0.
    expect(await rows('select id, slug from kb_search order by id')).toEqual([
      ['1', 'hello world'],
      ['2', 'second entry'],
    ]);
    expect(await t.pluginRow()).toMatchObject({
      version: '1.2.0',
      package_digest: pkg.digest,
      key_id: keys.a.encoded,
    });
    expect((await t.executions()).filter((e) => e.kind === 'install').map((e) => [e.from, e.to])).toEqual([
      [null, '1.0.0'],
      ['1.0.0', '1.2.0'],
    ]);
    expect(await t.db.count('cmpkg_package_migrations')).toBe(6);
  });

  it('imports the data on an upgrade when asked (merge: existing rows are updated, not doubled)', async () => {
    expect((await t.install('p100plain')).error).toBeUndefined();
    expect(await t.db.count('kb_entries')).toBe(0);
    const result = await t.install('p110', { importData: true });
    expect(result.error).toBeUndefined();
    expect(result.data?.written).toBe(5);
    expect(await t.db.count('kb_categories')).toBe(3);
    expect(await t.db.count('kb_entries')).toBe(2);
  });

  it('does nothing when the same package is installed again', async () => {
    expect((await t.install('p100')).error).toBeUndefined();
    const before = await state();
    const again = await t.install('p100');
    expect(again.error).toBeUndefined();
    expect(again).toMatchObject({ action: 'none', fromVersion: '1.0.0', toVersion: '1.0.0', pinned: false });
    expect(again.migrations).toEqual([]);
    // Nothing written at all, not even an execution row.
    expect(await state()).toEqual(before);
  });

  it('the same package again applies what was rolled back since (not "none")', async () => {
    expect((await t.install('p110')).error).toBeUndefined();
    // 0004_index is rolled back outside the install; 0003_tags (also 1.1.0) keeps the record at 1.1.0.
    const pkg = await openPackage((await fixture('p110')).file);
    try {
      const plugin = await pkg.loadPlugin();
      const run = await new Migrator({ dialect: t.dialect, connection: t.connection, plugin }).down({
        steps: 1,
      });
      expect(run.error).toBeUndefined();
    } finally {
      await pkg.dispose();
    }
    expect((await t.pluginRow())?.version).toBe('1.1.0');
    const again = await t.install('p110');
    expect(again.error).toBeUndefined();
    expect(again.action).not.toBe('none');
    expect(again.migrations.map((m) => [m.migrationId, m.status])).toEqual([['0004_index', 'applied']]);
    expect(await t.historyIds()).toEqual(kbIds('1.1.0'));
  });

  it('refuses the same version with other contents (E_VERSION_CONFLICT)', async () => {
    expect((await t.install('p100')).error).toBeUndefined();
    const refused = await refusedUnchanged('p100bad');
    expect(refused.code).toBe('E_VERSION_CONFLICT');
    expect(refused.category).toBe('safety');
  });

  it('refuses a downgrade (E_DOWNGRADE, safety) and changes nothing', async () => {
    expect((await t.install('p120')).error).toBeUndefined();
    const refused = await refusedUnchanged('p110');
    expect(refused.code).toBe('E_DOWNGRADE');
    expect(refused.category).toBe('safety');
    expect(refused.message).toMatch(/1\.2\.0 is installed.*older 1\.1\.0/);
  });

  it("downgrades when allowed, running the newer migrations' down steps from the stored documents", async () => {
    expect((await t.install('p100')).error).toBeUndefined();
    expect((await t.install('p120')).error).toBeUndefined();
    const pkg = await fixture('p110');
    // p110 does not carry 0005/0006: their down steps come from cmpkg_package_migrations.
    expect(pkg.manifest.migrations.map((m) => m.id)).toEqual(kbIds('1.1.0'));
    const result = await t.install('p110', { allowDowngrade: true });
    expect(result.error).toBeUndefined();
    expect(result).toMatchObject({ action: 'downgrade', fromVersion: '1.2.0', toVersion: '1.1.0' });
    expect(result.migrations.map((m) => [m.migrationId, m.status])).toEqual([
      ['0006_search', 'rolled-back'],
      ['0005_summary', 'rolled-back'],
    ]);
    expect(await t.historyIds()).toEqual(kbIds('1.1.0'));
    expect(await t.db.tableNames()).not.toContain('kb_search');
    const columns = await t.db.query(
      engine === 'sqlite'
        ? "select name from pragma_table_info('kb_entries')"
        : engine === 'postgresql'
          ? "select column_name as name from information_schema.columns where table_name = 'kb_entries' and table_schema = 'public'"
          : "select column_name as name from information_schema.columns where table_name = 'kb_entries' and table_schema = database()",
    );
    expect(columns.map((c) => String(c.name))).not.toContain('summary');
    expect(await t.db.count('kb_entries')).toBe(2);
    expect(
      (await t.db.query('select migration_id from cmpkg_package_migrations order by migration_id')).map(
        (r) => r.migration_id,
      ),
    ).toEqual(kbIds('1.1.0'));
    expect(await t.pluginRow()).toMatchObject({ version: '1.1.0', package_digest: pkg.digest });

    // And up again: 1.2.0 re-applies them.
    const up = await t.install('p120');
    expect(up.error).toBeUndefined();
    expect(up.action).toBe('upgrade');
    expect(await t.historyIds()).toEqual(kbIds('1.2.0'));
  });

  it('refuses a downgrade whose newer migrations have no stored document (applied from files)', async () => {
    // 1.2.0 applied with `cmpkg up` from files: no documents were stored, no key pinned.
    const p120 = await fixture('p120');
    const source = join(p120.file, '..', '..', 'migrations');
    const run = await new Migrator({
      dialect: t.dialect,
      connection: t.connection,
      plugin: await loadPlugin({ dir: source, id: PLUGIN, version: '1.2.0' }),
      transformRunner: createTransformRunner(),
    }).up({ to: '1.2.0' });
    expect(run.error).toBeUndefined();
    const refused = await refusedUnchanged('p110', { allowDowngrade: true });
    expect(refused.code).toBe('E_ROLLBACK_REFUSED');
    expect(refused.message).toContain('0006_search');
  });

  it('pins the first signer and refuses another key without a rotation statement', async () => {
    expect((await t.install('p100')).error).toBeUndefined();
    const refused = await refusedUnchanged('p110b');
    expect(refused.code).toBe('E_UNTRUSTED_KEY');
    expect(refused.category).toBe('safety');
    expect(refused.message).toContain(keys.a.keyId);
    expect(refused.message).toContain(keys.b.keyId);
  });

  it('accepts a new key with a rotation statement in the package, and pins it', async () => {
    expect((await t.install('p100')).error).toBeUndefined();
    const result = await t.install('p110bRotated');
    expect(result.error).toBeUndefined();
    expect(result).toMatchObject({ action: 'upgrade', keyId: keys.b.keyId, pinned: true, rotated: true });
    expect((await t.pluginRow())?.key_id).toBe(keys.b.encoded);
    // The old key is no longer trusted for this plugin.
    const old = await packSpec({ version: '1.2.0', key: keys.a });
    expect((await t.refusal(old)).code).toBe('E_UNTRUSTED_KEY');
  });

  it('accepts a rotation statement given with the install (--rotation)', async () => {
    expect((await t.install('p100')).error).toBeUndefined();
    const statement = createRotation({ pluginId: PLUGIN, from: keys.a, to: keys.b });
    const result = await t.install('p110b', { rotation: [statement] });
    expect(result.error).toBeUndefined();
    expect(result.rotated).toBe(true);
    expect((await t.pluginRow())?.key_id).toBe(keys.b.encoded);
  });

  it('refuses a forged rotation statement (not signed by the pinned key)', async () => {
    expect((await t.install('p100')).error).toBeUndefined();
    // Made by key c, then relabelled as coming from the pinned key a.
    const forged = {
      ...createRotation({ pluginId: PLUGIN, from: keys.c, to: keys.b }),
      from: keys.a.encoded,
    };
    const refused = await refusedUnchanged('p110b', { rotation: [forged] });
    expect(refused.code).toBe('E_ROTATION_INVALID');
    expect((await t.pluginRow())?.key_id).toBe(keys.a.encoded);
  });

  it('requires the signer to be the --trust-key', async () => {
    const refused = await t.refusal('p100', { trustKey: keys.b });
    expect(refused.code).toBe('E_UNTRUSTED_KEY');
    expect(await t.db.tableNames()).toEqual([]);
    const result = await t.install('p100', { trustKey: keys.a });
    expect(result.error).toBeUndefined();
    expect(result.pinned).toBe(true);
  });

  it('checks requires against the installed plugins (prereleases only for ranges that name one)', async () => {
    const missing = await t.refusal('p100requires');
    expect(missing.code).toBe('E_REQUIRES_UNMET');
    expect(missing.message).toMatch(/"auth" \^2\.0\.0 \(not installed\)/);
    expect(await t.db.tableNames()).toEqual([]);

    expect((await t.install('auth150')).error).toBeUndefined();
    const old = await t.refusal('p100requires');
    expect(old.code).toBe('E_REQUIRES_UNMET');
    expect(old.details.unmet).toEqual([{ plugin: 'auth', range: '^2.0.0', installed: '1.5.0' }]);

    expect((await t.install('auth220beta')).error).toBeUndefined();
    expect((await t.refusal('p100requires')).details.unmet).toEqual([
      { plugin: 'auth', range: '^2.0.0', installed: '2.2.0-beta.1' },
    ]);

    // 2.1.0 < 2.2.0-beta.1 is a downgrade of auth.
    expect((await t.install('auth210', { allowDowngrade: true })).error).toBeUndefined();
    const ok = await t.install('p100requires');
    expect(ok.error).toBeUndefined();
    expect(ok.action).toBe('install');
  });

  it('refuses a package that does not support the engine, before touching the database', async () => {
    const others = (['postgresql', 'mysql', 'sqlite'] as const).filter((e) => e !== engine);
    const pkg = await packSpec({ version: '1.0.0', key: keys.a, engines: [...others] });
    const refused = await t.refusal(pkg);
    expect(refused.code).toBe('E_ENGINE_UNSUPPORTED');
    expect(refused.category).toBe('safety');
    expect(refused.message).toContain(engine);
    expect(await t.db.tableNames()).toEqual([]);
  });

  it('waits for the migration lock and gives up (E_LOCK_TIMEOUT) without changing anything', async () => {
    expect((await t.install('p100')).error).toBeUndefined();
    const other = await t.dialect.connect(t.db.url);
    try {
      const release = await t.dialect.acquireLock(other, MIGRATION_LOCK_NAME, {
        timeoutMs: 5_000,
        holder: 'another cmpkg',
      });
      try {
        const refused = await refusedUnchanged('p120', { lockTimeoutMs: 300 });
        expect(refused.code).toBe('E_LOCK_TIMEOUT');
      } finally {
        await release();
      }
    } finally {
      await other.close();
    }
    // Once the lock is free the same install goes through.
    expect((await t.install('p120')).error).toBeUndefined();
    expect(await t.historyIds()).toEqual(kbIds('1.2.0'));
  });

  it('dry run verifies and plans, and creates nothing (not even the history tables)', async () => {
    const result = await t.install('p120', { dryRun: true });
    expect(result.error).toBeUndefined();
    expect(result.dryRun).toBe(true);
    expect(result.plan?.migrations.map((m) => m.id)).toEqual(kbIds('1.2.0'));
    expect(result.migrations.every((m) => m.status === 'planned')).toBe(true);
    expect(await t.db.tableNames()).toEqual([]);
  });

  it('backs up before a migration that requires it (or refuses where the engine cannot)', async () => {
    expect((await t.install('p120')).error).toBeUndefined();
    if (engine === 'sqlite') {
      const result = await t.install('p200');
      expect(result.error).toBeUndefined();
      expect(result.backup?.location).toBeDefined();
      expect(existsSync(result.backup!.location)).toBe(true);
      expect((await t.executions()).filter((e) => e.kind === 'backup').map((e) => e.status)).toEqual([
        'succeeded',
      ]);
      return;
    }
    const refused = await refusedUnchanged('p200');
    expect(refused.code).toBe('E_BACKUP_REQUIRED');
    const skipped = await t.install('p200', { backup: 'skip' });
    expect(skipped.error).toBeUndefined();
    expect(await t.historyIds()).toEqual(kbIds('2.0.0'));
  });
});
