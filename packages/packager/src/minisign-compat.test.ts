import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatPublicKey, generateKeyPair, parsePublicKey, readPublicKey } from './keys.js';
import { parseSignature, signMessage, verifyMessage } from './signature.js';

/** The real minisign binary (from PATH): these tests prove interoperability with the stock tool, not with ourselves. */
function findMinisign(): string | undefined {
  const probe = spawnSync('minisign', ['-v'], { encoding: 'utf8' });
  return probe.status === 0 && /minisign/.test(`${probe.stdout}${probe.stderr}`) ? 'minisign' : undefined;
}

const minisign = findMinisign();
const inCi = process.env.CI === 'true' || process.env.CI === '1';

function run(args: string[], cwd: string) {
  const result = spawnSync(minisign!, args, { cwd, encoding: 'utf8', input: '' });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

if (!minisign && inCi) {
  describe('minisign compatibility', () => {
    it('needs the minisign binary in CI', () => {
      expect.fail('minisign is not on PATH: install the Debian package minisign (apt-get install minisign)');
    });
  });
}

describe.skipIf(!minisign)(
  minisign
    ? 'minisign compatibility (stock minisign binary)'
    : 'minisign compatibility (SKIPPED: minisign not on PATH)',
  () => {
    let dir: string;
    const message = new TextEncoder().encode(
      '{"format":"cmpkg/1","plugin":{"id":"sample","version":"1.0.0"}}\n',
    );

    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'cmpkg-minisign-'));
    });
    afterAll(() => {
      rmSync(dir, { recursive: true, force: true });
    });

    it('verifies our signature with -P <base64> and with -p file.pub', () => {
      const key = generateKeyPair();
      writeFileSync(join(dir, 'msg'), message);
      writeFileSync(
        join(dir, 'msg.sig'),
        signMessage(message, key, { trustedComment: 'cmpkg/1 sample@1.0.0 abc' }),
      );
      writeFileSync(join(dir, 'our.pub'), formatPublicKey(key));

      const withP = run(['-V', '-m', 'msg', '-x', 'msg.sig', '-P', key.encoded], dir);
      expect(withP.output).toContain('Signature and comment signature verified');
      expect(withP.output).toContain('Trusted comment: cmpkg/1 sample@1.0.0 abc');
      expect(withP.status).toBe(0);

      const withFile = run(['-V', '-m', 'msg', '-x', 'msg.sig', '-p', 'our.pub'], dir);
      expect(withFile.output).toContain('Signature and comment signature verified');
      expect(withFile.status).toBe(0);

      // -H makes minisign insist on the prehashed ("ED") format, which is what we write.
      expect(run(['-V', '-H', '-m', 'msg', '-x', 'msg.sig', '-P', key.encoded], dir).status).toBe(0);
    });

    it('rejects a tampered message, trusted comment, and another key', () => {
      const key = generateKeyPair();
      const sigText = signMessage(message, key, { trustedComment: 'original' });
      writeFileSync(join(dir, 'tampered'), Buffer.concat([Buffer.from(message), Buffer.from(' ')]));
      writeFileSync(join(dir, 'tampered.sig'), sigText);
      const tampered = run(['-V', '-m', 'tampered', '-x', 'tampered.sig', '-P', key.encoded], dir);
      expect(tampered.status).not.toBe(0);
      expect(tampered.output).toContain('Signature verification failed');

      writeFileSync(join(dir, 'msg2'), message);
      writeFileSync(
        join(dir, 'msg2.sig'),
        sigText.replace('trusted comment: original', 'trusted comment: forged'),
      );
      const comment = run(['-V', '-m', 'msg2', '-x', 'msg2.sig', '-P', key.encoded], dir);
      expect(comment.status).not.toBe(0);
      expect(comment.output).toContain('Comment signature verification failed');

      writeFileSync(join(dir, 'msg3.sig'), sigText);
      const other = run(['-V', '-m', 'msg2', '-x', 'msg3.sig', '-P', generateKeyPair().encoded], dir);
      expect(other.status).not.toBe(0);
    });

    it('reads a minisign-generated public key and verifies signatures made by minisign', async () => {
      const generated = run(['-G', '-W', '-p', 'x.pub', '-s', 'x.key'], dir);
      expect(generated.status, generated.output).toBe(0);
      const pubText = readFileSync(join(dir, 'x.pub'), 'utf8');
      const key = await readPublicKey(join(dir, 'x.pub'));
      // Our key id text is exactly what minisign prints in the .pub comment and its own output.
      expect(pubText.split('\n')[0]).toBe(`untrusted comment: minisign public key ${key.keyId}`);
      expect(formatPublicKey(key)).toBe(pubText);
      expect(generated.output).toContain(key.encoded);

      writeFileSync(join(dir, 'signed-by-minisign'), message);
      const signed = run(
        ['-S', '-s', 'x.key', '-m', 'signed-by-minisign', '-t', 'made by minisign 0.11', '-c', 'hello'],
        dir,
      );
      expect(signed.status, signed.output).toBe(0);
      const sigText = readFileSync(join(dir, 'signed-by-minisign.minisig'), 'utf8');
      const sig = parseSignature(sigText, 'signed-by-minisign.minisig');
      expect(sig).toMatchObject({
        algorithm: 'ED',
        keyId: key.keyId,
        trustedComment: 'made by minisign 0.11',
        untrustedComment: 'hello',
      });
      expect(() => verifyMessage(message, sigText, key)).not.toThrow();
      expect(() => verifyMessage(new TextEncoder().encode('other'), sigText, key)).toThrow(
        expect.objectContaining({ code: 'E_SIGNATURE_INVALID' }),
      );

      // Legacy (non-prehashed "Ed") signatures from `minisign -S -l` verify too.
      writeFileSync(join(dir, 'legacy'), message);
      const legacy = run(['-S', '-l', '-s', 'x.key', '-m', 'legacy', '-t', 'legacy'], dir);
      expect(legacy.status, legacy.output).toBe(0);
      const legacyText = readFileSync(join(dir, 'legacy.minisig'), 'utf8');
      expect(parseSignature(legacyText).algorithm).toBe('Ed');
      expect(() => verifyMessage(message, legacyText, key)).not.toThrow();
      expect(() => verifyMessage(new TextEncoder().encode('other'), legacyText, key)).toThrow(
        expect.objectContaining({ code: 'E_SIGNATURE_INVALID' }),
      );

      // And the bare base64 line minisign printed parses to the same key.
      expect(parsePublicKey(key.encoded).publicKey).toEqual(key.publicKey);
    });
  },
);
