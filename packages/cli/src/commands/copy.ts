import path from 'node:path';
import { defaultUser, HistoryStore, isCmpkgError } from '@cmpkg/core';
import { type CopyOptions, type CopyReport, copyDatabase, parseCopyMappingText } from '@cmpkg/transform';
import { type CommandContext, loadSettings, type OpenDatabase, type Settings } from '../context.js';
import { ExitCode } from '../exit-codes.js';
import { type Colors, formatDuration, formatTable, plural } from '../output.js';
import { transferProgress } from '../progress.js';
import {
  assertDifferentDatabases,
  closeQuietly,
  interruptible,
  openUrl,
  readOptionFile,
} from './transfer.js';

/**
 * Options of `cmpkg copy`, as commander parses them.
 *
 * @example
 * const opts: CopyCommandOptions = { from: 'sqlite:./app.db', to: 'postgres://localhost/app', verify: true };
 */
export interface CopyCommandOptions {
  /** Source database URL; opened read-only. */
  from: string;
  /** Target database URL. */
  to: string;
  /** Only these source tables (default: every table but cmpkg's own). */
  tables?: string[];
  /** A mapping file (`mapping.json`): table and column renames, left-out columns, field mappings. */
  map?: string;
  batchSize?: number;
  /** Drop existing target tables first instead of refusing a non-empty one. */
  replace?: boolean;
  /** `--no-verify` sets it to false: skip the row-count and checksum comparison. */
  verify: boolean;
  /** `--no-history` sets it to false: leave cmpkg's history tables behind. */
  history?: boolean;
}

/**
 * `cmpkg copy --from URL --to URL`: copies tables (schema, rows, indexes, foreign keys, sequences)
 * between any two databases with `copyDatabase`, verifies row counts and content checksums, and
 * prints a report (`--json`: the `CopyReport`). The mapping file is read and checked before any
 * connection is opened; the source is opened read-only. A finished copy is recorded in the target's
 * `cmpkg_executions` (kind `copy`); a failed one only where that history already exists, so a failed
 * copy leaves a fresh target exactly as it was. Rerunning an interrupted copy with the same
 * arguments resumes it.
 *
 * @example
 * await runCopy(ctx, { from: 'sqlite:./app.db', to: 'postgres://postgres@localhost/app', verify: true });
 */
export async function runCopy(ctx: CommandContext, options: CopyCommandOptions): Promise<number> {
  const { out } = ctx;
  const settings = await loadSettings(ctx);
  assertDifferentDatabases(options.from, options.to, ctx.cwd);

  const copyOptions: Omit<CopyOptions, 'from' | 'to'> = { verify: options.verify };
  if (options.tables !== undefined) copyOptions.tables = options.tables;
  if (options.batchSize !== undefined) copyOptions.batchSize = options.batchSize;
  if (options.replace) copyOptions.replace = true;
  if (options.history === false) copyOptions.history = false;
  if (options.map !== undefined) {
    const file = path.resolve(ctx.cwd, options.map);
    // Named as typed: that is the name the user knows, and errors must point at it.
    copyOptions.mapping = parseCopyMappingText(await readOptionFile('--map', file, options.map), options.map);
    copyOptions.mappingFile = options.map;
  }

  let from: OpenDatabase | undefined;
  let to: OpenDatabase | undefined;
  const progress = transferProgress(out);
  const startedAt = new Date().toISOString();
  const started = performance.now();
  try {
    from = await openUrl(ctx, settings, options.from, { readOnly: true });
    to = await openUrl(ctx, settings, options.to, { readOnly: false });
    let report: CopyReport | undefined;
    let failure: unknown;
    try {
      const [source, target] = [from, to];
      report = await interruptible(
        'the copy',
        'the batches it committed are kept; run the same command again to resume',
        (signal) =>
          copyDatabase({ ...copyOptions, from: source, to: target, signal, onProgress: progress.onProgress }),
      );
    } catch (err) {
      failure = err;
    } finally {
      // Bars off before anything else is printed.
      progress.stop();
    }
    const run = { startedAt, started, source: from, ...(report ? { report } : { error: failure }) };
    await recordCopy(to, settings, run).catch((err: unknown) => {
      // The data is copied and verified; a history row that cannot be written must not hide that.
      if (report) out.warn(`the copy could not be recorded in cmpkg_executions: ${errorText(err)}`);
    });
    if (!report) throw failure;
    out.emitJson(report);
    printCopyReport(out.c, out, report);
    return ExitCode.Ok;
  } finally {
    await closeQuietly(from);
    await closeQuietly(to);
  }
}

