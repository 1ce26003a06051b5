import type { CommandContext } from '../context.js';
import { ExitCode } from '../exit-codes.js';
import { formatTable, type Output, plural } from '../output.js';
import { registryClientFor } from '../registry-args.js';
import type { SearchPage } from '../registry-client.js';
import { formatTimestamp } from '../render.js';

/**
 * Options of `cmpkg search`, as commander parses them.
 *
 * @example
 * const opts: SearchCommandOptions = { size: 50 };
 */
export interface SearchCommandOptions {
  /** Results per page, 1..250 (the registry's default: 20). */
  size?: number;
  /** How many results to skip. */
  from?: number;
}

/** Longest description shown in a search row; the rest is cut with an ellipsis. */
const DESCRIPTION_WIDTH = 60;

/**
 * Cuts `text` to `width` characters (counting code points), ending in `…` when it was longer.
 *
 * @example
 * truncate('A knowledge base with tags and revisions', 20); // 'A knowledge base wi…'
 */
export function truncate(text: string, width: number): string {
  const oneLine = text.replace(/\s+/g, ' ').trim();
  const chars = [...oneLine];
  return chars.length <= width ? oneLine : `${chars.slice(0, Math.max(0, width - 1)).join('')}…`;
}

/**
 * A search page as a table: name, latest, description (truncated), updated; and how many there are.
 *
 * @example
 * out.lines(renderSearch(out, page, 'sam'));
 */
export function renderSearch(out: Pick<Output, 'c'>, page: SearchPage, text: string, from = 0): string[] {
  const { c } = out;
  if (page.objects.length === 0) {
    return [text === '' ? 'The registry has no plugins yet.' : `No plugins match "${text}".`];
  }
  const rows = page.objects.map(({ package: p }) => [
    c.bold(p.name),
    p.version ?? c.dim('(none)'),
    truncate(p.description || p.displayName, DESCRIPTION_WIDTH),
    formatTimestamp(p.date).slice(0, 10),
  ]);
  const lines = formatTable(rows, {
    header: ['NAME', 'LATEST', 'DESCRIPTION', 'UPDATED'],
    headerStyle: c.dim,
  });
  const shown = page.objects.length;
  lines.push(
    c.dim(
      shown === page.total
        ? plural(page.total, 'plugin')
        : `${from + 1}–${from + shown} of ${plural(page.total, 'plugin')} (--from ${from + shown} for more)`,
    ),
  );
  return lines;
}

/**
 * `cmpkg search [TEXT] [--size N] [--from N]`: the registry's plugins whose id, name or description
 * contain TEXT (all of them without), best match first.
 *
 * @example
 * await runSearch(ctx, 'sample', { size: 20 });
 */
export async function runSearch(
  ctx: CommandContext,
  text: string | undefined,
  options: SearchCommandOptions,
): Promise<number> {
  const { out } = ctx;
  const client = await registryClientFor(ctx, 'cmpkg search', { write: false });
  const query = text?.trim() ?? '';
  const page = await client.search(query, {
    ...(options.size !== undefined ? { size: options.size } : {}),
    ...(options.from !== undefined ? { from: options.from } : {}),
  });
  out.emitJson({ ok: true, registry: client.shownUrl, text: query, ...page });
  out.lines(renderSearch(out, page, query, options.from ?? 0));
  return ExitCode.Ok;
}
