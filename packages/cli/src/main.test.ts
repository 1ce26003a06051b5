import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import pkg from '../package.json' with { type: 'json' };
import { runCli, tempProject } from './test-support.js';

let project: { dir: string; cleanup: () => Promise<void> };
beforeEach(async () => {
  project = await tempProject();
});
afterEach(async () => {
  await project.cleanup();
});

describe('main: usage', () => {
  it("exits 2 on an unknown command, with commander's message in the one-line format", async () => {
    const r = await runCli(['frobnicate'], { cwd: project.dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe("error[E_USAGE]: unknown command 'frobnicate'\n");
    expect(r.stdout).toBe('');
  });

  it('exits 2 on an unknown option, and suggests the near one', async () => {
    const r = await runCli(['up', '--dry-runn'], { cwd: project.dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error\[E_USAGE\]: unknown option '--dry-runn'.*--dry-run/);
  });

  it('reports usage errors as one JSON document with --json', async () => {
    const r = await runCli(['status', '--json', '--nope'], { cwd: project.dir });
    expect(r.code).toBe(2);
    const doc = JSON.parse(r.stdout);
    expect(doc).toMatchObject({ ok: false, error: { code: 'E_USAGE', category: 'input' } });
    expect(doc.error.message).toContain("unknown option '--nope'");
  });

  it('exits 2 on bad option values', async () => {
    expect((await runCli(['down', '--steps', 'zero'], { cwd: project.dir })).code).toBe(2);
    expect((await runCli(['status', '--lock-timeout', 'soon'], { cwd: project.dir })).code).toBe(2);
    expect((await runCli(['new', 'x', '--format', 'yaml'], { cwd: project.dir })).code).toBe(2);
    const both = await runCli(['down', '--steps', '1', '--all'], { cwd: project.dir });
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('cannot be used with');
  });

  it('prints help (exit 0) and the version (exit 0); no command at all is a usage error', async () => {
    const help = await runCli(['--help'], { cwd: project.dir });
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Exit codes:');
    const version = await runCli(['--version'], { cwd: project.dir });
    expect(version).toMatchObject({ code: 0, stdout: `${pkg.version}\n` });
    const bare = await runCli([], { cwd: project.dir });
    expect(bare.code).toBe(2);
    expect(bare.stderr).toContain('Usage: cmpkg');
    const bareJson = await runCli(['--json'], { cwd: project.dir });
    expect(bareJson.code).toBe(2);
    expect(JSON.parse(bareJson.stdout)).toMatchObject({ ok: false, error: { code: 'E_USAGE' } });
  });

  it('accepts process.argv-shaped arguments', async () => {
    const r = await runCli([process.execPath, '/usr/bin/cmpkg', '--version'], { cwd: project.dir });
    expect(r).toMatchObject({ code: 0, stdout: `${pkg.version}\n` });
  });
});

describe('main: database URLs', () => {
  it('exits 2 naming an unknown URL, global options after the command', async () => {
    const r = await runCli(['status', '--db', 'oracle://scott:tiger@db/x'], { cwd: project.dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      'error[E_USAGE]: unsupported database URL "oracle://scott:***@db/x": expected sqlite:./file.db, ' +
        'sqlite::memory:, postgres://user@host:5432/db or mysql://user@host:3306/db\n',
    );
  });

  it('reads a PostgreSQL URL from DATABASE_URL, and never prints its password', async () => {
    const r = await runCli(['--json', 'introspect'], {
      cwd: project.dir,
      env: { DATABASE_URL: 'postgres://u:pw@127.0.0.1:1/db' },
    });
    expect(r.code).toBe(1);
    const doc = JSON.parse(r.stdout);
    expect(doc.error.code).toBe('E_CONNECTION');
    expect(doc.error.message).toContain('cannot connect to PostgreSQL at 127.0.0.1:1/db');
    expect(r.stdout).not.toContain('pw@');
  });
});
