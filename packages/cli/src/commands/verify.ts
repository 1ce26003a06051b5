import { access } from 'node:fs/promises';
import path from 'node:path';
import { UsageError } from '@cmpkg/core';
import { type OpenPackageOptions, type PublicKey, parsePublicKey, verifyPackage } from '@cmpkg/packager';
import type { CommandContext } from '../context.js';
import { ExitCode } from '../exit-codes.js';
import { formatBytes } from '../output.js';
import { readOptionFile, unreadableReason } from './transfer.js';

/**
 * Options of `cmpkg verify` and `cmpkg inspect`.
 *
 * @example
 * const opts: PackageFileOptions = { pubkey: 'publisher.pub' };
 */
export interface PackageFileOptions {
  /** The publisher's public key (`.pub` file): the package must be signed by it. */
  pubkey?: string;
}

/**
 * The archive path of `verify`, `inspect` and `install`, resolved and readable; a missing file is a
 * usage error (exit 2) naming it, before any verification starts. A check ahead of the read on
 * purpose: the packager opens the archive only after the key (and for `install` the settings and
 * the database) are checked, and a missing archive is reported first.
 *
 * @example
 * const file = await packageFileArgument(ctx, 'sample-1.0.0.cmpkg');
 */
async function packageFileArgument(ctx: CommandContext, given: string): Promise<string> {
  const file = path.resolve(ctx.cwd, given);
  try {
    await access(file);
  } catch (err) {
    throw new UsageError(`${given}: cannot read the package: ${unreadableReason(err)}`, {
      details: { file },
      cause: err,
    });
  }
  return file;
}

/**
 * The key of `--pubkey` / `--trust-key`, parsed (a bad key file is `E_KEY_FORMAT`, exit 2; a
 * missing one `E_USAGE`, exit 2), or undefined when the option is not given.
 *
 * @example
 * const trusted = await publicKeyOption(ctx, '--pubkey', options.pubkey);
 */
export async function publicKeyOption(
  ctx: CommandContext,
  option: string,
  given: string | undefined,
): Promise<PublicKey | undefined> {
  if (given === undefined) return undefined;
  const file = path.resolve(ctx.cwd, given);
  return parsePublicKey(await readOptionFile(option, file, given, 'the key file'), file);
}

/**
 * The preamble of `verify`, `inspect` and `install`: the archive argument ({@link packageFileArgument})
 * and the key option ({@link publicKeyOption}), checked in that order before anything is opened.
 * `trust` is what `verifyPackage`/`inspectPackage` take: the signer must be `key` when one is given.
 *
 * @example
 * const { file, trust } = await packageArguments(ctx, 'sample-1.0.0.cmpkg', '--pubkey', options.pubkey);
 * await verifyPackage(file, trust);
 */
export async function packageArguments(
  ctx: CommandContext,
  given: string,
  keyOption: string,
  keyGiven: string | undefined,
): Promise<{ file: string; key: PublicKey | undefined; trust: OpenPackageOptions }> {
  const file = await packageFileArgument(ctx, given);
  const key = await publicKeyOption(ctx, keyOption, keyGiven);
  return { file, key, trust: key ? { trustedKeys: [key] } : {} };
}

/** The words after "signed by KEYID": whether it was checked against a key. */
export function trustText(trusted: boolean | null): string {
  if (trusted === true) return 'trusted';
  if (trusted === false) return 'NOT the key given';
  return 'not checked against a key: pass --pubkey';
}

/**
 * `cmpkg verify FILE [--pubkey KEY]`: checks a package completely — the signature over its
 * manifest, then every entry's size and SHA-256 as it streams (into a temporary directory that is
 * removed again) — and prints `verified: <id>@<version>, signed by <KEYID> (…)`. With `--pubkey`
 * the signer must be that key (else `E_UNTRUSTED_KEY`, exit 3); a damaged archive exits 2, an
 * altered signature 3. `--json`: the `PackageSummary` with `ok: true`.
 *
 * @example
 * await runVerify(ctx, 'sample-1.0.0.cmpkg', { pubkey: 'publisher.pub' });
 */
export async function runVerify(
  ctx: CommandContext,
  given: string,
  options: PackageFileOptions,
): Promise<number> {
  const { out } = ctx;
  const { file, key, trust } = await packageArguments(ctx, given, '--pubkey', options.pubkey);
  const summary = await verifyPackage(file, trust);
  const trusted = key ? summary.trusted : null;
  out.emitJson({ ok: true, ...summary, trusted });
  const { c } = out;
  out.line(
    `${c.green('verified')}: ${c.bold(`${summary.pluginId}@${summary.version}`)}, signed by ${c.bold(summary.keyId)} (${trustText(trusted)})`,
  );
  out.line(c.dim(`  ${given}: ${formatBytes(summary.size)}, ${summary.files} files, ${summary.digest}`));
  return ExitCode.Ok;
}
