import { join } from 'node:path';
import { HistoryStore, type InstalledPluginRecord, isCmpkgError } from '@cmpkg/core';
import { SqliteDialect } from '@cmpkg/dialect-sqlite';
import { describe, expect, it } from 'vitest';
import { checkEngine, checkRequires, decideAction, decideTrust } from './install-checks.js';
import { generateKeyPair } from './keys.js';
import { createRotation } from './rotation.js';
import { tempDir } from './testing/fixtures.js';

const a = generateKeyPair();
const b = generateKeyPair();
const file = 'kb-1.1.0.cmpkg';

const record = (extra: Partial<InstalledPluginRecord> = {}): InstalledPluginRecord => ({
  pluginId: 'kb',
  version: '1.0.0',
  packageDigest: 'sha256:aa',
  keyId: a.encoded,
  installedAt: '2024-01-01T00:00:00.000Z',
  updatedAt: '2024-01-01T00:00:00.000Z',
  ...extra,
});

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (isCmpkgError(err)) return err.code;
    throw err;
  }
  throw new Error('expected a failure');
}

describe('decideTrust', () => {
  const base = { pluginId: 'kb', file, statements: [] };

  it('pins the signer on a first install, and on a record without a key (migrated from files)', () => {
    expect(decideTrust({ ...base, installed: null, signer: a })).toEqual({
      pinned: true,
      rotated: false,
      chain: [],
    });
    expect(decideTrust({ ...base, installed: record({ keyId: null }), signer: b }).pinned).toBe(true);
  });

  it('accepts the pinned key without pinning again', () => {
    expect(decideTrust({ ...base, installed: record(), signer: a })).toEqual({
      pinned: false,
      rotated: false,
      chain: [],
    });
  });

  it('refuses another key, unless a rotation statement signed by the pinned key leads to it', () => {
    expect(codeOf(() => decideTrust({ ...base, installed: record(), signer: b }))).toBe('E_UNTRUSTED_KEY');
    const statement = createRotation({ pluginId: 'kb', from: a, to: b });
    const trust = decideTrust({ ...base, installed: record(), signer: b, statements: [statement] });
    expect(trust).toEqual({ pinned: true, rotated: true, chain: [statement] });
    const other = createRotation({ pluginId: 'other', from: a, to: b });
    expect(codeOf(() => decideTrust({ ...base, installed: record(), signer: b, statements: [other] }))).toBe(
      'E_ROTATION_INVALID',
    );
  });

  it('requires the signer to be the trusted key when one is given', () => {
    expect(codeOf(() => decideTrust({ ...base, installed: null, signer: a, trustKey: b }))).toBe(
      'E_UNTRUSTED_KEY',
    );
    expect(decideTrust({ ...base, installed: null, signer: a, trustKey: a }).pinned).toBe(true);
  });

  it('names the damaged column when the pinned key cannot be read', () => {
    expect(codeOf(() => decideTrust({ ...base, installed: record({ keyId: 'not a key' }), signer: a }))).toBe(
      'E_KEY_FORMAT',
    );
  });
});

describe('decideAction', () => {
  const base = { file, pluginId: 'kb', version: '1.1.0', digest: 'sha256:bb', allowDowngrade: false };

  it('installs, upgrades, or does nothing for the same archive', () => {
    expect(decideAction({ ...base, installed: null })).toBe('install');
    expect(decideAction({ ...base, installed: record() })).toBe('upgrade');
    expect(decideAction({ ...base, installed: record({ version: '1.1.0-rc.1' }) })).toBe('upgrade');
    expect(
      decideAction({ ...base, installed: record({ version: '1.1.0', packageDigest: 'sha256:bb' }) }),
    ).toBe('none');
  });

  it('refuses the same version with other contents', () => {
    expect(codeOf(() => decideAction({ ...base, installed: record({ version: '1.1.0' }) }))).toBe(
      'E_VERSION_CONFLICT',
    );
    expect(
      codeOf(() => decideAction({ ...base, installed: record({ version: '1.1.0', packageDigest: null }) })),
    ).toBe('E_VERSION_CONFLICT');
  });

  it('refuses a downgrade unless allowed', () => {
    expect(codeOf(() => decideAction({ ...base, installed: record({ version: '2.0.0' }) }))).toBe(
      'E_DOWNGRADE',
    );
    expect(decideAction({ ...base, installed: record({ version: '2.0.0' }), allowDowngrade: true })).toBe(
      'downgrade',
    );
  });
});

describe('checkEngine', () => {
  it('accepts a listed engine and refuses another one', () => {
    expect(() => checkEngine({ file, engines: ['sqlite', 'mysql'], engine: 'sqlite' })).not.toThrow();
    expect(codeOf(() => checkEngine({ file, engines: ['postgresql'], engine: 'sqlite' }))).toBe(
      'E_ENGINE_UNSUPPORTED',
    );
    expect(codeOf(() => checkEngine({ file, engines: [], engine: 'mysql' }))).toBe('E_ENGINE_UNSUPPORTED');
  });
});

describe('checkRequires', () => {
  async function store(installed: Record<string, string>) {
    const conn = await new SqliteDialect().connect(`sqlite:${join(tempDir('cmpkg-requires-'), 'db.sqlite')}`);
    const s = new HistoryStore(conn);
    if (Object.keys(installed).length > 0) await s.ensureTables();
    for (const [id, version] of Object.entries(installed)) await s.writePlugin(id, version);
    return { store: s, close: () => conn.close() };
  }

  async function unmet(installed: Record<string, string>, requires: Record<string, string>) {
    const s = await store(installed);
    try {
      await checkRequires({ store: s.store, file, pluginId: 'kb', requires });
      return null;
    } catch (err) {
      if (!isCmpkgError(err)) throw err;
      expect(err.code).toBe('E_REQUIRES_UNMET');
      return err.details.unmet;
    } finally {
      await s.close();
    }
  }

  it('passes when every required plugin is installed in range', async () => {
    expect(
      await unmet({ auth: '2.3.1', billing: '1.0.0' }, { auth: '^2.0.0', billing: '>=1.0.0' }),
    ).toBeNull();
    expect(await unmet({}, {})).toBeNull();
  });

  it('names every unmet requirement: missing, out of range, or only a prerelease', async () => {
    expect(await unmet({}, { auth: '^2.0.0' })).toEqual([
      { plugin: 'auth', range: '^2.0.0', installed: null },
    ]);
    expect(
      await unmet({ auth: '1.9.0', billing: '3.0.0-beta.1' }, { auth: '^2.0.0', billing: '^3.0.0' }),
    ).toEqual([
      { plugin: 'auth', range: '^2.0.0', installed: '1.9.0' },
      { plugin: 'billing', range: '^3.0.0', installed: '3.0.0-beta.1' },
    ]);
    // A range that names a prerelease accepts it.
    expect(await unmet({ billing: '3.0.0-beta.2' }, { billing: '>=3.0.0-beta.1' })).toBeNull();
  });
});
