import type { HistoryReport } from '@cmpkg/core';
import { type CommandContext, prepare, withMigrator } from '../context.js';
import { ExitCode } from '../exit-codes.js';
import { formatDuration, formatTable } from '../output.js';
import { formatTimestamp } from '../render.js';

/** Options of `cmpkg history`. */
export interface HistoryCommandOptions {
  /** Most recent executions to show. */
  limit?: number;
}

/**
 * `cmpkg history [--limit N]`: past runs from `cmpkg_executions` and the applied migrations from
 * `cmpkg_migrations`, on a read-only connection.
 *
 * @example
 * await runHistory(ctx, { limit: 20 });
 */
export async function runHistory(ctx: CommandContext, options: HistoryCommandOptions): Promise<number> {
  const prepared = await prepare(ctx);
  const report = await withMigrator(prepared, { readOnly: true }, (m) =>
    m.history(options.limit !== undefined ? { limit: options.limit } : {}),
  );
  ctx.out.emitJson(report);
  printHistory(ctx, report);
  return ExitCode.Ok;
}

function printHistory({ out }: CommandContext, report: HistoryReport): void {
  const { c } = out;
  out.line(c.bold(`Executions (${report.pluginId})`));
  if (report.executions.length === 0) {
    out.line(c.dim('  none yet'));
  } else {
    const rows = report.executions.map((e) => [
      String(e.id),
      e.kind + (e.dryRun ? c.dim(' (dry run)') : ''),
      `${e.fromVersion ?? '-'} → ${e.toVersion ?? '-'}`,
      e.status === 'succeeded'
        ? c.green(e.status)
        : e.status === 'failed'
          ? c.red(e.status)
          : c.yellow(e.status),
      formatTimestamp(e.startedAt),
      e.durationMs === null ? '' : formatDuration(e.durationMs),
      e.user,
      [e.reason ?? '', e.error ? c.red(e.error.replace(/\s*\r?\n\s*/g, ' ')) : ''].filter(Boolean).join(' '),
    ]);
    const header = ['ID', 'KIND', 'VERSIONS', 'STATUS', 'STARTED', 'DURATION', 'USER', 'REASON / ERROR'];
    out.lines(formatTable(rows, { header, headerStyle: c.dim, indent: 2, alignRight: [0, 5] }));
  }
  out.line();
  out.line(c.bold('Applied migrations'));
  if (report.migrations.length === 0) {
    out.line(c.dim('  none'));
    return;
  }
  const rows = report.migrations.map((m) => [
    String(m.installedRank),
    m.migrationId,
    m.version,
    m.name,
    m.status === 'applied'
      ? c.green(m.status)
      : m.status === 'skipped'
        ? c.dim(m.status)
        : c.yellow(m.status),
    formatTimestamp(m.appliedAt),
    m.appliedBy,
    formatDuration(m.executionMs),
  ]);
  const header = ['RANK', 'ID', 'VERSION', 'NAME', 'STATUS', 'APPLIED AT', 'BY', 'TIME'];
  out.lines(formatTable(rows, { header, headerStyle: c.dim, indent: 2, alignRight: [0, 7] }));
}
