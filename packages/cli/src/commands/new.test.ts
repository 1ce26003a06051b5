import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { loadPlugin } from '@cmpkg/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli, tempProject } from '../test-support.js';

let project: { dir: string; cleanup: () => Promise<void> };
beforeEach(async () => {
  project = await tempProject();
});
afterEach(async () => {
  await project.cleanup();
});

const migrations = () => path.join(project.dir, 'migrations');

describe('cmpkg new', () => {
  it('numbers files 0001, 0002, ... and every format loads with the core loaders', async () => {
    await runCli(['init', '--plugin', 'kb'], { cwd: project.dir });
    const a = await runCli(['new', 'create', 'entries'], { cwd: project.dir });
    expect(a.code).toBe(0);
    expect(a.stdout).toContain(`created ${path.join('migrations', '0001_create_entries.sql')} (kb 0.1.0)`);
    expect((await runCli(['new', 'Add-Tags', '--format', 'json'], { cwd: project.dir })).code).toBe(0);
    const c = await runCli(['new', 'backfill slugs', '--format', 'ts', '--json'], { cwd: project.dir });
    expect(c.code).toBe(0);
    expect(JSON.parse(c.stdout)).toEqual({
      ok: true,
      files: [path.join(migrations(), '0003_backfill_slugs.ts')],
    });

    expect((await readdir(migrations())).sort()).toEqual([
      '0001_create_entries.sql',
      '0002_add_tags.json',
      '0003_backfill_slugs.ts',
    ]);
    const plugin = await loadPlugin({ dir: migrations(), id: 'kb' });
    expect(plugin.migrations.map((m) => [m.id, m.name, m.version, m.source?.format])).toEqual([
      ['0001_create_entries', 'Create entries', '0.1.0', 'sql'],
      ['0002_add_tags', 'Add Tags', '0.1.0', 'json'],
      ['0003_backfill_slugs', 'Backfill slugs', '0.1.0', 'module'],
    ]);
    expect(plugin.migrations.every((m) => m.pluginId === 'kb' && m.steps.down.length === 1)).toBe(true);
    expect(plugin.migrations[0]?.category).toBe('install');
    expect(plugin.migrations[1]?.category).toBe('upgrade');
  });

  it('fills @id, @name and @version in the SQL template', async () => {
    await runCli(['init', '--plugin', 'kb'], { cwd: project.dir });
    await runCli(['new', 'add_tags'], { cwd: project.dir });
    const sql = await readFile(path.join(migrations(), '0001_add_tags.sql'), 'utf8');
    expect(sql).toMatch(
      /^-- @id: 0001_add_tags\n-- @name: Add tags\n-- @description: Add tags\n-- @version: 0.1.0\n/,
    );
    expect(sql).toContain('\n-- UP MIGRATION\n');
    expect(sql).toContain('\n-- DOWN MIGRATION\n');
  });

  it('continues after the highest existing number and takes the highest version without a config', async () => {
    const dir = migrations();
    await runCli(['new', 'first'], { cwd: project.dir }); // creates the directory
    await writeFile(path.join(dir, '0007_old.sql'), '-- @version: 2.3.0\n-- UP\nSELECT 1;\n');
    await writeFile(path.join(dir, 'README.md'), '# notes\n');
    const r = await runCli(['new', 'next'], { cwd: project.dir });
    expect(r.code).toBe(0);
    const sql = await readFile(path.join(dir, '0008_next.sql'), 'utf8');
    expect(sql).toContain('-- @version: 2.3.0\n');
  });

  it("stamps the config's plugin.version when it has one", async () => {
    await writeFile(
      path.join(project.dir, 'cmpkg.config.json'),
      JSON.stringify({ plugin: { id: 'kb', version: '2.0.0' }, migrationsDir: 'db' }),
    );
    const r = await runCli(['new', 'next'], { cwd: project.dir });
    expect(r.code).toBe(0);
    expect(await readFile(path.join(project.dir, 'db', '0001_next.sql'), 'utf8')).toContain(
      '-- @version: 2.0.0\n',
    );
  });

  it('refuses a second migration with the same name, and names without letters', async () => {
    await runCli(['new', 'add_tags'], { cwd: project.dir });
    const twin = await runCli(['new', 'Add tags', '--format', 'json'], { cwd: project.dir });
    expect(twin.code).toBe(2);
    expect(twin.stderr).toBe(
      `error[E_EXISTS]: a migration named "add_tags" already exists (${path.join('migrations', '0001_add_tags.sql')}); choose another name\n`,
    );
    expect(await readdir(migrations())).toEqual(['0001_add_tags.sql']);
    const empty = await runCli(['new', '!!!'], { cwd: project.dir });
    expect(empty.code).toBe(2);
  });

  it('still creates the next file when a sibling does not parse, with a warning', async () => {
    await runCli(['new', 'one'], { cwd: project.dir });
    await writeFile(path.join(migrations(), '0001_one.sql'), '-- @bogus: 1\nSELECT 1;\n');
    const r = await runCli(['new', 'two'], { cwd: project.dir });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/^warning: could not read the existing migrations/);
    expect(await readdir(migrations())).toContain('0002_two.sql');
  });
});
