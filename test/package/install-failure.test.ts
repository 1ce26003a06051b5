import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import type { PackResult } from '@cmpkg/packager';
import { afterAll, afterEach, beforeEach, expect, it } from 'vitest';
import { describeEngines } from '../helpers/engines.js';
import { type DatabaseFingerprint, fingerprint } from '../helpers/fingerprint.js';
import { kbIds } from './fixtures.js';
import {
  type FixtureName,
  factory,
  fixture,
  type InstallTarget,
  keys,
  openTarget,
  packSpec,
} from './install-helpers.js';

/**
 * "Any failure, including one during the data import, leaves the database exactly as before the
 * install", on every engine: SQLite and PostgreSQL roll one transaction back, MySQL/MariaDB (and any
 * engine with non-transactional steps, the `loose*` fixtures) undoes what committed. Checked with a
 * full fingerprint: every table's introspected schema and all its rows (cmpkg_executions, where
 * the failed attempt is recorded on purpose, and the lock table aside).
 */

afterAll(() => factory.cleanup());

const userTables = (names: string[]) => names.filter((n) => n !== 'cmpkg_lock');

describeEngines('a failed install leaves the database as it was', (engine) => {
  let t: InstallTarget;
  beforeEach(async () => {
    t = await openTarget(engine);
  });
  afterEach(async () => {
    await t?.close();
  });
  const snapshot = (): Promise<DatabaseFingerprint> => fingerprint(engine, t.db.url);

  /** A fresh install that fails: nothing at all is left, not the history tables, not an execution row. */
  async function failsFresh(name: FixtureName, cause: string) {
    const before = await snapshot();
    expect(Object.keys(before.tables)).toEqual([]);
    const result = await t.install(name);
    expect(result.error?.code, result.error?.message).toBe('E_INSTALL_FAILED');
    expect(result.error?.category).toBe('failure');
    expect(result.error?.details.cause).toBe(cause);
    expect((result.error?.cause as { code?: string } | undefined)?.code).toBe(cause);
    expect(result.restored).toBe(true);
    expect(result.executionId).toBeUndefined();
    expect(await snapshot()).toEqual(before);
    expect(userTables(await t.db.tableNames())).toEqual([]);
    return result;
  }

  /** An upgrade that fails: everything as before, plus one failed install row. */
  async function failsUpgrade(base: FixtureName, name: FixtureName, cause: string, extra = {}) {
    expect((await t.install(base)).error).toBeUndefined();
    const executions = await t.executions();
    const before = await snapshot();
    const result = await t.install(name, extra);
    expect(result.error?.code, result.error?.message).toBe('E_INSTALL_FAILED');
    expect(result.error?.details.cause).toBe(cause);
    expect(result.restored).toBe(true);
    expect(await snapshot()).toEqual(before);
    const after = await t.executions();
    expect(after.slice(0, executions.length)).toEqual(executions);
    expect(after.slice(executions.length)).toEqual([
      expect.objectContaining({ kind: 'install', status: 'failed', error: result.error?.message }),
    ]);
    expect(JSON.parse(after.at(-1)!.summary!)).toMatchObject({ restored: true, cause });
    expect(result.executionId).toBeGreaterThan(0);
    return result;
  }

  /** Installs a `loose` (compensated on every engine) 1.2.0 of `kb` with a broken down step. */
  async function installLoose120(broken: { brokenDown: string } | { brokenDownAfter: string }) {
    const pkg = await packSpec({ version: '1.2.0', key: keys.a, loose: true, ...broken });
    expect((await t.install(pkg)).error).toBeUndefined();
  }

  it('data import failure on a fresh install (a NULL for a NOT NULL column)', async () => {
    const result = await failsFresh('p100bad', 'E_DATA');
    expect(result.error?.message).toMatch(/kb_entries/);
  });

  it('data import failure on an upgrade with importData', async () => {
    await failsUpgrade('p100', 'p110bad', 'E_DATA', { importData: true });
    expect(await t.historyIds()).toEqual(kbIds('1.0.0'));
  });

  it('a failing migration step on a fresh install', async () => {
    const result = await failsFresh('p110fail', 'E_STEP_FAILED');
    expect(result.error?.message).toContain('0004_index');
  });

  it('a failing migration step on an upgrade', async () => {
    await failsUpgrade('p100', 'p110fail', 'E_STEP_FAILED');
    expect((await t.pluginRow())?.version).toBe('1.0.0');
  });

  it('a downgrade whose data import fails: the rolled-back migrations are back, records included', async () => {
    expect((await t.install('p100')).error).toBeUndefined();
    // p100bad is 1.0.0 with other contents: a downgrade target only once 1.2.0 is installed.
    if (engine === 'mysql') {
      // Compensated: the rolled-back migrations are applied again, which cannot bring back rows
      // their down steps dropped, so the install does not claim the database is as it was.
      expect((await t.install('p120')).error).toBeUndefined();
      const before = await snapshot();
      const result = await t.install('p100bad', { allowDowngrade: true, importData: true });
      expect(result.error?.code, result.error?.message).toBe('E_INSTALL_INCOMPLETE');
      expect(result.restored).toBe(false);
      expect(result.error?.details.left).toMatchObject({ reapplied: kbIds('1.2.0').slice(2) });
      // Here every row is derived, so schema, rows and history are in fact back.
      expect(await snapshot()).toEqual(before);
    } else {
      await failsUpgrade('p120', 'p100bad', 'E_DATA', { allowDowngrade: true, importData: true });
    }
    expect(await t.historyIds()).toEqual(kbIds('1.2.0'));
    expect(await t.db.count('kb_search')).toBe(2);
  });

  it('compensates on every engine when steps are not transactional (fresh and upgrade)', async () => {
    const fresh = await failsFresh('loose110fail', 'E_STEP_FAILED');
    expect(fresh.mode).toBe('compensate');
    const upgrade = await failsUpgrade('loose100', 'loose110fail', 'E_STEP_FAILED');
    expect(upgrade.mode).toBe('compensate');
  });

  it('reports E_INSTALL_INCOMPLETE, naming what is left, when undoing fails too', async () => {
    expect((await t.install('loose100')).error).toBeUndefined();
    const result = await t.install('loose110broken');
    expect(result.error?.code).toBe('E_INSTALL_INCOMPLETE');
    expect(result.error?.category).toBe('failure');
    expect(result.restored).toBe(false);
    expect(result.error?.details.cause).toBe('E_STEP_FAILED');
    expect(result.error?.details.left).toMatchObject({ applied: ['0003_tags'], missing: [] });
    expect(result.error?.message).toContain('0003_tags');
    // The failed attempt is on record.
    expect((await t.executions()).at(-1)).toMatchObject({ kind: 'install', status: 'failed' });
  });

  it('a history older than cmpkg_package_migrations: a compensated failure drops the table it added', async () => {
    expect((await t.install('loose100')).error).toBeUndefined();
    // A database whose history an older cmpkg wrote: the four tables of DESIGN §3.1 only.
    await t.connection.execute('DROP TABLE cmpkg_package_migrations');
    const before = await snapshot();
    const result = await t.install('loose110fail');
    expect(result.error?.code, result.error?.message).toBe('E_INSTALL_FAILED');
    expect(result.restored).toBe(true);
    expect(await snapshot()).toEqual(before);
    expect(await t.db.tableNames()).not.toContain('cmpkg_package_migrations');
  });

  it('a compensated failure after a migration without down steps: E_INSTALL_INCOMPLETE, its record kept', async () => {
    expect((await t.install('loose100')).error).toBeUndefined();
    const pkg = await packSpec({
      version: '1.1.0',
      key: keys.a,
      loose: true,
      failAt: '0004_index',
      noDown: '0003_tags',
    });
    const result = await t.install(pkg);
    expect(result.error?.code, result.error?.message).toBe('E_INSTALL_INCOMPLETE');
    expect(result.restored).toBe(false);
    expect(result.error?.details.left).toMatchObject({ applied: ['0003_tags'], missing: [] });
    expect(result.error?.message).toMatch(/0003_tags.*no down steps/);
    // The history still says what the database holds.
    expect(await t.db.tableNames()).toContain('kb_tags');
    expect(await t.historyIds()).toEqual([...kbIds('1.0.0'), '0003_tags']);
  });

  it('a compensated downgrade whose down step fails before running: the step journal is put back too', async () => {
    // The first down step of the downgrade fails (0006_search is rolled back first).
    await installLoose120({ brokenDown: '0006_search' });
    const before = await snapshot();
    const result = await t.install('loose100', { allowDowngrade: true });
    expect(result.error?.code, result.error?.message).toBe('E_INSTALL_FAILED');
    expect(result.error?.details.cause).toBe('E_STEP_FAILED');
    expect(result.restored).toBe(true);
    expect(await snapshot()).toEqual(before);
  });

  it('a compensated downgrade stopped half-way through a down: E_INSTALL_INCOMPLETE naming it', async () => {
    await installLoose120({ brokenDownAfter: '0005_summary' });
    const result = await t.install('loose100', { allowDowngrade: true });
    expect(result.error?.code, result.error?.message).toBe('E_INSTALL_INCOMPLETE');
    expect(result.restored).toBe(false);
    expect(result.error?.message).toMatch(/0005_summary.*half/);
  });

  it('a compensated downgrade that fails after its down steps ran does not claim the dropped rows are back', async () => {
    const installed = await packSpec({ version: '1.2.0', key: keys.a, loose: true, data: 'good' });
    const older = await packSpec({ version: '1.0.0', key: keys.a, loose: true, data: 'bad' });
    expect((await t.install(installed)).error).toBeUndefined();
    // A row the application wrote: the down step of 0006_search drops its table.
    await t.connection.execute("INSERT INTO kb_search (id, slug) VALUES (99, 'written-by-the-app')");
    const result = await t.install(older, { allowDowngrade: true, importData: true });
    expect(result.error?.code, result.error?.message).toBe('E_INSTALL_INCOMPLETE');
    expect(result.restored).toBe(false);
    expect(result.error?.details.cause).toBe('E_DATA');
    expect(result.error?.details.left).toMatchObject({
      applied: [],
      missing: [],
      reapplied: ['0003_tags', '0004_index', '0005_summary', '0006_search'],
    });
    // Schema and history are back; the application's row is not, and the error says so.
    expect(await t.historyIds()).toEqual(kbIds('1.2.0'));
    expect(await t.db.count('kb_search')).toBe(2);
    expect(result.error?.message).toMatch(/rows their down steps deleted are not/);
  });

  it('refuses hostile packages before touching the database: no table is created at all', async () => {
    const pkg = await fixture('p100');
    const dir = mkdtempSync(join(tmpdir(), 'cmpkg-hostile-install-'));
    try {
      for (const [name, bytes] of hostileVariants(pkg)) {
        const file = join(dir, `${name}.cmpkg`);
        writeFileSync(file, bytes);
        const refused = await t.refusal({ ...pkg, file });
        expect(refused.code, name).toMatch(/^E_PKG_/);
        expect(refused.category, name).toBe('input');
        expect(await t.db.tableNames(), name).toEqual([]);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** A flipped byte inside a data entry (a valid gzip and tar, a wrong digest), and a truncated archive. */
function hostileVariants(pkg: PackResult): Array<[string, Buffer]> {
  const archive = readFileSync(pkg.file);
  const tar = gunzipSync(archive);
  const at = tar.indexOf('Hello World');
  if (at < 0) throw new Error('fixture: the data entry was not found in the archive');
  const flipped = Buffer.from(tar);
  flipped[at] = flipped[at]! ^ 0x20;
  return [
    ['flipped-data-byte', gzipSync(flipped)],
    ['truncated', archive.subarray(0, Math.floor(archive.length / 2))],
  ];
}
