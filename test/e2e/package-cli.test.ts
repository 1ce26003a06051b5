import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allOutput, cliIsBuilt, describeRun, parseJsonOutput, repoRoot, runCli } from '../helpers/cli.js';
import { count, fileFingerprint, query, tableNames } from '../helpers/db.js';
import {
  cmpkgOk,
  PACKED_DATA,
  type PackageFixture,
  pack,
  packageFixture,
  sha256File,
} from '../helpers/packages.js';
import { removeTempDirs, sampleVersions } from '../helpers/project.js';
import { SAMPLE_ENTRIES, sampleWithRows } from '../helpers/sample-data.js';

/**
 * The package commands through the built CLI, as a publisher and a host run them: keygen, pack,
 * verify, inspect, and install into SQLite (the cross-engine install suite is package-install).
 */

let fx: PackageFixture;
const temps: string[] = [];

beforeAll(async () => {
  if (!cliIsBuilt()) throw new Error('build the CLI first: pnpm --filter @cmpkg/cli build');
  fx = await packageFixture();
}, 120_000);
afterAll(() => {
  fx?.cleanup();
  for (const dir of temps.splice(0)) rmSync(dir, { recursive: true, force: true });
  removeTempDirs();
});

function tempDir(label: string): string {
  const dir = mkdtempSync(join(tmpdir(), `cmpkg-e2e-${label}-`));
  temps.push(dir);
  return dir;
}

/** `cmpkg <args>` in the scratch directory (no config file there). */
const cmpkg = (args: string[], env?: Record<string, string>) =>
  runCli(args, { cwd: fx.work, ...(env ? { env } : {}) });

/** A copy of `file` with the byte in the middle flipped. */
function tampered(file: string, into: string): string {
  const bytes = readFileSync(file);
  const middle = Math.floor(bytes.length / 2);
  bytes[middle] = (bytes[middle] ?? 0) ^ 0xff;
  const out = join(into, 'tampered.cmpkg');
  writeFileSync(out, bytes);
  return out;
}

describe('cmpkg keygen', () => {
  it('writes the secret key with mode 0600 and the public key, and prints the key id and both paths', async () => {
    const dir = tempDir('keygen');
    const result = await cmpkgOk(['keygen', '--out', join(dir, 'team')], dir);
    expect(readdirSync(dir).sort()).toEqual(['team.key', 'team.pub']);
    expect(statSync(join(dir, 'team.key')).mode & 0o777).toBe(0o600);
    const pub = readFileSync(join(dir, 'team.pub'), 'utf8');
    const keyId = /^untrusted comment: minisign public key ([0-9A-F]{16})\n[A-Za-z0-9+/=]+\n$/.exec(pub)?.[1];
    expect(keyId, pub).toBeDefined();
    expect(result.stdout).toContain(`Generated key ${keyId}`);
    expect(result.stdout).toContain('team.key');
    expect(result.stdout).toContain('team.pub');

    const again = await runCli(['keygen', '--out', join(dir, 'team')], { cwd: dir });
    expect(again.code, describeRun(['keygen'], again)).toBe(2);
    expect(again.stderr).toMatch(/already exists/);
    expect(readFileSync(join(dir, 'team.pub'), 'utf8')).toBe(pub);
  });

  it('an encrypted key needs its passphrase: none or a wrong one exits 2, the right one packs', async () => {
    const dir = tempDir('encrypted');
    const base = join(dir, 'secret');
    const noPassphrase = await runCli(['keygen', '--out', base, '--encrypt'], { cwd: dir });
    expect(noPassphrase.code, describeRun(['keygen', '--encrypt'], noPassphrase)).toBe(2);
    expect(noPassphrase.stderr).toMatch(/CMPKG_KEY_PASSPHRASE/);
    expect(readdirSync(dir)).toEqual([]);

    await cmpkgOk(['keygen', '--out', base, '--encrypt'], dir, { CMPKG_KEY_PASSPHRASE: 'right horse' });
    expect(readFileSync(`${base}.key`, 'utf8')).not.toMatch(/"secretKey":\s*"[^"]{80,90}"/);
    const args = ['pack', '--key', `${base}.key`, '--version', '1.0.0', '--out', join(dir, 'p.cmpkg')];

    const missing = await fx.project.run(args);
    expect(missing.code, describeRun(args, missing)).toBe(2);
    expect(missing.stderr).toMatch(/E_KEY_PASSPHRASE/);
    const wrong = await runCli([...args, ...fx.project.globals], {
      cwd: fx.project.dir,
      env: { CMPKG_KEY_PASSPHRASE: 'wrong horse' },
    });
    expect(wrong.code, describeRun(args, wrong)).toBe(2);
    expect(wrong.stderr).toMatch(/E_KEY_PASSPHRASE.*wrong passphrase/);
    expect(existsSync(join(dir, 'p.cmpkg'))).toBe(false);

    const right = await runCli([...args, ...fx.project.globals], {
      cwd: fx.project.dir,
      env: { CMPKG_KEY_PASSPHRASE: 'right horse' },
    });
    expect(right.code, describeRun(args, right)).toBe(0);
    expect(existsSync(join(dir, 'p.cmpkg'))).toBe(true);
  });
});

