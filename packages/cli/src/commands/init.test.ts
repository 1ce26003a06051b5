import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { loadConfig } from '@cmpkg/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli, tempProject } from '../test-support.js';
import { pluginIdFromFolder } from './init.js';

let project: { dir: string; cleanup: () => Promise<void> };
beforeEach(async () => {
  project = await tempProject();
});
afterEach(async () => {
  await project.cleanup();
});

describe('cmpkg init', () => {
  it('writes a config that the config loader reads back, and the migrations directory', async () => {
    const dir = path.join(project.dir, 'My Plugin');
    await mkdir(dir);
    const r = await runCli(['init'], { cwd: dir });
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toContain('wrote cmpkg.config.json (plugin my-plugin,');
    const written = JSON.parse(await readFile(path.join(dir, 'cmpkg.config.json'), 'utf8'));
    expect(written).toEqual({
      plugin: { id: 'my-plugin' },
      migrationsDir: 'migrations',
      database: 'sqlite:./cmpkg.db',
    });
    expect((await stat(path.join(dir, 'migrations'))).isDirectory()).toBe(true);
    const loaded = await loadConfig({ cwd: dir });
    expect(loaded.config.plugin?.id).toBe('my-plugin');
    expect(loaded.config.migrationsDir).toBe(path.join(dir, 'migrations'));
  });

  it('takes --plugin, --dir and --db, and reports the files as JSON', async () => {
    const r = await runCli(
      ['init', '--plugin', 'kb', '--dir', 'db/migrations', '--db', 'sqlite:./kb.db', '--json'],
      {
        cwd: project.dir,
      },
    );
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      ok: true,
      files: [path.join(project.dir, 'cmpkg.config.json'), path.join(project.dir, 'db', 'migrations')],
    });
    const written = JSON.parse(await readFile(path.join(project.dir, 'cmpkg.config.json'), 'utf8'));
    expect(written).toMatchObject({
      plugin: { id: 'kb' },
      migrationsDir: 'db/migrations',
      database: 'sqlite:./kb.db',
    });
  });

  it('refuses to overwrite an existing config (exit 2) unless --force', async () => {
    const file = path.join(project.dir, 'cmpkg.config.json');
    await writeFile(file, '{ "broken": ');
    const refused = await runCli(['init'], { cwd: project.dir });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toBe(
      'error[E_EXISTS]: cmpkg.config.json already exists; use --force to overwrite it\n',
    );
    expect(await readFile(file, 'utf8')).toBe('{ "broken": ');

    const forced = await runCli(['init', '--force', '--plugin', 'x'], { cwd: project.dir });
    expect(forced.code).toBe(0);
    expect(JSON.parse(await readFile(file, 'utf8')).plugin.id).toBe('x');
  });

  it('rejects a plugin id the model would reject', async () => {
    const r = await runCli(['init', '--plugin', 'Not Valid'], { cwd: project.dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('error[E_USAGE]: --plugin "Not Valid"');
  });

  it('derives plugin ids from folder names', () => {
    expect(pluginIdFromFolder('Knowledge Base')).toBe('knowledge-base');
    expect(pluginIdFromFolder('__x__')).toBe('x');
    expect(pluginIdFromFolder('???')).toBe('default');
  });
});
