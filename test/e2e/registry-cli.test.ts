import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CliResult, cliIsBuilt, describeRun, parseJsonOutput, runCli } from '../helpers/cli.js';
import { cmpkgOk, pack } from '../helpers/packages.js';
import { copySamplePlugin, removeTempDirs } from '../helpers/project.js';
import { type RunningRegistry, startRegistry } from '../helpers/registry.js';

/**
 * The registry commands of the CLI as subprocesses against a running registry: publish and its
 * refusals, search, info, deprecate, yank (and what installs by range then pick), keys, dist-tags,
 * and the install errors (unknown plugin, invalid range, no match, unreachable registry). The tests
 * build on each other in order: one registry, one author, one plugin.
 */

let registry: RunningRegistry;
let work: string;
let tokens: { alice: string; bob: string };
let keys: { publisher: KeyFiles; other: KeyFiles; next: KeyFiles };
let archives: { v1: string; v11: string; v2: string; v2Other: string };

interface KeyFiles {
  key: string;
  pub: string;
  keyId: string;
}

beforeAll(async () => {
  if (!cliIsBuilt()) throw new Error('build the CLI first: pnpm --filter @cmpkg/cli build');
  // Alice makes some 25 writes within a minute here; the rate limiter has its own tests.
  registry = await startRegistry({ env: { REGISTRY_PUBLISH_RATE_LIMIT: '1000' } });
  tokens = { alice: await registry.createToken('alice'), bob: await registry.createToken('bob') };
  work = mkdtempSync(join(tmpdir(), 'cmpkg-e2e-registry-cli-'));
  const keygen = async (name: string): Promise<KeyFiles> => {
    const r = await cmpkgOk(['keygen', '--out', join(work, name), '--json'], work);
    const doc = parseJsonOutput<{ keyId: string; secretKeyFile: string; publicKeyFile: string }>(r);
    return { key: doc.secretKeyFile, pub: doc.publicKeyFile, keyId: doc.keyId };
  };
  keys = { publisher: await keygen('publisher'), other: await keygen('other'), next: await keygen('next') };
  const author = copySamplePlugin();
  const packed = (version: string, key: KeyFiles, out: string) =>
    pack(author, ['--key', key.key, '--version', version, '--out', join(work, out)]);
  archives = {
    v1: await packed('1.0.0', keys.publisher, 'sample-1.0.0.cmpkg'),
    v11: await packed('1.1.0', keys.publisher, 'sample-1.1.0.cmpkg'),
    v2: await packed('2.0.0', keys.publisher, 'sample-2.0.0.cmpkg'),
    v2Other: await packed('2.0.0', keys.other, 'other-2.0.0.cmpkg'),
  };
}, 120_000);
afterAll(async () => {
  await registry?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
  removeTempDirs();
});

/** Runs `cmpkg ...args` in the work dir; `token` becomes CMPKG_TOKEN. */
function cmpkg(
  args: string[],
  options: { token?: string; env?: Record<string, string> } = {},
): Promise<CliResult> {
  const env: Record<string, string> = { ...options.env };
  if (options.token !== undefined) env.CMPKG_TOKEN = options.token;
  return runCli(args, { cwd: work, env });
}

/** `cmpkg ...args --registry URL`, expecting `code`, with the whole output in the failure message. */
async function expectRun(
  code: number,
  args: string[],
  options: { token?: string; env?: Record<string, string> } = {},
): Promise<CliResult> {
  const full = [...args, '--registry', registry.url];
  const result = await cmpkg(full, options);
  expect(result.code, describeRun(full, result)).toBe(code);
  return result;
}