describe('cmpkg pack', () => {
  it('packs the same inputs into byte-identical files', async () => {
    const dir = tempDir('reproducible');
    const first = await pack(fx.project, ['--key', fx.keys.publisher.key, '--out', join(dir, 'a.cmpkg')]);
    const second = await pack(fx.project, ['--key', fx.keys.publisher.key, '--out', join(dir, 'b.cmpkg')]);
    expect(sha256File(first)).toBe(sha256File(second));
    // And the fixture's 2.0.0, packed earlier into another directory, is the same file again.
    expect(sha256File(first)).toBe(sha256File(fx.packages.v2));
    // A different key is a different package.
    expect(sha256File(fx.packages.v2Other)).not.toBe(sha256File(fx.packages.v2));
  });

  it('--version packs the migrations up to that version and names the file <id>-<version>.cmpkg', async () => {
    expect(fx.packages.v11).toBe(join(fx.work, 'sample-1.1.0.cmpkg'));
    expect(fx.packages.v2).toBe(join(fx.work, 'sample-2.0.0.cmpkg'));
    const args = [
      'pack',
      '--key',
      fx.keys.publisher.key,
      '--version',
      '1.1.0',
      '--out',
      join(tempDir('v'), 'x.cmpkg'),
    ];
    const human = await fx.project.run(args);
    expect(human.code, describeRun(args, human)).toBe(0);
    expect(human.stdout).toMatch(/Packed sample@1\.1\.0 → /);
    expect(human.stdout).toContain(`signed by ${fx.keys.publisher.keyId}`);
    expect(human.stdout).toMatch(/4 migrations:/);
    for (const id of [...sampleVersions['1.0.0'], ...sampleVersions['1.1.0']])
      expect(human.stdout).toContain(id);
    expect(human.stdout).not.toContain('0005_entry_revisions');

    const json = await fx.project.run([...args.slice(0, -1), join(tempDir('v'), 'y.cmpkg'), '--json']);
    const doc = parseJsonOutput<{
      ok: boolean;
      file: string;
      size: number;
      keyId: string;
      digest: string;
      plugin: { id: string; version: string };
      migrations: Array<{ id: string; version: string; path: string; checksum: string }>;
      data: unknown[];
    }>(json);
    expect(doc).toMatchObject({
      ok: true,
      keyId: fx.keys.publisher.keyId,
      plugin: { id: 'sample', version: '1.1.0' },
    });
    expect(doc.size).toBe(statSync(doc.file).size);
    expect(doc.digest).toBe(`sha256:${sha256File(doc.file)}`);
    expect(doc.migrations.map((m) => [m.id, m.version])).toEqual([
      ['0001_create_entries', '1.0.0'],
      ['0002_add_tags', '1.0.0'],
      ['0003_seed_categories', '1.0.0'],
      ['0004_entry_slugs', '1.1.0'],
    ]);
    expect(doc.data).toEqual([]);
  });

  it('--with-data packs the rows of --tables from --db; the counts are in the output', async () => {
    const seeded = await sampleWithRows();
    const dir = tempDir('with-data');
    const args = [
      'pack',
      '--key',
      fx.keys.publisher.key,
      '--with-data',
      '--tables',
      'entries,entry_revisions',
      '--out',
      join(dir, 'data.cmpkg'),
    ];
    const result = await seeded.run(args);
    expect(result.code, describeRun(args, result)).toBe(0);
    expect(result.stdout).toContain(
      `data: entries (${SAMPLE_ENTRIES} rows), entry_revisions (${SAMPLE_ENTRIES} rows)`,
    );

    const inspect = parseJsonOutput<{ data: Array<{ table: string; rows: number; columns: string[] }> }>(
      await cmpkgOk(['inspect', join(dir, 'data.cmpkg'), '--json'], dir),
    );
    expect(inspect.data.map((d) => [d.table, d.rows])).toEqual([
      ['entries', SAMPLE_ENTRIES],
      ['entry_revisions', SAMPLE_ENTRIES],
    ]);
    expect(inspect.data[0]?.columns).toEqual(['id', 'title', 'body', 'created_at', 'slug', 'status']);
    // The fixture's 1.0.0 package carries the rows of its 1.0.0 database.
    const v1 = parseJsonOutput<{ data: Array<{ table: string; rows: number }> }>(
      await cmpkg(['inspect', fx.packages.v1, '--json']),
    );
    expect(Object.fromEntries(v1.data.map((d) => [d.table, d.rows]))).toEqual(PACKED_DATA);
  });

  it('bad options exit 2 naming the option and write no package', async () => {
    const dir = tempDir('bad-pack');
    const out = join(dir, 'bad.cmpkg');
    const cases: Array<[string[], RegExp]> = [
      [['--key', join(dir, 'missing.key')], /--key .*missing\.key.*cannot read/],
      [['--key', fx.keys.publisher.pub], /E_KEY_FORMAT/],
      [['--key', fx.keys.publisher.key, '--with-data'], /--with-data needs --tables/],
      [['--key', fx.keys.publisher.key, '--tables', 'entries'], /--tables only applies with --with-data/],
      [['--key', fx.keys.publisher.key, '--requires', 'auth'], /--requires takes <plugin-id>@<semver range>/],
      [['--key', fx.keys.publisher.key, '--rotation', join(dir, 'none.json')], /--rotation .*cannot read/],
      [['--key', fx.keys.publisher.key, '--out', out, '--out-dir', dir], /cannot be used with/],
    ];
    for (const [args, message] of cases) {
      const full = ['pack', ...args, ...(args.includes('--out') ? [] : ['--out', out])];
      const result = await fx.project.run(full);
      expect(result.code, describeRun(full, result)).toBe(2);
      expect(allOutput(result)).toMatch(message);
    }
    expect(readdirSync(dir)).toEqual([]);
  });

  it.skipIf(!existsSync('/usr/bin/minisign'))('signs cmpkg.json so that stock minisign verifies it', () => {
    const dir = tempDir('minisign');
    const tar = spawnSync('tar', ['-xzf', fx.packages.v2, '-C', dir, 'cmpkg.json', 'cmpkg.sig']);
    expect(tar.status, String(tar.stderr)).toBe(0);
    const minisign = (publicKey: string) =>
      spawnSync('/usr/bin/minisign', [
        '-V',
        '-m',
        join(dir, 'cmpkg.json'),
        '-x',
        join(dir, 'cmpkg.sig'),
        '-P',
        publicKey,
      ]);
    const ok = minisign(fx.keys.publisher.encoded);
    expect(ok.status, `${ok.stdout}${ok.stderr}`).toBe(0);
    expect(String(ok.stdout)).toMatch(/Signature and comment signature verified/);
    const wrongKey = minisign(fx.keys.other.encoded);
    expect(wrongKey.status).not.toBe(0);
  });
});

