import path from 'node:path';
import { Writable } from 'node:stream';
import { UsageError } from '@cmpkg/core';
import { type ExportReport, exportTables } from '@cmpkg/transform';
import type { CommandContext } from '../context.js';
import { ExitCode } from '../exit-codes.js';
import { type CliOutputStream, formatDuration, formatTable, plural } from '../output.js';
import { transferProgress } from '../progress.js';
import { closeQuietly, interruptible, openSettingsDatabase } from './transfer.js';

/**
 * Options of `cmpkg export`, as commander parses them.
 *
 * @example
 * const opts: ExportCommandOptions = { tables: ['entries'], out: './backup', dateColumn: 'created_at', since: '2024-01-01' };
 */
export interface ExportCommandOptions {
  tables: string[];
  /** A directory, a `.ndjson` file (one table), or `-` for stdout (one table). */
  out: string;
  dateColumn?: string;
  since?: string;
  until?: string;
  where?: string;
  batchSize?: number;
}

/**
 * The one check that is the command line's own: `--out -` and `--json` would both write to stdout.
 * The rest (one table per file, `--since` needing `--date-column`, date syntax, unknown tables and
 * columns) is checked by `exportTables` before it writes anything.
 */
function checkOptions(ctx: CommandContext, o: ExportCommandOptions): void {
  if (o.out === '-' && ctx.flags.json) {
    throw new UsageError(
      '--out - writes the rows to stdout, so --json (which also uses stdout) cannot be used',
    );
  }
}

/**
 * The stream `--out -` writes to: the process's stdout as it is (so backpressure works), or a
 * wrapper around the test double an embedding caller passed in `CliIo`.
 */
function asWritable(stream: CliOutputStream): Writable {
  if (stream instanceof Writable) return stream;
  return new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      stream.write(chunk.toString());
      callback();
    },
  });
}

/**
 * `cmpkg export --tables a,b --out PATH`: writes each table as NDJSON (one JSON object per row,
 * keys = column names) with `exportTables`, on a read-only connection to `--db`. A directory gets
 * one `<table>.ndjson` per table and `export.json` (tables, row counts, column types, SHA-256 of
 * each file); a `.ndjson` path or `-` (stdout) takes one table. Files appear only when complete.
 *
 * @example
 * await runExport(ctx, { tables: ['entries', 'tags'], out: './export' });
 */
export async function runExport(ctx: CommandContext, options: ExportCommandOptions): Promise<number> {
  const { out } = ctx;
  checkOptions(ctx, options);
  const toStdout = options.out === '-';
  const target = toStdout ? '-' : path.resolve(ctx.cwd, options.out);
  const { db } = await openSettingsDatabase(ctx, { readOnly: true });
  const progress = transferProgress(out);
  let report: ExportReport;
  try {
    report = await interruptible('the export', 'no file was written', (signal) =>
      exportTables({
        db,
        tables: options.tables,
        out: target,
        ...(toStdout ? { stream: asWritable(ctx.io.stdout) } : {}),
        ...(options.dateColumn !== undefined ? { dateColumn: options.dateColumn } : {}),
        ...(options.since !== undefined ? { since: options.since } : {}),
        ...(options.until !== undefined ? { until: options.until } : {}),
        ...(options.where !== undefined ? { where: options.where } : {}),
        ...(options.batchSize !== undefined ? { batchSize: options.batchSize } : {}),
        signal,
        onProgress: progress.onProgress,
      }),
    );
  } finally {
    progress.stop();
    await closeQuietly(db);
  }
  for (const w of report.warnings) out.warn(w);
  if (toStdout) {
    // stdout carries the rows; the summary goes to stderr.
    out.note(`exported ${plural(report.rows, 'row')} of ${report.tables[0]?.table ?? ''}`);
    return ExitCode.Ok;
  }
  out.emitJson(report);
  const { c } = out;
  out.line(
    `Exported ${plural(report.tables.length, 'table')} (${plural(report.rows, 'row')}) to ${c.bold(options.out)}` +
      c.dim(` in ${formatDuration(report.durationMs)}`),
  );
  out.lines(
    formatTable(
      report.tables.map((t) => [
        t.table,
        t.rows.toLocaleString('en-US'),
        t.file,
        c.dim(`sha256 ${t.sha256.slice(0, 12)}…`),
      ]),
      { header: ['TABLE', 'ROWS', 'FILE', ''], headerStyle: c.dim, indent: 2, alignRight: [1] },
    ),
  );
  if (report.manifest !== undefined)
    out.line(c.dim(`  manifest: ${path.relative(ctx.cwd, report.manifest) || report.manifest}`));
  return ExitCode.Ok;
}
