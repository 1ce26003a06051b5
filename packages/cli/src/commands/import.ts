import path from 'node:path';
import { UsageError } from '@cmpkg/core';
import { type ImportReport, importTables } from '@cmpkg/transform';
import type { CommandContext } from '../context.js';
import { ExitCode } from '../exit-codes.js';
import { formatDuration, formatTable, plural } from '../output.js';
import { transferProgress } from '../progress.js';
import { closeQuietly, interruptible, openSettingsDatabase } from './transfer.js';

/** The modes of `cmpkg import --mode`. */
export const IMPORT_MODES = ['insert', 'merge', 'replace'] as const;

/**
 * Options of `cmpkg import`, as commander parses them.
 *
 * @example
 * const opts: ImportCommandOptions = { mode: 'merge', skipErrors: true, rejectFile: 'rejects.ndjson' };
 */
export interface ImportCommandOptions {
  /** Target table of a single file (default: the file name without `.ndjson`). */
  table?: string;
  mode?: (typeof IMPORT_MODES)[number];
  batchSize?: number;
  /** Write the good rows and set the bad ones aside (default: one bad row imports nothing). */
  skipErrors?: boolean;
  /** With `skipErrors`: the bad rows as NDJSON `{file, line, error, row}`. */
  rejectFile?: string;
  /** Check every row and report; write nothing. */
  validate?: boolean;
}

/**
 * The combination the library cannot see: without `--skip-errors` (or `--validate`) the first bad
 * row aborts the import, so there would never be anything to put in a reject file. Everything else
 * (the input exists, `--table` only with a file, the mode) is checked by `importTables` before it
 * writes anything.
 */
function checkOptions(o: ImportCommandOptions): void {
  if (o.rejectFile !== undefined && !o.skipErrors && !o.validate) {
    throw new UsageError('--reject-file needs --skip-errors (without it, one bad row imports nothing)');
  }
}

/**
 * `cmpkg import FILE|DIR`: loads NDJSON into existing tables of `--db` with `importTables`, decoding
 * each value with the target column's type. By default the whole import is one transaction: a bad
 * row (unknown field, wrong type, constraint violation) exits 2 naming `file:line`, and nothing is
 * written. `--skip-errors` writes the good rows and, with `--reject-file`, the bad ones as NDJSON
 * `{file, line, error, row}`. `--mode merge` upserts by primary key, `replace` empties each table first
 * (same transaction). `--validate` checks everything and writes nothing.
 *
 * @example
 * await runImport(ctx, './export', { mode: 'merge' });
 */
export async function runImport(
  ctx: CommandContext,
  input: string,
  options: ImportCommandOptions,
): Promise<number> {
  const { out } = ctx;
  checkOptions(options);
  const { db } = await openSettingsDatabase(ctx, { readOnly: false });
  const progress = transferProgress(out);
  let report: ImportReport;
  try {
    report = await interruptible('the import', 'nothing was written', (signal) =>
      importTables({
        db,
        input: path.resolve(ctx.cwd, input),
        ...(options.table !== undefined ? { table: options.table } : {}),
        ...(options.mode !== undefined ? { mode: options.mode } : {}),
        ...(options.batchSize !== undefined ? { batchSize: options.batchSize } : {}),
        ...(options.skipErrors ? { skipErrors: true } : {}),
        ...(options.rejectFile !== undefined
          ? { rejectFile: path.resolve(ctx.cwd, options.rejectFile) }
          : {}),
        ...(options.validate ? { validateOnly: true } : {}),
        signal,
        onProgress: progress.onProgress,
      }),
    );
  } finally {
    progress.stop();
    await closeQuietly(db);
  }
  out.emitJson(report);
  printImportReport(ctx, input, options, report);
  // A validation that found bad rows is a failed check (as in CI); a --skip-errors import did its job.
  return report.validateOnly && report.rejected > 0 ? ExitCode.Usage : ExitCode.Ok;
}

const SHOWN_PROBLEMS = 10;

function printImportReport(
  { out }: CommandContext,
  input: string,
  options: ImportCommandOptions,
  report: ImportReport,
): void {
  const { c } = out;
  const count = (n: number) => n.toLocaleString('en-US');
  const took = c.dim(` in ${formatDuration(report.durationMs)}`);
  if (report.validateOnly) {
    out.line(
      `Checked ${plural(report.rows, 'row')} of ${plural(report.tables.length, 'table')} from ${c.bold(input)}: ` +
        (report.rejected === 0 ? c.green('all can be imported') : c.red(`${count(report.rejected)} cannot`)) +
        c.dim(' (--validate: nothing written)'),
    );
  } else {
    out.line(
      `Imported ${plural(report.written, 'row')} into ${plural(report.tables.length, 'table')} from ${c.bold(input)} (${report.mode})${took}`,
    );
  }
  out.lines(
    formatTable(
      report.tables.map((t) => [
        t.table,
        count(t.rows),
        report.validateOnly ? '' : count(t.written),
        t.rejected > 0 ? c.yellow(count(t.rejected)) : '0',
        c.dim(t.file),
      ]),
      {
        header: ['TABLE', 'READ', report.validateOnly ? '' : 'WRITTEN', 'REJECTED', 'FILE'],
        headerStyle: c.dim,
        indent: 2,
        alignRight: [1, 2, 3],
      },
    ),
  );
  // In file order, as people fix them (the library finds decoding problems before write problems).
  const problems = [...report.problems].sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line);
  for (const p of problems.slice(0, SHOWN_PROBLEMS))
    out.line(`  ${c.red('✗')} ${p.file}:${p.line}: ${p.error}`);
  if (report.rejected > SHOWN_PROBLEMS)
    out.line(c.dim(`  … and ${count(report.rejected - SHOWN_PROBLEMS)} more`));
  if (report.rejected > 0 && !report.validateOnly) {
    out.warn(
      `${plural(report.rejected, 'row')} rejected` +
        (options.rejectFile !== undefined
          ? `: see ${options.rejectFile}`
          : ' (give --reject-file to keep them)'),
    );
  }
}
