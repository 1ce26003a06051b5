import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, expect, it } from 'vitest';
import { cliIsBuilt, describeRun, parseJsonOutput, runCli } from '../helpers/cli.js';
import { createTestDatabase, describeEngines, type TestDatabase } from '../helpers/engines.js';
import { fingerprint } from '../helpers/fingerprint.js';
import { cmpkgOk, pack } from '../helpers/packages.js';
import { copySamplePlugin, removeTempDirs, sampleMigrationIds, sampleVersions } from '../helpers/project.js';
import { type RunningRegistry, startRegistry } from '../helpers/registry.js';

/**
 * The registry end to end, every program a real process: an author generates a key, packs three
 * versions of the sample plugin and publishes them to a running registry with a token; a host
 * installs by semver range on every engine — `sample@^1` → 1.1.0, `sample@^2` → the upgrade to
 * 2.0.0, `sample@^1` again → a refused downgrade — and a download whose bytes were tampered with
 * on the registry's disk is refused with the database untouched and no temporary file left.
 */

let registry: RunningRegistry;
/** The author's workspace: keys and archives. Also the host's working directory (it has no config). */
let work: string;
let publisher: { keyId: string; encoded: string };
/** What `cmpkg publish --json` answered for each version. */
const published: Record<string, { integrity: string; digest: string; size: number; keyId: string }> = {};

beforeAll(async () => {
  if (!cliIsBuilt()) throw new Error('build the CLI first: pnpm --filter @cmpkg/cli build');
  registry = await startRegistry();
  const token = await registry.createToken('alice');
  work = mkdtempSync(join(tmpdir(), 'cmpkg-e2e-registry-install-'));
  const keygen = await cmpkgOk(['keygen', '--out', join(work, 'publisher'), '--json'], work);
  const key = parseJsonOutput<{ keyId: string; publicKey: string; secretKeyFile: string }>(keygen);
  publisher = { keyId: key.keyId, encoded: key.publicKey };
  const author = copySamplePlugin();
  for (const version of Object.keys(sampleVersions)) {
    const file = await pack(author, ['--key', key.secretKeyFile, '--version', version, '--out-dir', work]);
    const args = ['publish', file, '--registry', registry.url, '--json'];
    const result = await runCli(args, { cwd: work, env: { CMPKG_TOKEN: token } });
    expect(result.code, describeRun(args, result)).toBe(0);
    published[version] = parseJsonOutput(result);
  }
}, 120_000);
afterAll(async () => {
  await registry?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
  removeTempDirs();
});

/** The blob of a published version on the registry's disk (content-addressed by its sha256). */
function blobOf(version: string): string {
  const hex = published[version]?.digest.replace(/^sha256:/, '') ?? '';
  const file = join(registry.dataDir, 'blobs', 'sha256', hex.slice(0, 2), `${hex}.cmpkg`);
  expect(existsSync(file), `the blob of ${version} is at ${file}`).toBe(true);
  return file;
}

interface InstallJson {
  ok: boolean;
  action: string;
  fromVersion: string | null;
  toVersion: string;
  keyId: string;
  migrations: Array<{ migrationId: string; status: string }>;
  registry: { url: string; spec: string; resolved: string; integrity: string };
}

