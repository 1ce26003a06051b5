import { UsageError } from '@cmpkg/core';
import type { CommandContext } from '../context.js';
import { ExitCode } from '../exit-codes.js';
import { pluginNameArgument, registryClientFor, requirePluginSpec } from '../registry-args.js';
import { distTagsText } from '../render.js';
import { TAG_PATTERN } from './publish.js';

function checkTag(tag: string): string {
  const t = tag.trim();
  if (!TAG_PATTERN.test(t)) {
    throw new UsageError(
      `"${tag}" is not a dist-tag name (a letter, then letters, digits, ".", "_" or "-")`,
      {
        details: { argument: tag },
      },
    );
  }
  return t;
}

/** `latest: 1.1.0, next: 2.0.0-beta.1` (or nothing when the registry did not send the tags). */
function tagsNote(tags: Record<string, string> | undefined): string {
  return tags === undefined ? '' : ` (dist-tags: ${distTagsText(tags, 'none')})`;
}

/**
 * `cmpkg dist-tag add NAME@VERSION TAG`: points TAG at a published version (owner's `CMPKG_TOKEN`),
 * e.g. `next` at a prerelease so `cmpkg install sample@next` finds it.
 *
 * @example
 * await runDistTagAdd(ctx, 'sample@2.0.0-beta.1', 'next');
 */
export async function runDistTagAdd(ctx: CommandContext, given: string, tagGiven: string): Promise<number> {
  const { out } = ctx;
  const wanted = requirePluginSpec(given, 'NAME@VERSION');
  const tag = checkTag(tagGiven);
  const client = await registryClientFor(ctx, 'cmpkg dist-tag add', { write: true });
  const { distTags } = await client.distTag.add(wanted.id, tag, wanted.spec);
  out.emitJson({
    ok: true,
    registry: client.shownUrl,
    name: wanted.id,
    tag,
    version: wanted.spec,
    ...(distTags ? { distTags } : {}),
  });
  const { c } = out;
  out.line(
    `${c.green('Tagged')} ${c.bold(`${wanted.id}@${wanted.spec}`)} as ${c.bold(tag)}${c.dim(tagsNote(distTags))}`,
  );
  return ExitCode.Ok;
}

/**
 * `cmpkg dist-tag rm NAME TAG`: removes a dist-tag (owner's `CMPKG_TOKEN`); `latest` cannot be
 * removed (exit 2).
 *
 * @example
 * await runDistTagRm(ctx, 'sample', 'next');
 */
export async function runDistTagRm(ctx: CommandContext, given: string, tagGiven: string): Promise<number> {
  const { out } = ctx;
  const id = pluginNameArgument(given, 'cmpkg dist-tag rm');
  const tag = checkTag(tagGiven);
  const client = await registryClientFor(ctx, 'cmpkg dist-tag rm', { write: true });
  const { distTags } = await client.distTag.rm(id, tag);
  out.emitJson({ ok: true, registry: client.shownUrl, name: id, tag, ...(distTags ? { distTags } : {}) });
  const { c } = out;
  out.line(`${c.green('Removed')} dist-tag ${c.bold(tag)} from ${c.bold(id)}${c.dim(tagsNote(distTags))}`);
  return ExitCode.Ok;
}
