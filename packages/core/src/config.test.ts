import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CONFIG_FILE_NAME, loadConfig } from './config.js';
import { ConfigError } from './errors.js';

const root = mkdtempSync(join(tmpdir(), 'cmpkg-config-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let counter = 0;
function project(config?: string, name = CONFIG_FILE_NAME): string {
  const dir = join(root, `p${counter++}`);
  mkdirSync(dir);
  if (config !== undefined) writeFileSync(join(dir, name), config);
  return dir;
}

async function fails(promise: Promise<unknown>): Promise<ConfigError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('returns defaults when there is no config file', async () => {
    const cwd = project();
    expect(await loadConfig({ cwd })).toEqual({
      file: undefined,
      config: { migrationsDir: join(cwd, 'migrations') },
    });
  });

  it('reads cmpkg.config.json from cwd and resolves paths against its directory', async () => {
    const cwd = project(
      JSON.stringify({
        $schema: './node_modules/@cmpkg/core/schemas/config.json',
        plugin: { id: 'knowledge-base', version: '1.2.0', name: 'KB', description: 'Knowledge base' },
        migrationsDir: 'db/migrations',
        database: 'sqlite:./data/app.db',
        lockTimeout: 30,
        allowOutOfOrder: true,
      }),
    );
    const loaded = await loadConfig({ cwd });
    expect(loaded.file).toBe(join(cwd, CONFIG_FILE_NAME));
    expect(loaded.config).toEqual({
      $schema: './node_modules/@cmpkg/core/schemas/config.json',
      plugin: { id: 'knowledge-base', version: '1.2.0', name: 'KB', description: 'Knowledge base' },
      migrationsDir: join(cwd, 'db/migrations'),
      database: `sqlite:${join(cwd, 'data/app.db')}`,
      lockTimeout: 30,
      allowOutOfOrder: true,
    });
  });

  it('leaves non-file databases and absolute paths alone', async () => {
    for (const database of [
      'postgres://u@h/db',
      'sqlite::memory:',
      'sqlite:/abs/app.db',
      'mysql://root@localhost/x',
    ]) {
      const cwd = project(JSON.stringify({ database, migrationsDir: '/abs/migrations' }));
      const { config } = await loadConfig({ cwd });
      expect(config.database).toBe(database);
      expect(config.migrationsDir).toBe('/abs/migrations');
    }
  });

  it('takes an explicit file relative to cwd, and resolves against that file', async () => {
    const cwd = project();
    const sub = join(cwd, 'conf');
    mkdirSync(sub);
    writeFileSync(join(sub, 'custom.json'), JSON.stringify({ migrationsDir: 'm' }));
    const loaded = await loadConfig({ cwd, file: 'conf/custom.json' });
    expect(loaded).toEqual({ file: join(sub, 'custom.json'), config: { migrationsDir: join(sub, 'm') } });
  });

  it('an explicit file that does not exist is an error naming it', async () => {
    const cwd = project();
    const err = await fails(loadConfig({ cwd, file: 'missing.json' }));
    expect(err.code).toBe('E_CONFIG');
    expect(err.message).toContain(join(cwd, 'missing.json'));
  });

  it('invalid JSON names file and line', async () => {
    const cwd = project('{\n  "migrationsDir": "m",\n  "database": sqlite\n}');
    const err = await fails(loadConfig({ cwd }));
    expect(err.location).toEqual({ file: join(cwd, CONFIG_FILE_NAME), line: 3 });
    expect(err.message).toMatch(/invalid JSON/);
  });

  it('schema violations name file, field and line', async () => {
    const cwd = project('{\n  "plugin": {\n    "id": "Bad Id"\n  },\n  "lockTimeout": "soon"\n}');
    const err = await fails(loadConfig({ cwd }));
    expect(err.location).toEqual({ file: join(cwd, CONFIG_FILE_NAME), line: 3, field: 'plugin.id' });
    expect((err.details.issues as unknown[]).length).toBe(2);
  });

  it('unknown keys are errors at their line', async () => {
    const cwd = project('{\n  "migrationsDir": "m",\n  "migrationDir": "typo"\n}');
    const err = await fails(loadConfig({ cwd }));
    expect(err.location).toMatchObject({ line: 3, field: 'migrationDir' });
  });
});
