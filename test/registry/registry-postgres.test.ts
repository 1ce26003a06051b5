import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadPlugin } from '@cmpkg/core';
import { generateKeyPair, type KeyPair, type PackResult, packPlugin } from '@cmpkg/packager';
import type { Packument, VersionDocument } from '@cmpkg/registry';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestDatabase, describeEngines, type TestDatabase } from '../helpers/engines.js';
import { samplePluginDir } from '../helpers/project.js';
import { type RunningRegistry, registryBuilt, startRegistry } from '../helpers/registry.js';

/**
 * The real registry (the built bin, as `pnpm --filter @cmpkg/registry start` runs it) with its
 * metadata in PostgreSQL: the same API and the same guarantees as on SQLite, checked in the tables.
 */

const temp = mkdtempSync(join(tmpdir(), 'cmpkg-registry-pg-'));
afterAll(() => rmSync(temp, { recursive: true, force: true }));

async function errorOf(response: Response): Promise<{ code: string; message: string }> {
  return ((await response.json()) as { error: { code: string; message: string } }).error;
}

async function packSample(key: KeyPair, version: string): Promise<PackResult> {
  const dir = mkdtempSync(join(temp, 'plugin-'));
  cpSync(samplePluginDir, dir, { recursive: true });
  const plugin = await loadPlugin({
    dir: join(dir, 'migrations'),
    id: 'sample',
    version: '2.0.0',
    name: 'Sample knowledge base',
  });
  return packPlugin({ plugin, key, version, outDir: mkdtempSync(join(temp, 'out-')) });
}

describeEngines('registry on PostgreSQL', () => {
  let db: TestDatabase;
  let registry: RunningRegistry;
  let token: string;
  const key = generateKeyPair();
  const packages: Record<string, PackResult> = {};

  const publish = (file: string | Uint8Array, auth = token) =>
    fetch(`${registry.url}/sample`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${auth}`, 'content-type': 'application/octet-stream' },
      body: typeof file === 'string' ? readFileSync(file) : file,
    });
  const rowCounts = async () => {
    const out: Record<string, number> = {};
    for (const table of [
      'registry_plugins',
      'registry_plugin_keys',
      'registry_versions',
      'registry_dist_tags',
    ]) {
      out[table] = await db.count(table);
    }
    return out;
  };

  beforeAll(async () => {
    if (!registryBuilt()) throw new Error('build the registry first: pnpm turbo run build');
    db = await createTestDatabase('postgresql');
    registry = await startRegistry({ databaseUrl: db.url });
    token = await registry.createToken('alice');
    for (const version of ['1.0.0', '1.1.0', '2.0.0']) packages[version] = await packSample(key, version);
  });
  afterAll(async () => {
    await registry?.stop();
    await db?.drop();
  });

  it('keeps its tables in PostgreSQL, migrated by core’s Migrator, and reports it in /-/health', async () => {
    const tables = await db.tableNames();
    for (const table of [
      'registry_tokens',
      'registry_plugins',
      'registry_plugin_keys',
      'registry_versions',
      'registry_dist_tags',
      'cmpkg_migrations',
    ]) {
      expect(tables).toContain(table);
    }
    expect(await db.history()).toEqual([
      expect.objectContaining({ migration_id: '0001_registry_schema', status: 'applied' }),
    ]);
    const health = await (await fetch(`${registry.url}/-/health`)).json();
    expect(health).toEqual({ status: 'ok', database: 'postgresql', plugins: 0, versions: 0 });
    // The token is stored as a hash only.
    const [row] = await db.query('select user_name, token_hash from registry_tokens');
    expect(row).toEqual({ user_name: 'alice', token_hash: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(JSON.stringify(row)).not.toContain(token);
  });

  it('publishes 1.0.0, 1.1.0 and 2.0.0 and resolves ^1 to 1.1.0', async () => {
    for (const version of ['1.0.0', '1.1.0', '2.0.0']) {
      const response = await publish(packages[version]!.file);
      expect(response.status, await response.clone().text()).toBe(201);
      expect(await response.json()).toMatchObject({
        ok: true,
        name: 'sample',
        version,
        integrity: packages[version]!.integrity,
        firstPublish: version === '1.0.0',
      });
    }
    const resolved = await fetch(`${registry.url}/sample/%5E1`);
    expect(resolved.status).toBe(200);
    expect(await resolved.json()).toMatchObject({ name: 'sample', version: '1.1.0' });
    const doc = (await (await fetch(`${registry.url}/sample`)).json()) as Packument;
    expect(doc['dist-tags']).toEqual({ latest: '2.0.0' });
    expect(Object.keys(doc.versions)).toEqual(['1.0.0', '1.1.0', '2.0.0']);
    expect(await db.query('select version, yanked from registry_versions order by version')).toEqual([
      { version: '1.0.0', yanked: false },
      { version: '1.1.0', yanked: false },
      { version: '2.0.0', yanked: false },
    ]);
  });

  it('downloads exactly the bytes that were published', async () => {
    const response = await fetch(`${registry.url}/sample/-/sample-1.1.0.cmpkg`);
    expect(response.status).toBe(200);
    expect(Buffer.from(await response.arrayBuffer())).toEqual(readFileSync(packages['1.1.0']!.file));
  });

  it('refuses to republish a version (409) and stores nothing for it', async () => {
    const before = await rowCounts();
    const response = await publish(packages['1.1.0']!.file);
    expect(response.status).toBe(409);
    expect((await errorOf(response)).code).toBe('E_REGISTRY_VERSION_EXISTS');
    expect(await rowCounts()).toEqual(before);
  });

  it('stores nothing for a failed publish (tampered archive)', async () => {
    const before = await rowCounts();
    const bytes = new Uint8Array(readFileSync(packages['2.0.0']!.file));
    bytes[bytes.length - 40]! ^= 0xff;
    const response = await publish(bytes);
    expect(response.status).toBe(400);
    expect((await errorOf(response)).code).toMatch(/^E_(PKG|SIGNATURE)_/);
    expect(await rowCounts()).toEqual(before);
  });

  it('deprecates and yanks: resolution and dist-tags follow, in the PostgreSQL rows', async () => {
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const deprecated = await fetch(`${registry.url}/-/plugins/sample/deprecate`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ range: '1.1.0', message: 'use 2.0.0' }),
    });
    expect(await deprecated.json()).toEqual({ ok: true, versions: ['1.1.0'] });
    // ^1: 1.1.0 is deprecated, so the highest non-deprecated match wins.
    expect(((await (await fetch(`${registry.url}/sample/%5E1`)).json()) as VersionDocument).version).toBe(
      '1.0.0',
    );

    const yanked = await fetch(`${registry.url}/-/plugins/sample/yank`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ version: '2.0.0', yanked: true }),
    });
    expect(await yanked.json()).toEqual({
      ok: true,
      version: '2.0.0',
      yanked: true,
      distTags: { latest: '1.1.0' },
    });
    const afterYank = await fetch(`${registry.url}/sample/%3E%3D2`);
    expect(afterYank.status).toBe(404);
    expect((await errorOf(afterYank)).code).toBe('E_REGISTRY_NO_MATCH');
    expect(
      await db.query(
        "select deprecated, yanked from registry_versions where version in ('1.1.0', '2.0.0') order by version",
      ),
    ).toEqual([
      { deprecated: 'use 2.0.0', yanked: false },
      { deprecated: null, yanked: true },
    ]);
    expect(await db.query("select version from registry_dist_tags where tag = 'latest'")).toEqual([
      { version: '1.1.0' },
    ]);
  });
}, ['postgresql']);
