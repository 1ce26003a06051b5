import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { type LoadedConfig, registryUrl, resolveSettings } from './context.js';

// A cwd that is not the process's, so relative SQLite paths are made absolute against it.
const cwd = path.resolve('/tmp/cmpkg-settings-project');
const configFile = path.resolve('/tmp/cmpkg-settings-elsewhere/conf/cmpkg.config.json');
const full: LoadedConfig = {
  file: configFile,
  config: {
    plugin: { id: 'kb', version: '1.2.0', name: 'Knowledge base' },
    migrationsDir: path.resolve('/tmp/cmpkg-settings-elsewhere/conf/db/migrations'),
    // As loadConfig returns them: relative paths already resolved against the config file's folder.
    database: `sqlite:${path.resolve('/tmp/cmpkg-settings-elsewhere/conf/from-config.db')}`,
    lockTimeout: 5,
    allowOutOfOrder: true,
  },
};
const none: LoadedConfig = { config: {} };

describe('resolveSettings', () => {
  it('uses the defaults with no flags, env or config', () => {
    const s = resolveSettings({}, {}, cwd, none);
    expect(s.database).toBe(`sqlite:${path.join(cwd, 'cmpkg.db')}`);
    expect(s.migrationsDir).toBe(path.join(cwd, 'migrations'));
    expect(s.pluginId).toBe('default');
    expect(s.pluginVersion).toBeUndefined();
    expect(s.lockTimeoutMs).toBe(60_000);
    expect(s.allowOutOfOrder).toBe(false);
    expect(s.configFile).toBeUndefined();
    expect(Object.values(s.sources).every((v) => v === 'default')).toBe(true);
  });

  it('takes the config over the defaults, paths as loadConfig resolved them', () => {
    const s = resolveSettings({}, {}, cwd, full);
    expect(s.database).toBe(`sqlite:${path.resolve('/tmp/cmpkg-settings-elsewhere/conf/from-config.db')}`);
    expect(s.migrationsDir).toBe(path.resolve('/tmp/cmpkg-settings-elsewhere/conf/db/migrations'));
    expect(s.pluginId).toBe('kb');
    expect(s.pluginVersion).toBe('1.2.0');
    expect(s.pluginName).toBe('Knowledge base');
    expect(s.lockTimeoutMs).toBe(5000);
    expect(s.allowOutOfOrder).toBe(true);
    expect(s.configFile).toBe(configFile);
    expect(s.sources).toEqual({
      database: 'config',
      migrationsDir: 'config',
      pluginId: 'config',
      lockTimeout: 'config',
      allowOutOfOrder: 'config',
      registry: 'default',
    });
  });

  it('takes DATABASE_URL over the config, relative to the working directory', () => {
    const s = resolveSettings({}, { DATABASE_URL: 'sqlite:./env.db' }, cwd, full);
    expect(s.database).toBe(`sqlite:${path.join(cwd, 'env.db')}`);
    expect(s.sources.database).toBe('env');
  });

  it('ignores an empty DATABASE_URL', () => {
    expect(resolveSettings({}, { DATABASE_URL: '' }, cwd, full).sources.database).toBe('config');
  });

  it('takes flags over the environment and the config', () => {
    const s = resolveSettings(
      {
        db: 'sqlite::memory:',
        dir: 'other',
        plugin: 'x',
        lockTimeout: 0.5,
        allowOutOfOrder: true,
        user: 'ci',
      },
      { DATABASE_URL: 'sqlite:./env.db' },
      cwd,
      full,
    );
    expect(s.database).toBe('sqlite::memory:');
    expect(s.migrationsDir).toBe(path.join(cwd, 'other'));
    expect(s.pluginId).toBe('x');
    expect(s.lockTimeoutMs).toBe(500);
    expect(s.user).toBe('ci');
    expect(s.sources).toMatchObject({
      database: 'flag',
      migrationsDir: 'flag',
      pluginId: 'flag',
      lockTimeout: 'flag',
    });
  });

  it("does not give another plugin (--plugin) the config's version and name", () => {
    const s = resolveSettings({ plugin: 'other' }, {}, cwd, full);
    expect(s.pluginVersion).toBeUndefined();
    expect(s.pluginName).toBeUndefined();
    expect(resolveSettings({ plugin: 'kb' }, {}, cwd, full).pluginVersion).toBe('1.2.0');
  });

  it('leaves non-SQLite URLs and absolute SQLite paths alone', () => {
    expect(resolveSettings({ db: 'postgres://u:p@h/db' }, {}, cwd, none).database).toBe(
      'postgres://u:p@h/db',
    );
    expect(resolveSettings({ db: 'sqlite:/abs/x.db' }, {}, cwd, none).database).toBe('sqlite:/abs/x.db');
  });

  it('keeps a relative SQLite URL short when it is relative to the process cwd anyway', () => {
    expect(resolveSettings({ db: 'sqlite:./x.db' }, {}, process.cwd(), none).database).toBe('sqlite:./x.db');
  });
});

