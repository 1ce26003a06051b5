import { inspectPackage, type PackageInspection } from '@cmpkg/packager';
import type { CommandContext } from '../context.js';
import { ExitCode } from '../exit-codes.js';
import { type Colors, formatBytes, formatTable, plural } from '../output.js';
import { formatTimestamp, riskText } from '../render.js';
import { type PackageFileOptions, packageArguments, trustText } from './verify.js';

/**
 * The human view of a package: its facts, then a table of migrations, of data and of files.
 * Pure, so the layout is tested without an archive.
 *
 * @example
 * out.lines(renderInspection(out.c, inspection));
 */
export function renderInspection(c: Colors, p: PackageInspection, shownFile = p.file): string[] {
  const lines: string[] = [];
  const title = p.plugin.name ? ` — ${p.plugin.name}` : '';
  lines.push(`${c.bold(`${p.plugin.id}@${p.plugin.version}`)}${title}`);
  if (p.plugin.description) lines.push(c.dim(`  ${p.plugin.description}`));
  const requires = Object.entries(p.requires).map(([id, range]) => `${id}@${range}`);
  const trusted =
    p.signer.trusted === true
      ? c.green(trustText(true))
      : p.signer.trusted === false
        ? c.red(trustText(false))
        : c.dim(trustText(null));
  lines.push(
    ...formatTable(
      [
        ['file', `${shownFile} ${c.dim(`(${formatBytes(p.size)})`)}`],
        ['digest', p.digest],
        ['engines', p.engines.length > 0 ? p.engines.join(', ') : c.dim('(any)')],
        ['requires', requires.length > 0 ? requires.join(', ') : c.dim('(nothing)')],
        ['signer', `${c.bold(p.signer.keyId)} (${trusted})`],
        ['created', `${formatTimestamp(p.createdAt)} ${c.dim(`by ${p.createdBy}`)}`],
      ],
      { indent: 2 },
    ),
  );

  lines.push('');
  lines.push(
    `${c.bold('Migrations')} (${p.migrations.length}${p.maxRisk ? `, max risk ${riskText(c, p.maxRisk)}` : ''}):`,
  );
  if (p.migrations.length === 0) lines.push(c.dim('  (none)'));
  else {
    lines.push(
      ...formatTable(
        p.migrations.map((m) => [
          m.id,
          m.version,
          m.type,
          riskText(c, m.riskLevel),
          `${m.steps.up} up / ${m.steps.down} down`,
          m.reversible ? 'yes' : c.yellow('no'),
          m.requiresBackup ? c.yellow('backup') : '',
        ]),
        {
          header: ['ID', 'VERSION', 'TYPE', 'RISK', 'STEPS', 'REVERSIBLE', ''],
          headerStyle: c.dim,
          indent: 2,
        },
      ),
    );
  }

  lines.push('');
  lines.push(`${c.bold('Data')} (${plural(p.data.length, 'table')}):`);
  if (p.data.length === 0) lines.push(c.dim('  (none)'));
  else {
    lines.push(
      ...formatTable(
        p.data.map((d) => [d.table, d.rows.toLocaleString('en-US'), d.columns.join(', ')]),
        { header: ['TABLE', 'ROWS', 'COLUMNS'], headerStyle: c.dim, indent: 2, alignRight: [1] },
      ),
    );
  }

  lines.push('');
  lines.push(`${c.bold('Files')} (${p.files.length}, besides cmpkg.json and cmpkg.sig):`);
  lines.push(
    ...formatTable(
      p.files.map((f) => [f.path, formatBytes(f.size), c.dim(`sha256 ${f.sha256.slice(0, 12)}…`)]),
      { indent: 2, alignRight: [1] },
    ),
  );
  return lines;
}

/**
 * `cmpkg inspect FILE [--pubkey KEY]`: verifies the package like `verify`, then shows what is in
 * it: plugin, version, engines, requires, the signer's key id (and whether it is the `--pubkey`
 * key), when it was made, each migration (version, type, risk, steps, reversible), the data tables
 * with row counts, and the files. `--json`: the `PackageInspection` with `ok: true`.
 *
 * @example
 * await runInspect(ctx, 'sample-1.0.0.cmpkg', {});
 */
export async function runInspect(
  ctx: CommandContext,
  given: string,
  options: PackageFileOptions,
): Promise<number> {
  const { out } = ctx;
  const { file, trust } = await packageArguments(ctx, given, '--pubkey', options.pubkey);
  const inspection = await inspectPackage(file, trust);
  out.emitJson({ ok: true, ...inspection });
  out.lines(renderInspection(out.c, inspection, given));
  return ExitCode.Ok;
}
