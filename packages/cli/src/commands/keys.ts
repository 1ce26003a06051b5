import path from 'node:path';
import { parsePublicKey } from '@cmpkg/packager';
import type { CommandContext } from '../context.js';
import { ExitCode } from '../exit-codes.js';
import { formatTable } from '../output.js';
import { pluginNameArgument, registryClientFor } from '../registry-args.js';
import { formatTimestamp } from '../render.js';
import { readOptionFile } from './transfer.js';

/**
 * Options of `cmpkg keys add`, as commander parses them.
 *
 * @example
 * const opts: KeysAddCommandOptions = { pubkey: 'keys/next.pub' };
 */
export interface KeysAddCommandOptions {
  /** The public key file (`cmpkg keygen`'s `.pub`, minisign format). */
  pubkey: string;
}

/**
 * `cmpkg keys list NAME`: the signing keys the registry accepts for a plugin (public).
 *
 * @example
 * await runKeysList(ctx, 'sample');
 */
export async function runKeysList(ctx: CommandContext, given: string): Promise<number> {
  const { out } = ctx;
  const id = pluginNameArgument(given, 'cmpkg keys list');
  const client = await registryClientFor(ctx, 'cmpkg keys list', { write: false });
  const { owner, keys } = await client.keys.list(id);
  out.emitJson({ ok: true, registry: client.shownUrl, name: id, owner, keys });
  const { c } = out;
  out.line(`${c.bold(id)} ${c.dim(`(owner ${owner})`)}`);
  out.lines(
    formatTable(
      keys.map((k) => [c.bold(k.keyId), formatTimestamp(k.addedAt), k.addedBy]),
      { header: ['KEY ID', 'ADDED', 'BY'], headerStyle: c.dim, indent: 2 },
    ),
  );
  return ExitCode.Ok;
}

/**
 * `cmpkg keys add NAME --pubkey FILE`: registers another signing key for a plugin (owner's
 * `CMPKG_TOKEN`). The key file is read and checked here first (a file that is not a key exits 2,
 * `E_KEY_FORMAT`, and nothing is sent). A key that is registered already is not an error.
 *
 * @example
 * await runKeysAdd(ctx, 'sample', { pubkey: 'keys/next.pub' });
 */
export async function runKeysAdd(
  ctx: CommandContext,
  given: string,
  options: KeysAddCommandOptions,
): Promise<number> {
  const { out } = ctx;
  const id = pluginNameArgument(given, 'cmpkg keys add');
  const text = await readOptionFile('--pubkey', path.resolve(ctx.cwd, options.pubkey), options.pubkey);
  const key = parsePublicKey(text, options.pubkey);
  const client = await registryClientFor(ctx, 'cmpkg keys add', { write: true });
  const { keyId, created } = await client.keys.add(id, text);
  out.emitJson({ ok: true, registry: client.shownUrl, name: id, keyId, created });
  const { c } = out;
  out.line(
    created
      ? `${c.green('Registered')} key ${c.bold(keyId)} for ${c.bold(id)}: packages signed by it can be published`
      : `Key ${c.bold(keyId)} was registered for ${c.bold(id)} already`,
  );
  if (keyId !== key.keyId) out.warn(`the registry names the key ${keyId}; the file says ${key.keyId}`);
  return ExitCode.Ok;
}

/**
 * `cmpkg keys remove NAME KEYID`: stops the registry accepting packages signed by a key (owner's
 * `CMPKG_TOKEN`). Published versions stay; the last key of a plugin cannot be removed (exit 2).
 *
 * @example
 * await runKeysRemove(ctx, 'sample', 'A1B2C3D4E5F60718');
 */
export async function runKeysRemove(ctx: CommandContext, given: string, keyId: string): Promise<number> {
  const { out } = ctx;
  const id = pluginNameArgument(given, 'cmpkg keys remove');
  const client = await registryClientFor(ctx, 'cmpkg keys remove', { write: true });
  await client.keys.remove(id, keyId.trim());
  out.emitJson({ ok: true, registry: client.shownUrl, name: id, keyId: keyId.trim() });
  out.line(`${out.c.green('Removed')} key ${out.c.bold(keyId.trim())} from ${out.c.bold(id)}`);
  return ExitCode.Ok;
}