describeEngines('cmpkg install NAME@RANGE from a running registry', (engine) => {
  let db: TestDatabase;
  /** The CLI's TMPDIR: the download and the extraction go there, and must be gone afterwards. */
  let tmp: string;
  beforeEach(() => {
    tmp = mkdtempSync(join(tmpdir(), 'cmpkg-e2e-tmpdir-'));
  });
  afterEach(async () => {
    await db?.drop();
    rmSync(tmp, { recursive: true, force: true });
  });

  const install = async (spec: string, extra: string[] = []) => {
    const args = ['install', spec, '--registry', registry.url, '--db', db.url, ...extra];
    const result = await runCli(args, { cwd: work, env: { TMPDIR: tmp } });
    // Whatever happened, nothing is left behind in TMPDIR.
    expect(readdirSync(tmp), `TMPDIR after: ${describeRun(args, result)}`).toEqual([]);
    return { args, result };
  };
  const plugins = async () =>
    (await db.query('SELECT plugin_id, version, key_id FROM cmpkg_plugins')).map((r) => ({ ...r }));
  /** Applied migrations with when and in which order they were applied: a re-run would change them. */
  const applied = async () =>
    (
      await db.query(
        "SELECT migration_id, version, installed_rank, applied_at FROM cmpkg_migrations WHERE status = 'applied' ORDER BY installed_rank",
      )
    ).map((r) => ({ ...r }));
  const snapshot = () => fingerprint(engine, db.url, { exclude: ['cmpkg_lock'] });

  it('sample@^1 installs 1.1.0, sample@^2 upgrades to 2.0.0 applying only 0005, sample@^1 again is refused', async () => {
    db = await createTestDatabase(engine);

    const first = await install('sample@^1');
    expect(first.result.code, describeRun(first.args, first.result)).toBe(0);
    expect(first.result.stdout).toContain(`Resolved sample@^1 → 1.1.0 from ${registry.url}\n`);
    expect(first.result.stdout).toMatch(/Install sample \(none\) → 1\.1\.0 on /);
    expect(first.result.stdout).toMatch(/Installed sample \(none\) → 1\.1\.0 on .* in /);
    expect(first.result.stderr).toBe('');
    expect(await plugins()).toEqual([{ plugin_id: 'sample', version: '1.1.0', key_id: publisher.encoded }]);
    const v11 = await applied();
    expect(v11.map((m) => [m.migration_id, m.version])).toEqual([
      ['0001_create_entries', '1.0.0'],
      ['0002_add_tags', '1.0.0'],
      ['0003_seed_categories', '1.0.0'],
      ['0004_entry_slugs', '1.1.0'],
    ]);
    const userTables = (await db.tableNames()).filter((t) => !t.startsWith('cmpkg_'));
    expect(userTables.sort()).toEqual(['categories', 'entries', 'entry_tags', 'tags']);

    const upgrade = await install('sample@^2', ['--json']);
    expect(upgrade.result.code, describeRun(upgrade.args, upgrade.result)).toBe(0);
    const doc = parseJsonOutput<InstallJson>(upgrade.result);
    expect(doc).toMatchObject({
      ok: true,
      action: 'upgrade',
      fromVersion: '1.1.0',
      toVersion: '2.0.0',
      keyId: publisher.keyId,
      registry: {
        url: registry.url,
        spec: '^2',
        resolved: '2.0.0',
        integrity: published['2.0.0']?.integrity,
      },
    });
    expect(doc.migrations.map((m) => [m.migrationId, m.status])).toEqual([
      ['0005_entry_revisions', 'applied'],
    ]);
    expect(await plugins()).toEqual([{ plugin_id: 'sample', version: '2.0.0', key_id: publisher.encoded }]);
    const v2 = await applied();
    // The four migrations of 1.1.0 are the same rows as before (not run again); 0005 is new.
    expect(v2.slice(0, 4)).toEqual(v11);
    expect(v2.map((m) => m.migration_id)).toEqual([...sampleMigrationIds]);
    expect(await db.tableNames()).toContain('entry_revisions');
    const executions = await db.query(
      "SELECT status, from_version, to_version FROM cmpkg_executions WHERE kind = 'install' ORDER BY id",
    );
    expect(executions).toEqual([
      { status: 'succeeded', from_version: null, to_version: '1.1.0' },
      { status: 'succeeded', from_version: '1.1.0', to_version: '2.0.0' },
    ]);

    const before = await snapshot();
    const older = await install('sample@^1');
    expect(older.result.code, describeRun(older.args, older.result)).toBe(3);
    expect(older.result.stdout).toContain(`Resolved sample@^1 → 1.1.0 from ${registry.url}`);
    expect(older.result.stderr).toMatch(/^error\[E_DOWNGRADE\]: .*2\.0\.0 is installed.*--allow-downgrade/m);
    expect(await snapshot()).toEqual(before);
  });

  it('a download tampered with on the registry is refused: exit 3, database unchanged, no temp file', async () => {
    db = await createTestDatabase(engine);
    const first = await install('sample@^1');
    expect(first.result.code, describeRun(first.args, first.result)).toBe(0);

    const blob = blobOf('2.0.0');
    const original = readFileSync(blob);
    const tampered = Buffer.from(original);
    const at = Math.floor(tampered.length / 2);
    tampered[at] = (tampered[at] ?? 0) ^ 0xff;
    const before = await snapshot();
    writeFileSync(blob, tampered);
    try {
      const refused = await install('sample@^2');
      expect(refused.result.code, describeRun(refused.args, refused.result)).toBe(3);
      expect(refused.result.stderr).toMatch(
        new RegExp(
          `^error\\[E_REGISTRY_INTEGRITY\\]: sample-2\\.0\\.0\\.cmpkg from ${registry.url}/sample/-/sample-2\\.0\\.0\\.cmpkg does not match the integrity the registry published \\(expected ${escapeRegExp(published['2.0.0']?.integrity ?? '')}, got sha512-[A-Za-z0-9+/=]+\\); the download was deleted\\n$`,
        ),
      );
      expect(refused.result.stdout).not.toMatch(/Upgrade sample/);
      const json = await install('sample@^2', ['--json']);
      expect(json.result.code).toBe(3);
      expect(parseJsonOutput(json.result)).toMatchObject({
        ok: false,
        error: { code: 'E_REGISTRY_INTEGRITY', category: 'safety' },
      });
      expect(await snapshot()).toEqual(before);
      expect(await plugins()).toEqual([{ plugin_id: 'sample', version: '1.1.0', key_id: publisher.encoded }]);
    } finally {
      writeFileSync(blob, original);
    }
    // The same command with the registry's bytes intact goes through: the refusal was the tampering.
    const after = await install('sample@^2');
    expect(after.result.code, describeRun(after.args, after.result)).toBe(0);
    expect(after.result.stdout).toMatch(/Upgraded sample 1\.1\.0 → 2\.0\.0/);
  });
});

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
