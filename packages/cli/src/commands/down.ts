import { createInterface } from 'node:readline/promises';
import { CmpkgError, type DownOptions } from '@cmpkg/core';
import { type CommandContext, prepare, withMigrator } from '../context.js';
import { ExitCode } from '../exit-codes.js';
import { plural } from '../output.js';
import { attachProgress } from '../progress.js';
import { versionMove } from '../render.js';
import { reportDryRun, reportPreflightError, reportRun } from './run-report.js';

/** Options of `cmpkg down`: exactly the engine's. */
export type DownCommandOptions = DownOptions;

/** The answer to "roll back?" was not yes (exit 1: nothing was done, nothing was refused). */
export class RollbackCancelledError extends CmpkgError {
  constructor() {
    super('E_CANCELLED', 'failure', 'rollback cancelled: nothing was changed');
  }
}

/**
 * `cmpkg down`: a dry run on a read-only connection first (refusals exit 3, bad targets 2, the
 * database untouched), a question on an interactive terminal unless `--yes` (never when stdin is
 * not a TTY), then the rollback on a writable connection.
 *
 * @example
 * await runDown(ctx, { steps: 1, reason: 'bad index' });
 */
export async function runDown(ctx: CommandContext, options: DownCommandOptions): Promise<number> {
  const { out } = ctx;
  const prepared = await prepare(ctx);
  const downOptions: DownOptions = {};
  if (options.steps !== undefined) downOptions.steps = options.steps;
  if (options.to !== undefined) downOptions.to = options.to;
  if (options.all) downOptions.all = true;
  if (options.force) downOptions.force = true;
  if (options.reason !== undefined) downOptions.reason = options.reason;

  const { preview, database } = await withMigrator(prepared, { readOnly: true }, async (m, db) => ({
    preview: await m.down({ ...downOptions, dryRun: true }),
    database: db.connection.displayUrl,
  }));
  if (preview.error || !preview.plan) return reportPreflightError(ctx, preview, options.dryRun === true);
  const plan = preview.plan;
  if (options.dryRun) return reportDryRun(ctx, { ...preview, plan });

  if (plan.migrations.length === 0) {
    out.emitJson({ ok: true, dryRun: false, plan, results: [] });
    out.line(`Nothing to roll back: ${plan.pluginId} has no applied migrations to undo`);
    return ExitCode.Ok;
  }

  if (!ctx.flags.yes && ctx.io.stdin?.isTTY === true) {
    const ids = plan.migrations.map((m) => m.id).join(', ');
    const question = `Roll back ${plural(plan.migrations.length, 'migration')} (${ids}) on ${database}? [y/N] `;
    const confirmed = await (ctx.io.confirm ?? ((q: string) => askOnTerminal(ctx, q)))(question);
    if (!confirmed) throw new RollbackCancelledError();
  }

  out.line(
    `Rolling back ${plural(plan.migrations.length, 'migration')} of ${plan.pluginId} on ${database}: ${versionMove(plan)}`,
  );
  const result = await withMigrator(prepared, { readOnly: false }, async (m) => {
    const progress = attachProgress(m, out);
    try {
      return await m.down(downOptions);
    } finally {
      progress.stop();
    }
  });
  return reportRun(ctx, plan, result, database);
}

/**
 * A y/N question on stderr (stdout may be a pipe or carry JSON), read from stdin.
 *
 * @example
 * if (!(await askOnTerminal(ctx, 'Roll back 0003_seed_categories? [y/N] '))) throw new RollbackCancelledError();
 */
export async function askOnTerminal(ctx: CommandContext, question: string): Promise<boolean> {
  const stdin = ctx.io.stdin;
  const input = stdin !== undefined && 'read' in stdin ? (stdin as NodeJS.ReadableStream) : process.stdin;
  const rl = createInterface({ input, output: ctx.io.stderr as NodeJS.WritableStream });
  try {
    const answer = await rl.question(question);
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}
