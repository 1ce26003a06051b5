import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { UsageError } from '@cmpkg/core';
import {
  createRotation,
  generateKeyPair,
  type KeyPair,
  refuseExistingKeyFiles,
  writeFileExclusive,
  writeKeyFiles,
} from '@cmpkg/packager';
import { type CommandContext, loadSettings } from '../context.js';
import { ExitCode } from '../exit-codes.js';
import { newPassphrase, OLD_PASSPHRASE_ENV, PASSPHRASE_ENV, readSecretKeyFor } from '../passphrase.js';

/**
 * Options of `cmpkg keygen`, as commander parses them.
 *
 * @example
 * const opts: KeygenCommandOptions = { out: 'keys/publisher', encrypt: true };
 */
export interface KeygenCommandOptions {
  /** Base path: writes `<out>.key` and `<out>.pub` (default `./cmpkg`). */
  out?: string;
  /** Encrypt the secret key with a passphrase (`CMPKG_KEY_PASSPHRASE` or typed on a terminal). */
  encrypt?: boolean;
  /** Replace existing key files instead of refusing. */
  force?: boolean;
  /** The old secret key: also write `<out>.rotation.json`, signed by it, moving trust to the new key. */
  rotateFrom?: string;
}

/** The `--json` document of `keygen`. */
export interface KeygenJson {
  ok: true;
  keyId: string;
  /** The minisign base64 line (what `--trust-key` files hold and `cmpkg_plugins.key_id` pins). */
  publicKey: string;
  secretKeyFile: string;
  publicKeyFile: string;
  encrypted: boolean;
  rotation?: { file: string; plugin: string; fromKeyId: string; toKeyId: string };
}

/** A path as the user sees it: relative to the working directory when it is inside it. */
export function shownPath(cwd: string, file: string): string {
  const relative = path.relative(cwd, file);
  return relative !== '' && !relative.startsWith('..') && !path.isAbsolute(relative) ? relative : file;
}

/**
 * `cmpkg keygen`: a new ed25519 publisher key. Writes `<base>.key` (cmpkg's secret key file,
 * mode 0600, optionally passphrase-encrypted) and `<base>.pub` (minisign public key format), and
 * prints the key id and both paths. Existing files are refused (exit 2) unless `--force`.
 *
 * With `--rotate-from OLD.key` (and the plugin id from `--plugin` or the config), it also writes
 * `<base>.rotation.json`: a statement signed by the old key that hands the plugin over to the new
 * one, which `cmpkg pack --rotation` puts into packages so hosts that pinned the old key accept it.
 * Everything that can fail (reading the old key, the passphrase, existing files) is checked before
 * anything is written.
 *
 * @example
 * await runKeygen(ctx, { out: 'keys/publisher', encrypt: true });
 */
export async function runKeygen(ctx: CommandContext, options: KeygenCommandOptions): Promise<number> {
  const { out } = ctx;
  const base = path.resolve(ctx.cwd, options.out ?? 'cmpkg');
  const secretFile = `${base}.key`;
  const publicFile = `${base}.pub`;
  const rotationFile = `${base}.rotation.json`;
  const force = options.force === true;

  let rotation: { old: KeyPair; pluginId: string } | undefined;
  if (options.rotateFrom !== undefined) {
    const settings = await loadSettings(ctx);
    if (settings.sources.pluginId === 'default') {
      throw new UsageError(
        '--rotate-from needs the plugin the key is rotated for: pass --plugin <id> (or use a config with plugin.id)',
        { details: { option: '--rotate-from' } },
      );
    }
    const oldFile = path.resolve(ctx.cwd, options.rotateFrom);
    if (oldFile === secretFile) {
      throw new UsageError(
        `--rotate-from ${options.rotateFrom} is the file the new key would replace; write the new key elsewhere (--out)`,
      );
    }
    const old = await readSecretKeyFor(ctx, '--rotate-from', oldFile, options.rotateFrom, [
      OLD_PASSPHRASE_ENV,
      PASSPHRASE_ENV,
    ]);
    rotation = { old, pluginId: settings.pluginId };
  }

  if (!force) {
    // Before the passphrase prompt: a refusal must not come after the user typed it twice.
    await refuseExistingKeyFiles(
      rotation ? [secretFile, publicFile, rotationFile] : [secretFile, publicFile],
      (file) => shownPath(ctx.cwd, file),
    );
  }
  const passphrase = options.encrypt ? await newPassphrase(ctx) : undefined;

  await mkdir(path.dirname(base), { recursive: true });
  const key = generateKeyPair();
  await writeKeyFiles(key, {
    secretFile,
    publicFile,
    force,
    ...(passphrase !== undefined ? { passphrase } : {}),
  });

  const json: KeygenJson = {
    ok: true,
    keyId: key.keyId,
    publicKey: key.encoded,
    secretKeyFile: secretFile,
    publicKeyFile: publicFile,
    encrypted: passphrase !== undefined,
  };
  if (rotation) {
    const statement = createRotation({ pluginId: rotation.pluginId, from: rotation.old, to: key });
    // Created exclusively, or (with --force) through a temp file and a rename.
    await writeFileExclusive(rotationFile, `${JSON.stringify(statement, null, 2)}\n`, {
      mode: 0o644,
      replace: force,
    });
    json.rotation = {
      file: rotationFile,
      plugin: rotation.pluginId,
      fromKeyId: rotation.old.keyId,
      toKeyId: key.keyId,
    };
  }

  out.emitJson(json);
  const { c } = out;
  out.line(`Generated key ${c.bold(key.keyId)} (ed25519, minisign-compatible)`);
  out.line(
    `  secret key: ${shownPath(ctx.cwd, secretFile)} ${c.dim(`(mode 0600, ${passphrase !== undefined ? 'passphrase-encrypted' : 'not encrypted'})`)}`,
  );
  out.line(`  public key: ${shownPath(ctx.cwd, publicFile)}`);
  if (json.rotation) {
    out.line(
      `  rotation:   ${shownPath(ctx.cwd, rotationFile)} ${c.dim(`(${json.rotation.plugin}: ${json.rotation.fromKeyId} → ${json.rotation.toKeyId}, signed by the old key)`)}`,
    );
  }
  out.line(
    c.dim(
      'Keep the .key file private. Hosts pin the key on the first install; `cmpkg install --trust-key <.pub>` checks it.',
    ),
  );
  return ExitCode.Ok;
}