/** The packument as the registry serves it (status and body), straight over HTTP. */
async function packument(): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${registry.url}/sample`);
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** Every file under the registry's blob store. */
function blobs(): string[] {
  const root = join(registry.dataDir, 'blobs', 'sha256');
  if (!existsSync(root)) return [];
  return readdirSync(root, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.cmpkg'));
}

/** A fresh SQLite database URL for an install (a new host each time). */
function freshDb(): string {
  return `sqlite:${join(mkdtempSync(join(work, 'host-')), 'app.db')}`;
}

describe('cmpkg publish', () => {
  it('refuses without a registry, a token, a valid token or a sound archive, and the registry keeps nothing', async () => {
    const noRegistry = await cmpkg(['publish', archives.v1], { token: tokens.alice });
    expect(noRegistry.code, describeRun(['publish'], noRegistry)).toBe(2);
    expect(noRegistry.stderr).toBe(
      'error[E_USAGE]: cmpkg publish needs --registry URL (or CMPKG_REGISTRY, or "registry" in cmpkg.config.json)\n',
    );

    const noToken = await expectRun(2, ['publish', archives.v1]);
    expect(noToken.stderr).toBe(
      'error[E_USAGE]: cmpkg publish needs a registry token: set the CMPKG_TOKEN environment variable\n',
    );

    const wrongToken = 'cmpkg_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
    const unauthorized = await expectRun(3, ['publish', archives.v1], { token: wrongToken });
    expect(unauthorized.stderr).toMatch(/^error\[E_REGISTRY_UNAUTHORIZED\]: /);
    expect(`${unauthorized.stdout}${unauthorized.stderr}`).not.toContain(wrongToken);

    // A damaged archive is refused here: the registry never hears of it.
    const damaged = join(work, 'damaged-1.0.0.cmpkg');
    const bytes = readFileSync(archives.v1);
    bytes[bytes.length - 20] = (bytes[bytes.length - 20] ?? 0) ^ 0xff;
    writeFileSync(damaged, bytes);
    const bad = await expectRun(2, ['publish', damaged, '--json'], { token: tokens.alice });
    expect(parseJsonOutput(bad)).toMatchObject({ ok: false, error: { category: 'input' } });
    expect(parseJsonOutput<{ error: { code: string } }>(bad).error.code).toMatch(/^E_PKG_/);
    const notAnArchive = join(work, 'notes.cmpkg');
    writeFileSync(notAnArchive, 'hello');
    const junk = await expectRun(2, ['publish', notAnArchive], { token: tokens.alice });
    expect(junk.stderr).toMatch(/^error\[E_PKG_FORMAT\]: /);

    expect((await packument()).status).toBe(404);
    expect(blobs()).toEqual([]);
  });

  it('publishes 1.0.0, 1.1.0 and 2.0.0; a version is never replaced; owner and key are enforced', async () => {
    const first = await expectRun(0, ['publish', archives.v1], { token: tokens.alice });
    expect(first.stdout).toMatch(
      new RegExp(`^Published sample@1\\.0\\.0 to ${registry.url} \\(integrity sha512-[A-Za-z0-9+/]+=*\\)\\n`),
    );
    expect(first.stdout).toMatch(
      new RegExp(`signer +${keys.publisher.keyId} \\(registered for the plugin: first publish\\)`),
    );
    expect(first.stdout).not.toContain(tokens.alice);
    const second = await expectRun(0, ['publish', archives.v11, '--json'], { token: tokens.alice });
    expect(parseJsonOutput(second)).toMatchObject({
      ok: true,
      registry: registry.url,
      name: 'sample',
      version: '1.1.0',
      keyId: keys.publisher.keyId,
      firstPublish: false,
      distTags: { latest: '1.1.0' },
      tarball: `${registry.url}/sample/-/sample-1.1.0.cmpkg`,
    });
    await expectRun(0, ['publish', archives.v2], { token: tokens.alice });
    const before = await packument();
    expect(Object.keys(before.body.versions as object).sort()).toEqual(['1.0.0', '1.1.0', '2.0.0']);
    const blobsBefore = blobs();
    expect(blobsBefore).toHaveLength(3);

    const again = await expectRun(3, ['publish', archives.v1], { token: tokens.alice });
    expect(again.stderr).toMatch(/^error\[E_REGISTRY_VERSION_EXISTS\]: sample@1\.0\.0 is already published/);
    const notOwner = await expectRun(3, ['publish', archives.v1], { token: tokens.bob });
    expect(notOwner.stderr).toMatch(/^error\[E_REGISTRY_FORBIDDEN\]: /);
    const otherKey = await expectRun(3, ['publish', archives.v2Other, '--json'], { token: tokens.alice });
    expect(parseJsonOutput(otherKey)).toMatchObject({
      ok: false,
      error: { code: 'E_REGISTRY_KEY_NOT_REGISTERED', category: 'safety' },
    });
    const tag = await expectRun(2, ['publish', archives.v1, '--tag', '^1'], { token: tokens.alice });
    expect(tag.stderr).toMatch(/--tag "\^1" is not a dist-tag name/);

    expect(await packument()).toEqual(before);
    expect(blobs()).toEqual(blobsBefore);
  });
});

describe('install by range, and the registry errors of install', () => {
  it('resolves ranges URL-encoded; unknown plugins, invalid ranges and no match exit 2', async () => {
    const db = freshDb();
    const range = await expectRun(0, ['install', 'sample@>=1.0.0 <2', '--db', db, '--dry-run', '--json']);
    expect(parseJsonOutput(range)).toMatchObject({
      ok: true,
      dryRun: true,
      toVersion: '1.1.0',
      registry: { spec: '>=1.0.0 <2', resolved: '1.1.0' },
    });
    const latest = await expectRun(0, ['install', 'sample', '--db', db, '--dry-run']);
    expect(latest.stdout).toMatch(/^Resolved sample@latest → 2\.0\.0 from /);
    expect(latest.stdout).toMatch(/Dry run: nothing was changed/);

    const unknown = await expectRun(2, ['install', 'no-such-plugin@^1', '--db', db]);
    expect(unknown.stderr).toMatch(/^error\[E_REGISTRY_NOT_FOUND\]: .*no-such-plugin/);
    const invalid = await expectRun(2, ['install', 'sample@>=banana', '--db', db]);
    expect(invalid.stderr).toMatch(/^error\[E_REGISTRY_INVALID_RANGE\]: .*>=banana/);
    const noMatch = await expectRun(2, ['install', 'sample@^9', '--db', db, '--json']);
    expect(parseJsonOutput(noMatch)).toMatchObject({ ok: false, error: { code: 'E_REGISTRY_NO_MATCH' } });
    const badId = await expectRun(2, ['install', 'Sample@^1', '--db', db]);
    expect(badId.stderr).toMatch(/^error\[E_USAGE\]: the plugin "Sample@\^1": "Sample" is not a plugin id/);
    const missingFile = await expectRun(2, ['install', 'sample-9.9.9.cmpkg', '--db', db]);
    expect(missingFile.stderr).toBe(
      'error[E_USAGE]: sample-9.9.9.cmpkg: cannot read the package: no such file\n',
    );
    // None of that touched the database: a dry run and refusals do not create the SQLite file.
    expect(existsSync(db.replace(/^sqlite:/, ''))).toBe(false);
  });

  it('an unreachable registry exits 1 with one clear line, and leaves nothing behind', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const tmp = mkdtempSync(join(tmpdir(), 'cmpkg-e2e-tmpdir-'));
    try {
      const db = freshDb();
      const args = ['install', 'sample@^1', '--registry', `http://127.0.0.1:${port}`, '--db', db];
      const result = await cmpkg(args, { env: { TMPDIR: tmp } });
      expect(result.code, describeRun(args, result)).toBe(1);
      expect(result.stderr).toBe(
        `error[E_REGISTRY_UNAVAILABLE]: cannot reach the registry at http://127.0.0.1:${port} (GET http://127.0.0.1:${port}/sample/%5E1): connection refused (ECONNREFUSED)\n`,
      );
      expect(result.stdout).toBe('');
      expect(readdirSync(tmp)).toEqual([]);
      expect(existsSync(db.replace(/^sqlite:/, ''))).toBe(false);
      const search = await cmpkg(['search', '--json'], {
        env: { CMPKG_REGISTRY: `http://127.0.0.1:${port}` },
      });
      expect(search.code).toBe(1);
      expect(parseJsonOutput(search)).toMatchObject({ ok: false, error: { code: 'E_REGISTRY_UNAVAILABLE' } });
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});

