import { RegistryError, UsageError } from '@cmpkg/core';
import { verifyPackage } from '@cmpkg/packager';
import type { CommandContext } from '../context.js';
import { ExitCode } from '../exit-codes.js';
import { formatBytes, formatTable } from '../output.js';
import { registryClientFor } from '../registry-args.js';
import { packageArguments } from './verify.js';

/**
 * Options of `cmpkg publish`, as commander parses them.
 *
 * @example
 * const opts: PublishCommandOptions = { tag: 'next' };
 */
export interface PublishCommandOptions {
  /** The dist-tag the version gets (the registry's default: `latest`). */
  tag?: string;
}

/**
 * A dist-tag name, as the registry accepts them (it also refuses names that are semver ranges,
 * such as `x`).
 *
 * @example
 * TAG_PATTERN.test('next'); // true
 * TAG_PATTERN.test('^1'); // false
 */
export const TAG_PATTERN = /^[A-Za-z][A-Za-z0-9._-]*$/;

/**
 * `cmpkg publish FILE [--tag TAG]`: verifies the archive completely here first (a damaged one exits 2,
 * an altered signature 3, and the registry hears nothing of it), then uploads it with the token of
 * `CMPKG_TOKEN` and prints `Published sample@1.1.0 to URL (integrity …)`. The registry's refusals
 * come back with their own codes: no or a wrong token 3, a version that exists 3, a signer that is
 * not registered for the plugin 3, a plugin owned by someone else 3.
 *
 * @example
 * await runPublish(ctx, 'sample-1.1.0.cmpkg', { tag: 'latest' });
 */
export async function runPublish(
  ctx: CommandContext,
  given: string,
  options: PublishCommandOptions,
): Promise<number> {
  const { out } = ctx;
  const { file } = await packageArguments(ctx, given, '--pubkey', undefined);
  if (options.tag !== undefined && !TAG_PATTERN.test(options.tag)) {
    throw new UsageError(
      `--tag "${options.tag}" is not a dist-tag name (a letter, then letters, digits, ".", "_" or "-")`,
      { details: { option: '--tag' } },
    );
  }
  const client = await registryClientFor(ctx, 'cmpkg publish', { write: true });
  const local = await verifyPackage(file);
  const result = await client.publish(file, {
    pluginId: local.pluginId,
    ...(options.tag !== undefined ? { tag: options.tag } : {}),
  });
  // The registry hashed what it received: anything else than what was verified here is not ours.
  if (
    result.integrity !== local.integrity ||
    result.name !== local.pluginId ||
    result.version !== local.version
  ) {
    throw new RegistryError(
      'E_REGISTRY_RESPONSE',
      `${client.shownUrl} recorded ${result.name}@${result.version} (${result.integrity}) for ${given}, which is ${local.pluginId}@${local.version} (${local.integrity})`,
    );
  }

  const { ok: _ok, ...published } = result;
  out.emitJson({ ok: true, registry: client.shownUrl, ...published });
  const { c } = out;
  out.line(
    `${c.green('Published')} ${c.bold(`${result.name}@${result.version}`)} to ${client.shownUrl} ${c.dim(`(integrity ${result.integrity})`)}`,
  );
  const tags = Object.entries(result.distTags)
    .filter(([, version]) => version === result.version)
    .map(([tag]) => tag);
  out.lines(
    formatTable(
      [
        ['tarball', `${result.tarball} ${c.dim(`(${formatBytes(result.size)})`)}`],
        [
          'signer',
          result.keyId + (result.firstPublish ? c.dim(' (registered for the plugin: first publish)') : ''),
        ],
        ['dist-tags', tags.length > 0 ? tags.join(', ') : c.dim('(none point at this version)')],
      ],
      { indent: 2 },
    ),
  );
  return ExitCode.Ok;
}
