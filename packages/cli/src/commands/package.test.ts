import { cp, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import pkg from '../../package.json' with { type: 'json' };
import { runCli, tempProject } from '../test-support.js';
import { parseRequires } from './pack.js';

// In-process checks of the package commands: what the end-to-end suites (test/e2e/package-*.test.ts)
// cannot reach from outside, such as a terminal that answers questions, and the option routing.

const sampleDir = path.resolve(import.meta.dirname, '..', '..', '..', '..', 'examples', 'sample-plugin');

let project: { dir: string; cleanup: () => Promise<void> };

beforeEach(async () => {
  project = await tempProject('cmpkg-package-');
  await cp(sampleDir, project.dir, { recursive: true });
});
afterEach(async () => {
  await project.cleanup();
});

const run = (args: string[], io?: Parameters<typeof runCli>[1]['io']) =>
  runCli(args, { cwd: project.dir, ...(io ? { io } : {}) });

async function keyAndPackages(): Promise<void> {
  expect((await run(['keygen', '--out', 'publisher'])).code).toBe(0);
  for (const version of ['1.0.0', '2.0.0']) {
    const result = await run(['pack', '--key', 'publisher.key', '--version', version]);
    expect(result.code, result.stderr).toBe(0);
  }
}

describe('--version', () => {
  it("is pack's option after `pack`, and the program's anywhere else", async () => {
    expect((await run(['keygen', '--out', 'publisher'])).code).toBe(0);
    // Global options with values before the command, --version in the middle of pack's options.
    const packed = await run([
      '--config',
      'cmpkg.config.json',
      'pack',
      '--key',
      'publisher.key',
      '--version',
      '1.1.0',
      '--json',
    ]);
    expect(packed.code, packed.stderr).toBe(0);
    expect(JSON.parse(packed.stdout)).toMatchObject({ plugin: { id: 'sample', version: '1.1.0' } });
    const equals = await run(['pack', '--version=1.0.0', '--key', 'publisher.key', '--json']);
    expect(equals.code, equals.stderr).toBe(0);
    expect(JSON.parse(equals.stdout)).toMatchObject({ plugin: { version: '1.0.0' } });
    expect((await readdir(project.dir)).filter((f) => f.endsWith('.cmpkg')).sort()).toEqual([
      'sample-1.0.0.cmpkg',
      'sample-1.1.0.cmpkg',
    ]);

    const missingValue = await run(['pack', '--key', 'publisher.key', '--version']);
    expect(missingValue.code).toBe(2);
    expect(missingValue.stderr).toMatch(/--version <version>.*argument missing/);

    for (const args of [['--version'], ['-V'], ['--version', 'pack'], ['status', '--version']]) {
      const result = await run(args);
      expect(result.code, args.join(' ')).toBe(0);
      expect(result.stdout, args.join(' ')).toBe(`${pkg.version}\n`);
    }
  });
});

describe('cmpkg install on a terminal', () => {
  it('asks before a downgrade; "no" changes nothing (exit 1), --yes does not ask', async () => {
    await keyAndPackages();
    const db = ['--db', 'sqlite:./app.db'];
    expect((await run(['install', 'sample-2.0.0.cmpkg', ...db])).code).toBe(0);
    const questions: string[] = [];
    const no = await run(['install', 'sample-1.0.0.cmpkg', '--allow-downgrade', ...db], {
      stdin: { isTTY: true },
      confirm: async (q) => {
        questions.push(q);
        return false;
      },
    });
    expect(no.code).toBe(1);
    expect(no.stderr).toMatch(/E_CANCELLED.*nothing was changed/);
    expect(questions).toEqual([expect.stringMatching(/^Downgrade sample 2\.0\.0 → 1\.0\.0 on .*\[y\/N\] $/)]);
    const status = await run(['status', '--json', ...db]);
    expect(JSON.parse(status.stdout)).toMatchObject({ installedVersion: '2.0.0' });

    const yes = await run(['install', 'sample-1.0.0.cmpkg', '--allow-downgrade', '--yes', ...db], {
      stdin: { isTTY: true },
      confirm: async () => {
        throw new Error('must not ask with --yes');
      },
    });
    expect(yes.code, yes.stderr).toBe(0);
    expect(yes.stdout).toMatch(/Downgraded sample 2\.0\.0 → 1\.0\.0/);
  });

  it('an upgrade does not ask, and an encrypted key is asked for once on a terminal', async () => {
    const keygen = await run(['keygen', '--out', 'publisher', '--encrypt'], {
      stdin: { isTTY: true },
      promptSecret: async () => 'typed secret',
    });
    expect(keygen.code, keygen.stderr).toBe(0);
    const asked: string[] = [];
    const packed = await run(['pack', '--key', 'publisher.key', '--version', '1.0.0'], {
      stdin: { isTTY: true },
      promptSecret: async (q) => {
        asked.push(q);
        return 'typed secret';
      },
    });
    expect(packed.code, packed.stderr).toBe(0);
    expect(asked).toEqual(['Passphrase for publisher.key: ']);
    const wrong = await run(['pack', '--key', 'publisher.key', '--version', '2.0.0'], {
      stdin: { isTTY: true },
      promptSecret: async () => 'not it',
    });
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(/E_KEY_PASSPHRASE.*wrong passphrase/);

    const db = ['--db', 'sqlite:./app.db'];
    const install = await run(['install', 'sample-1.0.0.cmpkg', ...db], {
      stdin: { isTTY: true },
      confirm: async () => {
        throw new Error('must not ask for an install');
      },
    });
    expect(install.code, install.stderr).toBe(0);
  });
});

describe('the package argument and key option of verify, inspect and install', () => {
  it('a missing archive or key file is a usage error (exit 2) naming it; a key file that is not a key is E_KEY_FORMAT', async () => {
    expect((await run(['keygen', '--out', 'publisher'])).code).toBe(0);
    const packed = await run(['pack', '--key', 'publisher.key', '--version', '1.0.0']);
    expect(packed.code, packed.stderr).toBe(0);
    await writeFile(path.join(project.dir, 'junk.pub'), 'not a key\n');
    const commands = [
      ['verify', '--pubkey', []],
      ['inspect', '--pubkey', []],
      ['install', '--trust-key', ['--db', 'sqlite:./app.db']],
    ] as const;
    for (const [name, option, extra] of commands) {
      const command = (...args: string[]) => run([name, ...args, ...extra]);
      const noFile = await command('missing.cmpkg', option, 'publisher.pub');
      expect(noFile.code, name).toBe(2);
      expect(noFile.stderr, name).toMatch(
        /error\[E_USAGE\]: missing\.cmpkg: cannot read the package: no such file/,
      );
      const noKey = await command('sample-1.0.0.cmpkg', option, 'missing.pub');
      expect(noKey.code, name).toBe(2);
      expect(noKey.stderr, name).toMatch(
        new RegExp(`error\\[E_USAGE\\]: ${option} missing\\.pub: cannot read the key file: no such file`),
      );
      const junk = await command('sample-1.0.0.cmpkg', option, 'junk.pub');
      expect(junk.code, name).toBe(2);
      expect(junk.stderr, name).toMatch(/error\[E_KEY_FORMAT\]: .*junk\.pub/);
    }
    // Refused before the database was opened.
    expect((await readdir(project.dir)).filter((f) => f.startsWith('app.db'))).toEqual([]);
  });
});

describe('parseRequires', () => {
  it('splits id@range at the first @, and refuses a missing part or a plugin named twice', () => {
    expect(parseRequires(['auth@^2.0.0', 'billing@>=1.2 <2'])).toEqual({
      auth: '^2.0.0',
      billing: '>=1.2 <2',
    });
    expect(parseRequires(['auth@^2', 'auth@^2'])).toEqual({ auth: '^2' });
    for (const bad of ['auth', '@^1', 'auth@', ' @1']) {
      expect(() => parseRequires([bad]), bad).toThrow(/--requires takes <plugin-id>@<semver range>/);
    }
    expect(() => parseRequires(['auth@^1', 'auth@^2'])).toThrow(/names auth twice/);
  });
});
