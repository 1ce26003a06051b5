import type { StatusReport } from '@cmpkg/core';
import { type CommandContext, prepare, withMigrator } from '../context.js';
import { ExitCode } from '../exit-codes.js';
import { formatTable } from '../output.js';
import { formatTimestamp, stateText } from '../render.js';

/**
 * `cmpkg status`: every migration with its state, and a summary line. Drift is flagged in the
 * table and below it, but does not change the exit code (that is `validate`'s job).
 *
 * @example
 * await runStatus(ctx); // prints the table; 0
 */
export async function runStatus(ctx: CommandContext): Promise<number> {
  const prepared = await prepare(ctx);
  const report = await withMigrator(prepared, { readOnly: true }, (m) => m.status());
  ctx.out.emitJson(report);
  printStatus(ctx, report);
  return ExitCode.Ok;
}

function printStatus({ out }: CommandContext, report: StatusReport): void {
  const { c } = out;
  if (report.migrations.length === 0) {
    out.line(`${c.bold(report.pluginId)}: no migrations found`);
  } else {
    const rows = report.migrations.map((m) => [
      m.id,
      m.version,
      m.name,
      stateText(c, m),
      m.appliedAt ? c.dim(formatTimestamp(m.appliedAt)) : '',
    ]);
    const header = ['ID', 'VERSION', 'NAME', 'STATE', 'APPLIED AT'];
    out.lines(formatTable(rows, { header, headerStyle: c.dim }));
    out.line();
  }
  const counts = report.counts;
  const parts = [`${counts.applied} applied`, `${counts.pending} pending`];
  for (const state of ['partial', 'failed', 'skipped', 'missing'] as const) {
    if (counts[state] > 0) parts.push(`${counts[state]} ${state}`);
  }
  const versions = `installed ${report.installedVersion ?? '(none)'}, available ${report.availableVersion}`;
  out.line(`${c.bold(report.pluginId)}: ${parts.join(', ')} ${c.dim(`(${versions}; ${report.database})`)}`);
  if (report.drift.length > 0) {
    out.line(
      c.red(
        `drift: ${report.drift.join(', ')} changed since applied; ` +
          '`cmpkg validate` exits 3, `cmpkg up --repair` records the new checksums',
      ),
    );
  }
  if (counts.partial > 0 || counts.failed > 0) {
    out.line(c.yellow('a run stopped part-way: fix the failing step, then `cmpkg up` resumes it'));
  }
}