describe('cmpkg verify', () => {
  it('verifies a package: without a key, with the right key, and refuses another key (exit 3)', async () => {
    const plain = await cmpkg(['verify', fx.packages.v11]);
    expect(plain.code, describeRun(['verify'], plain)).toBe(0);
    expect(plain.stdout).toContain(
      `verified: sample@1.1.0, signed by ${fx.keys.publisher.keyId} (not checked against a key: pass --pubkey)`,
    );

    const trusted = await cmpkg(['verify', fx.packages.v11, '--pubkey', fx.keys.publisher.pub]);
    expect(trusted.code, describeRun(['verify', '--pubkey'], trusted)).toBe(0);
    expect(trusted.stdout).toContain(
      `verified: sample@1.1.0, signed by ${fx.keys.publisher.keyId} (trusted)`,
    );

    const other = await cmpkg(['verify', fx.packages.v11, '--pubkey', fx.keys.other.pub]);
    expect(other.code, describeRun(['verify', '--pubkey other'], other)).toBe(3);
    expect(other.stderr).toMatch(/error\[E_UNTRUSTED_KEY\]/);
    expect(other.stdout).toBe('');

    const json = parseJsonOutput<Record<string, unknown>>(
      await cmpkg(['verify', fx.packages.v11, '--pubkey', fx.keys.publisher.pub, '--json']),
    );
    expect(json).toMatchObject({
      ok: true,
      pluginId: 'sample',
      version: '1.1.0',
      keyId: fx.keys.publisher.keyId,
      trusted: true,
      digest: `sha256:${sha256File(fx.packages.v11)}`,
    });
    const refused = parseJsonOutput<{ ok: boolean; error: { code: string } }>(
      await cmpkg(['verify', fx.packages.v11, '--pubkey', fx.keys.other.pub, '--json']),
    );
    expect(refused).toMatchObject({ ok: false, error: { code: 'E_UNTRUSTED_KEY' } });
  });

  it('a package with a byte flipped in the middle exits 2 and leaves nothing in the temp dir', async () => {
    const dir = tempDir('tamper');
    const bad = tampered(fx.packages.v1, dir);
    const childTmp = join(dir, 'tmp');
    mkdirSync(childTmp);
    const result = await cmpkg(['verify', bad, '--json'], { TMPDIR: childTmp });
    expect(result.code, describeRun(['verify', bad], result)).toBe(2);
    const doc = parseJsonOutput<{ ok: boolean; error: { code: string; category: string; message: string } }>(
      result,
    );
    expect(doc.ok).toBe(false);
    expect(doc.error.code).toMatch(/^E_PKG_/);
    expect(doc.error.category).toBe('input');
    expect(doc.error.message).toContain('tampered.cmpkg');
    expect(readdirSync(childTmp)).toEqual([]);

    // The same file as an install: refused before the database is touched (not even created).
    const db = join(dir, 'never.db');
    const install = await cmpkg(['install', bad, '--db', `sqlite:${db}`], { TMPDIR: childTmp });
    expect(install.code, describeRun(['install', bad], install)).toBe(2);
    expect(existsSync(db)).toBe(false);
    expect(readdirSync(childTmp)).toEqual([]);
  });

  it('a file that is not there, or not a package, exits 2 naming it', async () => {
    const missing = await cmpkg(['verify', 'nope.cmpkg']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/nope\.cmpkg/);
    const dir = tempDir('not-a-package');
    writeFileSync(join(dir, 'text.cmpkg'), 'hello\n');
    const junk = await cmpkg(['verify', join(dir, 'text.cmpkg')]);
    expect(junk.code, describeRun(['verify', 'text.cmpkg'], junk)).toBe(2);
    expect(junk.stderr).toMatch(/error\[E_PKG_[A-Z_]+\]: .*text\.cmpkg/);
  });
});

