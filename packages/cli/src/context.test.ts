import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { type LoadedConfig, resolveSettings } from './context.js';

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