describe('deprecate and yank', () => {
  it('a yanked version is skipped by ranges but installs by exact version; a deprecated one warns', async () => {
    const noToken = await expectRun(2, ['yank', 'sample@2.0.0']);
    expect(noToken.stderr).toMatch(/CMPKG_TOKEN/);
    const notOwner = await expectRun(3, ['yank', 'sample@2.0.0'], { token: tokens.bob });
    expect(notOwner.stderr).toMatch(/^error\[E_REGISTRY_FORBIDDEN\]/);

    const yank = await expectRun(0, ['yank', 'sample@2.0.0'], { token: tokens.alice });
    expect(yank.stdout).toBe('Yanked sample@2.0.0 (dist-tags: latest: 1.1.0)\n');
    const skipped = await expectRun(0, ['install', 'sample@>=1', '--db', freshDb()]);
    expect(skipped.stdout).toMatch(/^Resolved sample@>=1 → 1\.1\.0 from /);
    expect(skipped.stdout).toMatch(/Installed sample \(none\) → 1\.1\.0/);
    const exact = await expectRun(0, ['install', 'sample@2.0.0', '--db', freshDb()]);
    expect(exact.stdout).toMatch(/^Resolved sample@2\.0\.0 → 2\.0\.0 from /);
    expect(exact.stderr).toMatch(/^warning: sample@2\.0\.0 was yanked/);

    const deprecate = await expectRun(0, ['deprecate', 'sample@~1.1', 'slugs are broken: use 1.0.0 or 2.x'], {
      token: tokens.alice,
    });
    expect(deprecate.stdout).toBe(
      'Deprecated sample 1 version: 1.1.0 ("slugs are broken: use 1.0.0 or 2.x")\n',
    );
    // Only deprecated candidates: npm's fallback picks one, and the host is warned.
    const warned = await expectRun(0, ['install', 'sample@~1.1', '--db', freshDb()]);
    expect(warned.stdout).toMatch(/^Resolved sample@~1\.1 → 1\.1\.0 from /);
    expect(warned.stderr).toBe('warning: sample@1.1.0 is deprecated: slugs are broken: use 1.0.0 or 2.x\n');
    // Otherwise a range prefers a version that is not deprecated.
    const preferred = await expectRun(0, ['install', 'sample@^1', '--db', freshDb(), '--dry-run', '--json']);
    expect(parseJsonOutput(preferred)).toMatchObject({ toVersion: '1.0.0', registry: { resolved: '1.0.0' } });
    expect(preferred.stderr).toBe('');

    const none = await expectRun(2, ['deprecate', 'sample@^7', 'x'], { token: tokens.alice });
    expect(none.stderr).toMatch(/^error\[E_REGISTRY_NO_MATCH\]/);
    const unknownVersion = await expectRun(2, ['yank', 'sample@3.0.0'], { token: tokens.alice });
    expect(unknownVersion.stderr).toMatch(/^error\[E_REGISTRY_NOT_FOUND\]/);
  });

  it('info and search show it all, as text and as --json', async () => {
    const info = await expectRun(0, ['info', 'sample']);
    const lines = info.stdout.split('\n');
    expect(lines[0]).toBe('sample — Sample knowledge base');
    expect(info.stdout).toMatch(/\n {2}owner +alice\n/);
    expect(info.stdout).toMatch(/\n {2}dist-tags +latest: 1\.1\.0\n/);
    expect(info.stdout).toContain(`  keys       ${keys.publisher.keyId}\n`);
    expect(lines.find((l) => l.startsWith('  1.0.0 '))).not.toMatch(/deprecated|yanked/);
    expect(lines.find((l) => l.startsWith('  1.1.0 '))).toMatch(
      /latest +deprecated: slugs are broken: use 1\.0\.0 or 2\.x$/,
    );
    expect(lines.find((l) => l.startsWith('  2.0.0 '))).toMatch(/ yanked$/);
    expect(info.stdout).toMatch(/\nsample@1\.1\.0 \(latest\)\n {2}deprecated: slugs are broken/);
    expect(info.stdout).toMatch(/\n {2}integrity +sha512-/);
    expect(info.stdout).toMatch(/0004_entry_slugs +1\.1\.0 +Entry slugs +medium +reversible/);

    const json = parseJsonOutput<{
      ok: boolean;
      spec: string;
      packument: { versions: Record<string, { yanked?: boolean; deprecated?: string }> };
      version: { version: string; dist: { keyId: string } };
    }>(await expectRun(0, ['info', 'sample@2.0.0', '--json']));
    expect(json).toMatchObject({ ok: true, spec: '2.0.0', version: { version: '2.0.0', yanked: true } });
    expect(json.packument.versions['2.0.0']?.yanked).toBe(true);
    expect(json.packument.versions['1.1.0']?.deprecated).toBe('slugs are broken: use 1.0.0 or 2.x');
    expect(json.packument.versions['1.0.0']).not.toHaveProperty('deprecated');
    expect(json.version.dist.keyId).toBe(keys.publisher.keyId);
    const range = await expectRun(0, ['info', 'sample@>=1.0.0 <1.1.0']);
    expect(range.stdout).toMatch(/\nsample@1\.0\.0 \(>=1\.0\.0 <1\.1\.0\)\n/);
    const unknown = await expectRun(2, ['info', 'nothing-here']);
    expect(unknown.stderr).toMatch(/^error\[E_REGISTRY_NOT_FOUND\]/);

    const search = await expectRun(0, ['search', 'SAMP']);
    expect(search.stdout.split('\n')).toEqual([
      'NAME    LATEST  DESCRIPTION                                                   UPDATED',
      expect.stringMatching(/^sample {2}1\.1\.0 {3}A small knowledge base .{30,40}… {2}\d{4}-\d\d-\d\d$/),
      '1 plugin',
      '',
    ]);
    const searchJson = parseJsonOutput<{ total: number; objects: Array<{ package: { name: string } }> }>(
      await expectRun(0, ['search', '--json', '--size', '5']),
    );
    expect(searchJson).toMatchObject({ ok: true, registry: registry.url, text: '', total: 1 });
    expect(searchJson.objects.map((o) => o.package.name)).toEqual(['sample']);
    const nothing = await expectRun(0, ['search', 'zebra']);
    expect(nothing.stdout).toBe('No plugins match "zebra".\n');
  });

  it('--undo and an empty message take the marks off again', async () => {
    const restored = await expectRun(0, ['yank', 'sample@2.0.0', '--undo', '--json'], {
      token: tokens.alice,
    });
    expect(parseJsonOutput(restored)).toMatchObject({ ok: true, version: '2.0.0', yanked: false });
    const undeprecated = await expectRun(0, ['deprecate', 'sample@1.1.0'], { token: tokens.alice });
    expect(undeprecated.stdout).toBe('Un-deprecated sample 1 version: 1.1.0\n');
    const { body } = await packument();
    const versions = body.versions as Record<string, Record<string, unknown>>;
    expect(versions['1.1.0']).not.toHaveProperty('deprecated');
    expect(versions['2.0.0']).not.toHaveProperty('yanked');
    const range = await expectRun(0, ['install', 'sample@>=1', '--db', freshDb(), '--dry-run', '--json']);
    expect(parseJsonOutput(range)).toMatchObject({ registry: { resolved: '2.0.0' } });
  });
});

