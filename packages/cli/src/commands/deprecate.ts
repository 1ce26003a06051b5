import type { CommandContext } from '../context.js';
import { ExitCode } from '../exit-codes.js';
import { plural } from '../output.js';
import { registryClientFor, requirePluginSpec } from '../registry-args.js';

/**
 * `cmpkg deprecate NAME@RANGE [MESSAGE]`: marks the published versions in RANGE as deprecated with
 * MESSAGE (installs still work, with a warning; a range prefers the versions that are not
 * deprecated). Without a MESSAGE (or with an empty one) it takes the mark off again. Needs the
 * owner's `CMPKG_TOKEN`; no version in the range exits 2 (`E_REGISTRY_NO_MATCH`).
 *
 * @example
 * await runDeprecate(ctx, 'sample@<1.1.0', 'use 1.1: 1.0 loses tags on upgrade');
 */
export async function runDeprecate(
  ctx: CommandContext,
  given: string,
  message: string | undefined,
): Promise<number> {
  const { out } = ctx;
  const wanted = requirePluginSpec(given, 'NAME@RANGE');
  const client = await registryClientFor(ctx, 'cmpkg deprecate', { write: true });
  const text = message?.trim() ?? '';
  const { versions } = await client.deprecate(wanted.id, wanted.spec, text);
  out.emitJson({
    ok: true,
    registry: client.shownUrl,
    name: wanted.id,
    range: wanted.spec,
    message: text,
    versions,
  });
  const { c } = out;
  const list = versions.length > 0 ? versions.join(', ') : c.dim('none changed');
  if (text === '') {
    out.line(
      `${c.green('Un-deprecated')} ${c.bold(wanted.id)} ${plural(versions.length, 'version')}: ${list}`,
    );
  } else {
    out.line(
      `${c.yellow('Deprecated')} ${c.bold(wanted.id)} ${plural(versions.length, 'version')}: ${list} ${c.dim(`("${text}")`)}`,
    );
  }
  return ExitCode.Ok;
}
