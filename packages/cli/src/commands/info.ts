import type { CommandContext } from '../context.js';
import { ExitCode } from '../exit-codes.js';
import { type Colors, formatBytes, formatTable, plural } from '../output.js';
import { parsePluginSpec, registryClientFor } from '../registry-args.js';
import type { Packument, VersionDocument } from '../registry-client.js';
import { formatTimestamp, riskText } from '../render.js';

/** Semver precedence for sorting the versions table, without a semver dependency in the CLI. */
function compareVersions(a: string, b: string): number {
  const parse = (v: string) => {
    const [core = '', pre] = v.split('+')[0]!.split(/-(.*)/s);
    return { nums: core.split('.').map((n) => Number(n)), pre: pre ?? '' };
  };
  const x = parse(a);
  const y = parse(b);
  for (let i = 0; i < 3; i++) {
    const d = (x.nums[i] ?? 0) - (y.nums[i] ?? 0);
    if (d !== 0) return d;
  }
  if (x.pre === y.pre) return 0;
  if (x.pre === '') return 1;
  if (y.pre === '') return -1;
  const xs = x.pre.split('.');
  const ys = y.pre.split('.');
  for (let i = 0; i < Math.max(xs.length, ys.length); i++) {
    const p = xs[i];
    const q = ys[i];
    if (p === undefined) return -1;
    if (q === undefined) return 1;
    const pn = /^\d+$/.test(p);
    const qn = /^\d+$/.test(q);
    if (pn && qn && Number(p) !== Number(q)) return Number(p) - Number(q);
    if (pn !== qn) return pn ? -1 : 1;
    if (p !== q) return p < q ? -1 : 1;
  }
  return 0;
}

/**
 * The versions of a packument, oldest first (semver order).
 *
 * @example
 * sortedVersions(packument); // ['1.0.0', '1.1.0', '2.0.0-beta.1', '2.0.0']
 */
export function sortedVersions(p: Pick<Packument, 'versions'>): string[] {
  return Object.keys(p.versions).sort(compareVersions);
}

/**
 * The human view of `cmpkg info`: the plugin (owner, dist-tags, keys, every version with its
 * deprecated / yanked marks), then the resolved version in detail (engines, requires, migrations
 * with risk, data, dist). Pure, so the layout is tested without a registry.
 *
 * @example
 * out.lines(renderInfo(out.c, packument, doc, 'latest'));
 */