describe('keys and dist-tags', () => {
  it('keys add, list and remove; only the owner may change them; the last key stays', async () => {
    // A package signed by `next` is refused until `next` is registered; then the registry accepts the
    // signer and refuses only because 2.0.0 exists (the key check comes first).
    const nextSigned = await pack(copySamplePlugin(), [
      '--key',
      keys.next.key,
      '--version',
      '2.0.0',
      '--out',
      join(work, 'next-2.0.0.cmpkg'),
    ]);
    const unregistered = await expectRun(3, ['publish', nextSigned], { token: tokens.alice });
    expect(unregistered.stderr).toMatch(/^error\[E_REGISTRY_KEY_NOT_REGISTERED\]/);

    const added = await expectRun(0, ['keys', 'add', 'sample', '--pubkey', keys.next.pub], {
      token: tokens.alice,
    });
    expect(added.stdout).toBe(
      `Registered key ${keys.next.keyId} for sample: packages signed by it can be published\n`,
    );
    const twice = await expectRun(0, ['keys', 'add', 'sample', '--pubkey', keys.next.pub, '--json'], {
      token: tokens.alice,
    });
    expect(parseJsonOutput(twice)).toMatchObject({ ok: true, keyId: keys.next.keyId, created: false });
    const registered = await expectRun(3, ['publish', nextSigned], { token: tokens.alice });
    expect(registered.stderr).toMatch(/^error\[E_REGISTRY_VERSION_EXISTS\]/);
    const bob = await expectRun(3, ['keys', 'add', 'sample', '--pubkey', keys.other.pub], {
      token: tokens.bob,
    });
    expect(bob.stderr).toMatch(/^error\[E_REGISTRY_FORBIDDEN\]/);

    const list = await expectRun(0, ['keys', 'list', 'sample']);
    const rows = list.stdout.split('\n');
    expect(rows[0]).toBe('sample (owner alice)');
    expect(rows[1]).toMatch(/^ {2}KEY ID +ADDED +BY$/);
    expect(
      rows
        .slice(2, 4)
        .map((r) => r.trim().split(/\s+/)[0])
        .sort(),
    ).toEqual([keys.publisher.keyId, keys.next.keyId].sort());
    const listed = parseJsonOutput<{ keys: Array<{ keyId: string; addedBy: string }> }>(
      await expectRun(0, ['keys', 'list', 'sample', '--json']),
    );
    expect(listed.keys.map((k) => k.keyId).sort()).toEqual([keys.publisher.keyId, keys.next.keyId].sort());

    const removed = await expectRun(0, ['keys', 'remove', 'sample', keys.next.keyId], {
      token: tokens.alice,
    });
    expect(removed.stdout).toBe(`Removed key ${keys.next.keyId} from sample\n`);
    const last = await expectRun(2, ['keys', 'remove', 'sample', keys.publisher.keyId], {
      token: tokens.alice,
    });
    expect(last.stderr).toMatch(/^error\[E_REGISTRY_BAD_REQUEST\]: .*last key/);
    const after = parseJsonOutput<{ keys: Array<{ keyId: string }> }>(
      await expectRun(0, ['keys', 'list', 'sample', '--json']),
    );
    expect(after.keys.map((k) => k.keyId)).toEqual([keys.publisher.keyId]);
  });

  it('dist-tag add points a tag that install resolves; rm removes it; latest cannot be removed', async () => {
    const added = await expectRun(0, ['dist-tag', 'add', 'sample@1.0.0', 'legacy'], { token: tokens.alice });
    expect(added.stdout).toBe('Tagged sample@1.0.0 as legacy (dist-tags: latest: 2.0.0, legacy: 1.0.0)\n');
    const byTag = await expectRun(0, ['install', 'sample@legacy', '--db', freshDb(), '--dry-run', '--json']);
    expect(parseJsonOutput(byTag)).toMatchObject({
      toVersion: '1.0.0',
      registry: { spec: 'legacy', resolved: '1.0.0' },
    });

    const removed = await expectRun(0, ['dist-tag', 'rm', 'sample', 'legacy', '--json'], {
      token: tokens.alice,
    });
    expect(parseJsonOutput(removed)).toMatchObject({
      ok: true,
      tag: 'legacy',
      distTags: { latest: '2.0.0' },
    });
    const gone = await expectRun(2, ['install', 'sample@legacy', '--db', freshDb()]);
    expect(gone.stderr).toMatch(/^error\[E_REGISTRY_NOT_FOUND\]: .*legacy/);
    const latest = await expectRun(2, ['dist-tag', 'rm', 'sample', 'latest'], { token: tokens.alice });
    expect(latest.stderr).toMatch(/^error\[E_REGISTRY_BAD_REQUEST\]: .*latest/);
    const unknownVersion = await expectRun(2, ['dist-tag', 'add', 'sample@9.9.9', 'old'], {
      token: tokens.alice,
    });
    expect(unknownVersion.stderr).toMatch(/^error\[E_REGISTRY_NOT_FOUND\]/);
    const bob = await expectRun(3, ['dist-tag', 'add', 'sample@1.0.0', 'mine'], { token: tokens.bob });
    expect(bob.stderr).toMatch(/^error\[E_REGISTRY_FORBIDDEN\]/);
  });
});