describe('the registry URL', () => {
  const withRegistry: LoadedConfig = {
    ...full,
    config: { ...full.config, registry: 'https://config.example.com' },
  };
  const env = { CMPKG_REGISTRY: 'http://env.example.com:4880' };

  it('is --registry, else CMPKG_REGISTRY, else the config, else none', () => {
    const flag = resolveSettings({ registry: 'http://flag.example.com/' }, env, cwd, withRegistry);
    expect([flag.registry, flag.sources.registry]).toEqual(['http://flag.example.com/', 'flag']);
    const fromEnv = resolveSettings({}, env, cwd, withRegistry);
    expect([fromEnv.registry, fromEnv.sources.registry]).toEqual(['http://env.example.com:4880', 'env']);
    const fromConfig = resolveSettings({}, {}, cwd, withRegistry);
    expect([fromConfig.registry, fromConfig.sources.registry]).toEqual([
      'https://config.example.com',
      'config',
    ]);
    // An empty variable is no setting, as for DATABASE_URL.
    expect(resolveSettings({}, { CMPKG_REGISTRY: '' }, cwd, withRegistry).sources.registry).toBe('config');
    const nothing = resolveSettings({}, {}, cwd, full);
    expect([nothing.registry, nothing.sources.registry]).toEqual([undefined, 'default']);
  });

  it('is checked only when a command needs it: missing or not http(s) is a usage error naming its source', () => {
    const check = (flags: { registry?: string }, e: Record<string, string>) =>
      registryUrl(resolveSettings(flags, e, cwd, none), 'cmpkg search');
    expect(check({ registry: 'http://127.0.0.1:4880/' }, {})).toBe('http://127.0.0.1:4880');
    expect(check({ registry: 'https://reg.example.com/cmpkg/' }, {})).toBe('https://reg.example.com/cmpkg');
    expect(() => check({}, {})).toThrow(
      'cmpkg search needs --registry URL (or CMPKG_REGISTRY, or "registry" in cmpkg.config.json)',
    );
    expect(() => check({}, { CMPKG_REGISTRY: 'ftp://x.example.com' })).toThrow(
      'CMPKG_REGISTRY "ftp://x.example.com" must be an http:// or https:// URL',
    );
    expect(() => check({ registry: 'localhost:4880' }, {})).toThrow(
      /^--registry "localhost:4880" must be an http/,
    );
    expect(() => check({ registry: 'not a url' }, {})).toThrow('--registry "not a url" is not a URL');
    expect(() => check({ registry: 'http://x.example.com/?a=1' }, {})).toThrow(/must not have a query/);
    try {
      check({}, {});
    } catch (err) {
      expect(err).toMatchObject({ code: 'E_USAGE', category: 'input' });
    }
    // Resolving it never throws: `cmpkg up` with a bad CMPKG_REGISTRY in the shell still works.
    expect(resolveSettings({}, { CMPKG_REGISTRY: 'nonsense' }, cwd, none).registry).toBe('nonsense');
  });
});