export function renderInfo(
  c: Colors,
  p: Packument,
  doc: VersionDocument | undefined,
  spec: string,
): string[] {
  const lines: string[] = [];
  lines.push(`${c.bold(p.name)}${p.displayName && p.displayName !== p.name ? ` — ${p.displayName}` : ''}`);
  if (p.description) lines.push(c.dim(`  ${p.description}`));
  const tags = Object.entries(p['dist-tags'])
    .sort(([a], [b]) => (a === 'latest' ? -1 : b === 'latest' ? 1 : a.localeCompare(b)))
    .map(([tag, version]) => `${tag}: ${version}`);
  lines.push(
    ...formatTable(
      [
        ['owner', p.owner],
        ['dist-tags', tags.length > 0 ? tags.join(', ') : c.dim('(none)')],
        ['keys', p.keys.length > 0 ? p.keys.map((k) => k.keyId).join(', ') : c.dim('(none)')],
        ['updated', formatTimestamp(p.time.modified)],
      ],
      { indent: 2 },
    ),
  );

  const versions = sortedVersions(p);
  lines.push('', `${c.bold('Versions')} (${versions.length}):`);
  const tagsOf = (v: string) =>
    Object.entries(p['dist-tags'])
      .filter(([, version]) => version === v)
      .map(([tag]) => tag);
  lines.push(
    ...formatTable(
      versions.map((v) => {
        const d = p.versions[v]!;
        const marks: string[] = [];
        if (d.yanked) marks.push(c.red('yanked'));
        if (d.deprecated !== undefined) marks.push(c.yellow(`deprecated: ${d.deprecated}`));
        return [
          v === doc?.version ? c.bold(v) : v,
          formatTimestamp(d.publishedAt).slice(0, 10),
          formatBytes(d.dist.size),
          d.dist.keyId,
          tagsOf(v).join(', '),
          marks.join(' '),
        ];
      }),
      { header: ['VERSION', 'PUBLISHED', 'SIZE', 'SIGNER', 'TAGS', ''], headerStyle: c.dim, indent: 2 },
    ),
  );

  lines.push('');
  if (!doc) {
    lines.push(c.dim(`No version is tagged latest; name one: cmpkg info ${p.name}@<version>`));
    return lines;
  }
  const header = `${c.bold(`${doc.name}@${doc.version}`)}${spec !== doc.version ? c.dim(` (${spec})`) : ''}`;
  lines.push(header);
  if (doc.yanked) lines.push(`  ${c.red('yanked')}: resolved only when asked for exactly`);
  if (doc.deprecated !== undefined) lines.push(`  ${c.yellow('deprecated')}: ${doc.deprecated}`);
  const requires = Object.entries(doc.requires).map(([id, range]) => `${id}@${range}`);
  lines.push(
    ...formatTable(
      [
        ['published', `${formatTimestamp(doc.publishedAt)} ${c.dim(`by ${doc.publishedBy}`)}`],
        ['engines', doc.engines.length > 0 ? doc.engines.join(', ') : c.dim('(any)')],
        ['requires', requires.length > 0 ? requires.join(', ') : c.dim('(nothing)')],
        ['tarball', doc.dist.tarball],
        ['integrity', doc.dist.integrity],
        ['size', formatBytes(doc.dist.size)],
        ['signer', doc.dist.keyId],
      ],
      { indent: 2 },
    ),
  );
  lines.push('', `${c.bold('Migrations')} (${doc.migrations.length}):`);
  if (doc.migrations.length === 0) lines.push(c.dim('  (none)'));
  else {
    lines.push(
      ...formatTable(
        doc.migrations.map((m) => [
          m.id,
          m.version,
          m.name,
          riskText(c, m.risk),
          m.reversible ? 'reversible' : c.yellow('irreversible'),
        ]),
        { header: ['ID', 'VERSION', 'NAME', 'RISK', ''], headerStyle: c.dim, indent: 2 },
      ),
    );
  }
  lines.push('', `${c.bold('Data')} (${plural(doc.data.length, 'table')}):`);
  if (doc.data.length === 0) lines.push(c.dim('  (none)'));
  else {
    lines.push(
      ...formatTable(
        doc.data.map((d) => [d.table, d.rows.toLocaleString('en-US')]),
        { header: ['TABLE', 'ROWS'], headerStyle: c.dim, indent: 2, alignRight: [1] },
      ),
    );
  }
  return lines;
}

/**
 * `cmpkg info NAME[@SPEC]`: what the registry knows about a plugin, and the version SPEC resolves
 * to (default: the `latest` tag) in detail. `--json`: `{ ok, registry, spec, packument, version }`.
 *
 * @example
 * await runInfo(ctx, 'sample@^1');
 */
export async function runInfo(ctx: CommandContext, given: string): Promise<number> {
  const { out } = ctx;
  const wanted = parsePluginSpec(given);
  const client = await registryClientFor(ctx, 'cmpkg info', { write: false });
  const packument = await client.packument(wanted.id);
  // `latest` is in the packument already; anything else is resolved by the registry's rules.
  const latest = packument['dist-tags'].latest;
  let doc: VersionDocument | undefined;
  if (wanted.explicit) doc = await client.resolve(wanted.id, wanted.spec);
  else if (latest !== undefined) doc = packument.versions[latest];
  out.emitJson({ ok: true, registry: client.shownUrl, spec: wanted.spec, packument, version: doc ?? null });
  out.lines(renderInfo(out.c, packument, doc, wanted.spec));
  return ExitCode.Ok;
}
