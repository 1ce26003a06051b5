import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningRegistry, registryBuilt, runRegistryBin, startRegistry } from '../helpers/registry.js';

/**
 * The registry's executable (`cmpkg-registry`), as an operator runs it: start, the admin commands
 * working directly on the database, exit codes, and startup housekeeping.
 */

const temp = mkdtempSync(join(tmpdir(), 'cmpkg-registry-bin-'));
afterAll(() => rmSync(temp, { recursive: true, force: true }));

/** The admin commands run with a minimal environment: only PATH besides what the test gives. */
function admin(args: string[], env: Record<string, string>) {
  return runRegistryBin(args, { PATH: process.env.PATH ?? '', ...env });
}

beforeAll(() => {
  if (!registryBuilt()) throw new Error('build the registry first: pnpm turbo run build');
});

describe('cmpkg-registry start and token commands', () => {
  let registry: RunningRegistry;
  let env: Record<string, string>;
  const storage = join(temp, 'blobs');

  beforeAll(async () => {
    // A crashed upload's leftover: startup must remove it.
    mkdirSync(join(storage, 'tmp'), { recursive: true });
    writeFileSync(join(storage, 'tmp', 'upload-leftover'), 'half an archive');
    registry = await startRegistry({ env: { REGISTRY_STORAGE_DIR: storage } });
    env = { REGISTRY_DATA_DIR: registry.dataDir, REGISTRY_STORAGE_DIR: storage, REGISTRY_LOG_LEVEL: 'warn' };
  });
  afterAll(() => registry?.stop());

  it('listens, and cleaned tmp/ on the way up', async () => {
    expect(registry.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(readdirSync(join(storage, 'tmp'))).toEqual([]);
    expect(existsSync(join(registry.dataDir, 'registry.db'))).toBe(true);
    const health = await (await fetch(`${registry.url}/-/health`)).json();
    expect(health).toEqual({ status: 'ok', database: 'sqlite', plugins: 0, versions: 0 });
  });

  it('creates tokens the running server accepts, lists them without the secret, and revokes them', async () => {
    const token = await registry.createToken('alice', { admin: true });
    const whoami = await fetch(`${registry.url}/-/whoami`, { headers: { authorization: `Bearer ${token}` } });
    expect(await whoami.json()).toEqual({
      user: 'alice',
      admin: true,
      tokenId: expect.stringMatching(/^tok_/),
    });

    const human = await admin(['token', 'create', '--user', 'bob', '--note', 'ci'], env);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^Created token tok_[0-9a-f]{16} for bob:\ncmpkg_[A-Za-z0-9_-]{43}\n/);

    const list = await admin(['token', 'list', '--json'], env);
    expect(list.code).toBe(0);
    const { tokens } = JSON.parse(list.stdout) as {
      tokens: Array<{ id: string; user: string; note: string | null }>;
    };
    expect(tokens.map((t) => t.user)).toEqual(['alice', 'bob']);
    expect(list.stdout).not.toContain(token);
    expect(list.stdout).not.toContain('cmpkg_');

    const aliceId = tokens[0]!.id;
    const revoked = await admin(['token', 'revoke', aliceId], env);
    expect(revoked).toMatchObject({ code: 0, stdout: `Revoked ${aliceId} (alice)\n` });
    const after = await fetch(`${registry.url}/-/whoami`, { headers: { authorization: `Bearer ${token}` } });
    expect(after.status).toBe(401);
    const listed = await admin(['token', 'list'], env);
    expect(listed.stdout).toMatch(new RegExp(`${aliceId}  alice  admin  revoked `));
  });

  it('exits 2 on bad input and names what is wrong', async () => {
    const badId = await admin(['token', 'revoke', 'nope'], env);
    expect(badId.code).toBe(2);
    expect(badId.stderr).toContain('"nope" is not a token id');
    const unknownId = await admin(['token', 'revoke', 'tok_ffffffffffffffff'], env);
    expect(unknownId.code).toBe(2);
    expect(unknownId.stderr).toContain('E_REGISTRY_NOT_FOUND');
    const badUser = await admin(['token', 'create', '--user', 'no spaces'], env);
    expect(badUser.code).toBe(2);
    expect(badUser.stderr).toContain('not a valid user name');
    const missingUser = await admin(['token', 'create'], env);
    expect(missingUser.code).toBe(2);
    expect(missingUser.stderr).toContain('--user');
    const unknown = await admin(['frobnicate'], env);
    expect(unknown.code).toBe(2);
  });
});

describe('cmpkg-registry configuration and migrate', () => {
  it('exits 2 naming the variable for a bad value', async () => {
    const result = await admin(['start'], { REGISTRY_DATA_DIR: join(temp, 'bad'), REGISTRY_PORT: 'eighty' });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('REGISTRY_PORT="eighty"');
    expect(existsSync(join(temp, 'bad'))).toBe(false);
  });

  it('exits 1 when the database cannot be opened', async () => {
    const result = await admin(['migrate'], {
      REGISTRY_DATA_DIR: join(temp, 'unreachable'),
      REGISTRY_DATABASE_URL: 'postgres://nobody@127.0.0.1:1/registry',
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/E_CONNECTION/);
  });

  it('migrates a fresh database, then reports it up to date', async () => {
    const dir = join(temp, 'migrate');
    const first = await admin(['migrate', '--json'], { REGISTRY_DATA_DIR: dir });
    expect(first.code).toBe(0);
    expect(JSON.parse(first.stdout)).toEqual({
      ok: true,
      database: `sqlite:${join(dir, 'registry.db')}`,
      applied: ['0001_registry_schema'],
    });
    const second = await admin(['migrate'], { REGISTRY_DATA_DIR: dir });
    expect(second).toMatchObject({
      code: 0,
      stdout: `The registry schema of sqlite:${join(dir, 'registry.db')} is up to date\n`,
    });
  });

  it('stops cleanly on SIGTERM', async () => {
    const registry = await startRegistry();
    await registry.stop();
    expect(registry.stderr()).not.toMatch(/error/i);
    expect(existsSync(registry.dataDir)).toBe(false);
  });
});
