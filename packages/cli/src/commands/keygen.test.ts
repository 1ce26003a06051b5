import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  parsePublicKey,
  parseRotations,
  readPublicKey,
  readSecretKey,
  verifyKeyChange,
} from '@cmpkg/packager';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli, tempProject } from '../test-support.js';

let project: { dir: string; cleanup: () => Promise<void> };

beforeEach(async () => {
  project = await tempProject('cmpkg-keygen-');
});
afterEach(async () => {
  await project.cleanup();
});

const file = (name: string) => path.join(project.dir, name);
const keyFiles = async () => (await readdir(project.dir)).filter((n) => n !== 'node_modules').sort();

describe('cmpkg keygen', () => {
  it('writes <base>.key (0600) and <base>.pub, and prints the key id and both paths', async () => {
    const result = await runCli(['keygen', '--out', 'keys/publisher'], { cwd: project.dir });
    expect(result.code, result.stderr).toBe(0);
    const pub = await readPublicKey(file('keys/publisher.pub'));
    expect(pub.keyId).toMatch(/^[0-9A-F]{16}$/);
    expect(result.stdout).toContain(`Generated key ${pub.keyId}`);
    expect(result.stdout).toContain(path.join('keys', 'publisher.key'));
    expect(result.stdout).toContain(path.join('keys', 'publisher.pub'));
    expect((await stat(file('keys/publisher.key'))).mode & 0o777).toBe(0o600);
    const secret = await readSecretKey(file('keys/publisher.key'));
    expect(secret.keyId).toBe(pub.keyId);
    expect(await readFile(file('keys/publisher.pub'), 'utf8')).toMatch(
      new RegExp(`^untrusted comment: minisign public key ${pub.keyId}\\n`),
    );
  });

  it('defaults to ./cmpkg.key and ./cmpkg.pub; --json prints only the JSON document', async () => {
    const result = await runCli(['keygen', '--json'], { cwd: project.dir });
    expect(result.code, result.stderr).toBe(0);
    const doc = JSON.parse(result.stdout) as Record<string, unknown>;
    expect(doc).toMatchObject({
      ok: true,
      secretKeyFile: file('cmpkg.key'),
      publicKeyFile: file('cmpkg.pub'),
      encrypted: false,
    });
    const pub = parsePublicKey(String(doc.publicKey));
    expect(doc.keyId).toBe(pub.keyId);
    expect(await keyFiles()).toEqual(['cmpkg.key', 'cmpkg.pub']);
  });

  it('refuses to overwrite existing key files (exit 2) unless --force', async () => {
    expect((await runCli(['keygen'], { cwd: project.dir })).code).toBe(0);
    const before = await readFile(file('cmpkg.key'), 'utf8');
    const again = await runCli(['keygen'], { cwd: project.dir });
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/error\[E_USAGE\]: cmpkg\.key already exists.*--force/);
    expect(await readFile(file('cmpkg.key'), 'utf8')).toBe(before);

    const forced = await runCli(['keygen', '--force'], { cwd: project.dir });
    expect(forced.code, forced.stderr).toBe(0);
    expect(await readFile(file('cmpkg.key'), 'utf8')).not.toBe(before);
    expect((await stat(file('cmpkg.key'))).mode & 0o777).toBe(0o600);
  });

  it('--encrypt takes CMPKG_KEY_PASSPHRASE; the key then needs it', async () => {
    const result = await runCli(['keygen', '--encrypt', '--json'], {
      cwd: project.dir,
      env: { CMPKG_KEY_PASSPHRASE: 'correct horse' },
    });
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ encrypted: true });
    await expect(readSecretKey(file('cmpkg.key'))).rejects.toMatchObject({ code: 'E_KEY_PASSPHRASE' });
    await expect(readSecretKey(file('cmpkg.key'), { passphrase: 'wrong' })).rejects.toMatchObject({
      code: 'E_KEY_PASSPHRASE',
    });
    const key = await readSecretKey(file('cmpkg.key'), { passphrase: 'correct horse' });
    expect(key.keyId).toBe(JSON.parse(result.stdout).keyId);
  });

  it('--encrypt without the variable and without a terminal is a usage error; nothing is written', async () => {
    const result = await runCli(['keygen', '--encrypt'], { cwd: project.dir });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/CMPKG_KEY_PASSPHRASE/);
    expect(await keyFiles()).toEqual([]);
  });

  it('--encrypt on a terminal asks twice; different answers write nothing, equal ones encrypt', async () => {
    const answers = (list: string[]) => {
      const asked: string[] = [];
      return {
        asked,
        promptSecret: async (question: string) => {
          asked.push(question);
          return list.shift() ?? '';
        },
      };
    };
    const differ = answers(['one', 'two']);
    const refused = await runCli(['keygen', '--encrypt'], {
      cwd: project.dir,
      io: { stdin: { isTTY: true }, promptSecret: differ.promptSecret },
    });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/passphrases differ/);
    expect(differ.asked).toHaveLength(2);
    expect(await keyFiles()).toEqual([]);

    const same = answers(['s3cret', 's3cret']);
    const ok = await runCli(['keygen', '--encrypt'], {
      cwd: project.dir,
      io: { stdin: { isTTY: true }, promptSecret: same.promptSecret },
    });
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/passphrase-encrypted/);
    await expect(readSecretKey(file('cmpkg.key'), { passphrase: 's3cret' })).resolves.toBeDefined();
  });

  it('--rotate-from writes a rotation statement signed by the old key for the plugin', async () => {
    expect((await runCli(['keygen', '--out', 'old'], { cwd: project.dir })).code).toBe(0);
    const result = await runCli(
      ['keygen', '--out', 'new', '--rotate-from', 'old.key', '--plugin', 'sample'],
      {
        cwd: project.dir,
      },
    );
    expect(result.code, result.stderr).toBe(0);
    const oldKey = await readPublicKey(file('old.pub'));
    const newKey = await readPublicKey(file('new.pub'));
    expect(result.stdout).toContain(`sample: ${oldKey.keyId} → ${newKey.keyId}`);
    const statements = parseRotations(await readFile(file('new.rotation.json'), 'utf8'), 'new.rotation.json');
    expect(statements).toHaveLength(1);
    expect(statements[0]).toMatchObject({ plugin: 'sample', from: oldKey.encoded, to: newKey.encoded });
    expect(verifyKeyChange({ pluginId: 'sample', pinned: oldKey, signer: newKey, statements })).toHaveLength(
      1,
    );
    // The statement is for this plugin only.
    expect(() =>
      verifyKeyChange({ pluginId: 'other', pinned: oldKey, signer: newKey, statements }),
    ).toThrow();
  });

  it('--rotate-from needs a plugin id, and reads an encrypted old key with CMPKG_OLD_KEY_PASSPHRASE', async () => {
    const noPlugin = await runCli(['keygen', '--out', 'new', '--rotate-from', 'old.key'], {
      cwd: project.dir,
    });
    expect(noPlugin.code).toBe(2);
    expect(noPlugin.stderr).toMatch(/--plugin/);

    const old = await runCli(['keygen', '--out', 'old', '--encrypt'], {
      cwd: project.dir,
      env: { CMPKG_KEY_PASSPHRASE: 'old secret' },
    });
    expect(old.code, old.stderr).toBe(0);
    const args = ['keygen', '--out', 'new', '--rotate-from', 'old.key', '--plugin', 'sample'];
    const missing = await runCli(args, { cwd: project.dir });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/E_KEY_PASSPHRASE.*CMPKG_OLD_KEY_PASSPHRASE/);
    const wrong = await runCli(args, { cwd: project.dir, env: { CMPKG_OLD_KEY_PASSPHRASE: 'nope' } });
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(/E_KEY_PASSPHRASE.*wrong passphrase/);
    // Nothing of the new key was written by the refused runs.
    expect(await keyFiles()).toEqual(['old.key', 'old.pub']);

    const ok = await runCli(args, { cwd: project.dir, env: { CMPKG_OLD_KEY_PASSPHRASE: 'old secret' } });
    expect(ok.code, ok.stderr).toBe(0);
    expect(await keyFiles()).toEqual(['new.key', 'new.pub', 'new.rotation.json', 'old.key', 'old.pub']);
    // The new key is not encrypted: --encrypt was not given for it.
    await expect(readSecretKey(file('new.key'))).resolves.toBeDefined();
  });

  it('refuses an existing rotation file before writing anything, and before asking for a passphrase', async () => {
    expect((await runCli(['keygen', '--out', 'old'], { cwd: project.dir })).code).toBe(0);
    await writeFile(file('keys.rotation.json'), 'kept\n');
    const result = await runCli(
      ['keygen', '--out', 'keys', '--encrypt', '--rotate-from', 'old.key', '--plugin', 'sample'],
      {
        cwd: project.dir,
        io: {
          stdin: { isTTY: true },
          promptSecret: async () => {
            throw new Error('must not ask before refusing');
          },
        },
      },
    );
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/error\[E_USAGE\]: keys\.rotation\.json already exists.*--force/);
    expect(await keyFiles()).toEqual(['keys.rotation.json', 'old.key', 'old.pub']);
    expect(await readFile(file('keys.rotation.json'), 'utf8')).toBe('kept\n');
  });

  it('a --rotate-from file that is not a key exits 2 naming it', async () => {
    await writeFile(file('junk.key'), 'not a key\n');
    const result = await runCli(['keygen', '--rotate-from', 'junk.key', '--plugin', 'sample'], {
      cwd: project.dir,
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/E_KEY_FORMAT.*junk\.key/);
    expect(await keyFiles()).toEqual(['junk.key']);
  });
});