describe('cmpkg inspect', () => {
  it('--json has the plugin, engines, signer, migrations with risk and steps, data and files', async () => {
    const doc = parseJsonOutput<{
      ok: boolean;
      plugin: { id: string; version: string; name?: string };
      engines: string[];
      requires: Record<string, string>;
      signer: { keyId: string; publicKey: string; trusted: boolean | null };
      createdAt: string;
      createdBy: string;
      digest: string;
      migrations: Array<{
        id: string;
        version: string;
        type: string;
        riskLevel: string;
        steps: { up: number; down: number };
        reversible: boolean;
      }>;
      maxRisk: string;
      data: Array<{ table: string; rows: number }>;
      files: Array<{ path: string; size: number; sha256: string }>;
    }>(await cmpkg(['inspect', fx.packages.v2, '--pubkey', fx.keys.publisher.pub, '--json']));
    expect(doc.ok).toBe(true);
    expect(doc.plugin).toMatchObject({ id: 'sample', version: '2.0.0', name: 'Sample knowledge base' });
    expect([...doc.engines].sort()).toEqual(['mysql', 'postgresql', 'sqlite']);
    expect(doc.requires).toEqual({});
    expect(doc.signer).toEqual({
      keyId: fx.keys.publisher.keyId,
      publicKey: fx.keys.publisher.encoded,
      trusted: true,
    });
    // Reproducible: the time comes from the migrations (0005's @timestamp), not from the clock.
    expect(doc.createdAt).toBe('2024-03-01T00:00:00.000Z');
    expect(doc.createdBy).toMatch(/^cmpkg\//);
    expect(doc.digest).toBe(`sha256:${sha256File(fx.packages.v2)}`);
    expect(
      doc.migrations.map((m) => [m.id, m.version, m.riskLevel, m.steps.up, m.steps.down, m.reversible]),
    ).toEqual([
      ['0001_create_entries', '1.0.0', 'low', 1, 1, true],
      ['0002_add_tags', '1.0.0', 'medium', 3, 2, true],
      ['0003_seed_categories', '1.0.0', 'low', 1, 1, true],
      ['0004_entry_slugs', '1.1.0', 'medium', 4, 2, true],
      ['0005_entry_revisions', '2.0.0', 'high', 1, 1, true],
    ]);
    expect(doc.maxRisk).toBe('high');
    expect(doc.data).toEqual([]);
    expect(doc.files.map((f) => f.path)).toEqual(
      [
        '0001_create_entries',
        '0002_add_tags',
        '0003_seed_categories',
        '0004_entry_slugs',
        '0005_entry_revisions',
      ].map((id, i) => `migrations/000${i + 1}-${id}.json`),
    );

    const unchecked = parseJsonOutput<{ signer: { trusted: boolean | null } }>(
      await cmpkg(['inspect', fx.packages.v2, '--json']),
    );
    expect(unchecked.signer.trusted).toBeNull();

    const other = await cmpkg(['inspect', fx.packages.v2, '--pubkey', fx.keys.other.pub]);
    expect(other.code, describeRun(['inspect', '--pubkey other'], other)).toBe(3);
    expect(other.stderr).toMatch(/error\[E_UNTRUSTED_KEY\]/);
    expect(other.stdout).toBe('');
  });

  it('prints a readable table of the package', async () => {
    const result = await cmpkg(['inspect', fx.packages.v1, '--pubkey', fx.keys.publisher.pub]);
    expect(result.code, describeRun(['inspect'], result)).toBe(0);
    const out = result.stdout;
    expect(out).toMatch(/^sample@1\.0\.0 — Sample knowledge base$/m);
    expect(out).toMatch(/engines\s+postgresql, mysql, sqlite$/m);
    expect(out).toMatch(new RegExp(`signer\\s+${fx.keys.publisher.keyId} \\(trusted\\)`));
    expect(out).toMatch(/created\s+2024-01-03 00:00:00Z by cmpkg\//);
    expect(out).toMatch(/ID\s+VERSION\s+TYPE\s+RISK\s+STEPS\s+REVERSIBLE/);
    expect(out).toMatch(/0002_add_tags\s+1\.0\.0\s+schema\s+medium\s+3 up \/ 2 down\s+yes/);
    expect(out).toMatch(/entries\s+120\s+id, title, body, created_at/);
    expect(out).toMatch(/entry_tags\s+40/);
    expect(out).toContain('data/entries.ndjson');
  });
});

describe('cmpkg install into SQLite', () => {
  const fresh = () => join(tempDir('install'), 'app.db');
  /** `cmpkg install <file> --db sqlite:<db> <options>` in the scratch directory. */
  const installArgs = (db: string, file: string, ...options: string[]) => [
    'install',
    file,
    '--db',
    `sqlite:${db}`,
    ...options,
  ];
  const install = (db: string, file: string, ...options: string[]) =>
    cmpkg(installArgs(db, file, ...options));
  /** The same, expecting exit 0. */
  const installOk = (db: string, file: string, ...options: string[]) =>
    cmpkgOk(installArgs(db, file, ...options), fx.work);

  it('installs 1.0.0 with its data, pins the key, and a second install of it does nothing', async () => {
    const db = fresh();
    const args = installArgs(db, fx.packages.v1, '--trust-key', fx.keys.publisher.pub);
    const result = await cmpkg(args);
    expect(result.code, describeRun(args, result)).toBe(0);
    expect(result.stdout).toMatch(/Install sample \(none\) → 1\.0\.0 on /);
    expect(result.stdout).toMatch(/0003_seed_categories/);
    expect(result.stdout).toMatch(/Installed sample \(none\) → 1\.0\.0 on .* in /);
    expect(result.stdout).toMatch(/data: 163 rows imported into 3 tables/);
    expect(result.stdout).toContain(`${fx.keys.publisher.keyId} (pinned: first install)`);
    expect(count(db, 'entries')).toBe(PACKED_DATA.entries);
    expect(count(db, 'entry_tags')).toBe(PACKED_DATA.entry_tags);
    expect(count(db, 'categories')).toBe(4);
    expect(query(db, 'SELECT plugin_id, version, key_id FROM cmpkg_plugins')).toEqual([
      { plugin_id: 'sample', version: '1.0.0', key_id: fx.keys.publisher.encoded },
    ]);

    const before = fileFingerprint(db);
    const again = await cmpkg(args);
    expect(again.code, describeRun(args, again)).toBe(0);
    expect(again.stdout).toMatch(/already installed/);
    expect(fileFingerprint(db)).toBe(before);
  });

  it('--dry-run prints the plan and changes nothing; --json parses', async () => {
    const db = fresh();
    const dry = await install(db, fx.packages.v1, '--dry-run');
    expect(dry.code, describeRun(['install', '--dry-run'], dry)).toBe(0);
    expect(dry.stdout).toMatch(/Plan for sample on sqlite: \(none\) → 1\.0\.0/);
    expect(dry.stdout).toMatch(/Dry run: nothing was changed/);
    expect(existsSync(db)).toBe(false);

    await installOk(db, fx.packages.v1);
    const before = fileFingerprint(db);
    const json = await install(db, fx.packages.v2, '--dry-run', '--json');
    expect(json.code, describeRun(['install', '--dry-run', '--json'], json)).toBe(0);
    const doc = parseJsonOutput<{
      ok: boolean;
      dryRun: boolean;
      action: string;
      fromVersion: string;
      toVersion: string;
      migrations: Array<{ migrationId: string; status: string }>;
    }>(json);
    expect(doc).toMatchObject({
      ok: true,
      dryRun: true,
      action: 'upgrade',
      fromVersion: '1.0.0',
      toVersion: '2.0.0',
    });
    expect(doc.migrations.map((m) => [m.migrationId, m.status])).toEqual([
      ['0004_entry_slugs', 'planned'],
      ['0005_entry_revisions', 'planned'],
    ]);
    expect(fileFingerprint(db)).toBe(before);
  });

  it('refuses an older version (exit 3); --allow-downgrade rolls the 2.0.0 changes back', async () => {
    const db = fresh();
    await installOk(db, fx.packages.v1);
    const upgrade = await installOk(db, fx.packages.v2, '--json');
    expect(parseJsonOutput(upgrade)).toMatchObject({ ok: true, action: 'upgrade', toVersion: '2.0.0' });
    expect(tableNames(db)).toContain('entry_revisions');
    expect(count(db, 'entry_revisions')).toBe(PACKED_DATA.entries);

    const before = fileFingerprint(db);
    const refused = await install(db, fx.packages.v11);
    expect(refused.code, describeRun(['install', '1.1.0'], refused)).toBe(3);
    expect(refused.stderr).toMatch(/error\[E_DOWNGRADE\]/);
    expect(fileFingerprint(db)).toBe(before);

    const args = installArgs(db, fx.packages.v11, '--allow-downgrade', '--yes');
    const down = await cmpkg(args);
    expect(down.code, describeRun(args, down)).toBe(0);
    expect(down.stdout).toMatch(/Downgraded sample 2\.0\.0 → 1\.1\.0/);
    expect(tableNames(db)).not.toContain('entry_revisions');
    const columns = query(db, "SELECT name FROM pragma_table_info('entries')").map((r) => r.name);
    expect(columns).toEqual(['id', 'title', 'body', 'created_at', 'slug']);
    expect(count(db, 'entries')).toBe(PACKED_DATA.entries);
    expect(query(db, 'SELECT version FROM cmpkg_plugins')).toEqual([{ version: '1.1.0' }]);
  });

  it('a package signed by another key exits 3; a rotation statement signed by the pinned key lets it in', async () => {
    const db = fresh();
    await installOk(db, fx.packages.v1);
    const before = fileFingerprint(db);
    for (const file of [fx.packages.v2Other, fx.packages.v2Successor]) {
      const refused = await install(db, file);
      expect(refused.code, describeRun(['install', file], refused)).toBe(3);
      expect(refused.stderr).toMatch(/error\[E_UNTRUSTED_KEY\]/);
    }
    // A rotation statement does not help a key it does not name.
    const wrongRotation = await install(db, fx.packages.v2Other, '--rotation', fx.keys.successor.rotation);
    expect(wrongRotation.code, describeRun(['install', 'other --rotation'], wrongRotation)).toBe(3);
    expect(fileFingerprint(db)).toBe(before);

    const args = installArgs(db, fx.packages.v2Successor, '--rotation', fx.keys.successor.rotation);
    const rotated = await cmpkg(args);
    expect(rotated.code, describeRun(args, rotated)).toBe(0);
    expect(rotated.stdout).toContain(fx.keys.successor.keyId);
    expect(query(db, 'SELECT version, key_id FROM cmpkg_plugins')).toEqual([
      { version: '2.0.0', key_id: fx.keys.successor.encoded },
    ]);
  });

  it('a rotation statement packed into the package works without --rotation', async () => {
    const db = fresh();
    await installOk(db, fx.packages.v1);
    const result = await install(db, fx.packages.v2SuccessorWithRotation, '--json');
    expect(result.code, describeRun(['install', 'with rotation'], result)).toBe(0);
    expect(parseJsonOutput(result)).toMatchObject({ ok: true, action: 'upgrade', rotated: true });
    expect(query(db, 'SELECT key_id FROM cmpkg_plugins')).toEqual([{ key_id: fx.keys.successor.encoded }]);
  });

  it('--trust-key that is not the signer refuses the first install (exit 3) and creates nothing', async () => {
    const db = fresh();
    const result = await install(db, fx.packages.v1, '--trust-key', fx.keys.other.pub);
    expect(result.code, describeRun(['install', '--trust-key other'], result)).toBe(3);
    expect(result.stderr).toMatch(/error\[E_UNTRUSTED_KEY\]/);
    expect(existsSync(db) ? tableNames(db) : []).toEqual([]);
  });
});

describe('the README demo', () => {
  it('node examples/demo.mjs runs the whole flow and exits 0', () => {
    const demo = spawnSync(process.execPath, [join(repoRoot, 'examples', 'demo.mjs')], {
      cwd: tmpdir(),
      env: { ...process.env, NO_COLOR: '1' },
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(demo.status, `${demo.stdout}\n${demo.stderr}`).toBe(0);
    for (const step of ['cmpkg keygen', 'cmpkg pack', 'cmpkg install', 'Upgraded sample 1.0.0 → 2.0.0']) {
      expect(demo.stdout).toContain(step);
    }
    const installed = join(repoRoot, '.demo', 'installed.db');
    expect(query(installed, 'SELECT version FROM cmpkg_plugins')).toEqual([{ version: '2.0.0' }]);
    expect(count(installed, 'entry_revisions')).toBe(0);
  }, 120_000);
});
