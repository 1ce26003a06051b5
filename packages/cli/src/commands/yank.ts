import type { CommandContext } from '../context.js';
import { ExitCode } from '../exit-codes.js';
import { registryClientFor, requirePluginSpec } from '../registry-args.js';
import { distTagsText } from '../render.js';

/**
 * Options of `cmpkg yank`, as commander parses them.
 *
 * @example
 * const opts: YankCommandOptions = { undo: true };
 */
export interface YankCommandOptions {
  /** Restore a yanked version. */
  undo?: boolean;
}

/**
 * `cmpkg yank NAME@VERSION [--undo]`: yanks a published version. It stays downloadable (hosts that
 * pinned it can still install it by its exact version), but ranges and tags skip it: `latest` moves
 * to the highest remaining stable version and other tags on it are removed. `--undo` restores it
 * (tags are not moved back). Needs the owner's `CMPKG_TOKEN`.
 *
 * @example
 * await runYank(ctx, 'sample@1.0.0', {});
 */
export async function runYank(
  ctx: CommandContext,
  given: string,
  options: YankCommandOptions,
): Promise<number> {
  const { out } = ctx;
  const wanted = requirePluginSpec(given, 'NAME@VERSION');
  const client = await registryClientFor(ctx, 'cmpkg yank', { write: true });
  const result = await client.yank(wanted.id, wanted.spec, options.undo !== true);
  out.emitJson({ ok: true, registry: client.shownUrl, name: wanted.id, ...result });
  const { c } = out;
  const verb = result.yanked ? c.yellow('Yanked') : c.green('Restored');
  out.line(
    `${verb} ${c.bold(`${wanted.id}@${result.version}`)} ${c.dim(`(dist-tags: ${distTagsText(result.distTags, '(none)')})`)}`,
  );
  return ExitCode.Ok;
}