function errorText(err: unknown): string {
  if (isCmpkgError(err)) return `${err.code}: ${err.message}`;
  return err instanceof Error ? err.message : String(err);
}

/**
 * One `cmpkg_executions` row in the target. Successful copies create the history tables if needed;
 * failed ones are recorded only where they exist, because a failed copy must leave no new table.
 */
async function recordCopy(
  to: OpenDatabase,
  settings: Settings,
  run: { startedAt: string; started: number; source: OpenDatabase; report?: CopyReport; error?: unknown },
): Promise<void> {
  const store = new HistoryStore(to.connection);
  if (run.report) await store.ensureTables();
  else if (!(await store.exists())) return;
  const summary: Record<string, unknown> = { from: run.source.connection.displayUrl };
  if (run.report) {
    summary.jobId = run.report.jobId;
    summary.rows = run.report.rows;
    summary.verified = run.report.verified;
    summary.tables = run.report.tables.map((t) => ({ source: t.source, target: t.target, rows: t.rows }));
  }
  const id = await store.startExecution({
    kind: 'copy',
    pluginId: settings.pluginId,
    fromVersion: null,
    toVersion: null,
    user: settings.user ?? defaultUser(),
    reason: `copy from ${run.source.connection.displayUrl}`,
    startedAt: run.startedAt,
  });
  await store.finishExecution(id, {
    status: run.report ? 'succeeded' : 'failed',
    durationMs: performance.now() - run.started,
    summary,
    error: run.report ? null : errorText(run.error),
  });
}

function verifiedText(c: Colors, verified: boolean | null): string {
  if (verified === null) return c.dim('-');
  return verified ? c.green('✓') : c.red('✗');
}

/** `sum128:db1ea4c72870…`: enough to compare by eye; `--json` has the whole value. */
const shortChecksum = (checksum: string): string =>
  checksum.length > 20 ? `${checksum.slice(0, 19)}…` : checksum;

const count = (n: number): string => Math.round(n).toLocaleString('en-US');

/**
 * The human report of a copy: one line per table (source → target, rows, rows/s, time, indexes and
 * foreign keys created, verified ✓/✗ with the checksum), the totals, and the warnings on stderr.
 *
 * @example
 * printCopyReport(out.c, out, report);
 */
export function printCopyReport(
  c: Colors,
  out: { line(text?: string): void; lines(texts: string[]): void; warn(text: string): void },
  report: CopyReport,
): void {
  out.line(
    `Copied ${plural(report.tables.length, 'table')} from ${c.bold(report.from)} to ${c.bold(report.to)}`,
  );
  const rows = report.tables.map((t) => [
    t.source === t.target ? t.source : `${t.source} → ${t.target}`,
    count(t.rows),
    count(t.rowsPerSecond),
    formatDuration(t.durationMs),
    String(t.indexes),
    String(t.foreignKeys),
    `${verifiedText(c, t.verified)}${t.targetChecksum ? ` ${c.dim(shortChecksum(t.targetChecksum))}` : ''}${t.resumed ? c.yellow(' (resumed)') : ''}`,
  ]);
  const seconds = report.durationMs / 1000;
  rows.push([
    c.bold('total'),
    c.bold(count(report.rows)),
    seconds > 0 ? count(report.rows / seconds) : '',
    formatDuration(report.durationMs),
    String(report.tables.reduce((n, t) => n + t.indexes, 0)),
    String(report.tables.reduce((n, t) => n + t.foreignKeys, 0)),
    report.tables.some((t) => t.verified === null) ? c.dim('not verified') : verifiedText(c, report.verified),
  ]);
  out.lines(
    formatTable(rows, {
      header: ['TABLE', 'ROWS', 'ROWS/S', 'TIME', 'INDEXES', 'FKS', 'VERIFIED'],
      headerStyle: c.dim,
      indent: 2,
      alignRight: [1, 2, 3, 4, 5],
    }),
  );
  const sequences = report.tables.flatMap((t) => t.sequencesReset);
  if (sequences.length > 0) out.line(c.dim(`  sequences reset: ${sequences.join(', ')}`));
  out.line(c.dim(`  job ${report.jobId}`));
  for (const t of report.tables) for (const w of t.warnings) out.warn(`${t.source}: ${w}`);
}
