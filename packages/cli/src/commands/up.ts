import type { UpOptions } from '@cmpkg/core';
import { type CommandContext, type MigratorExtras, prepare, withMigrator } from '../context.js';
import { ExitCode } from '../exit-codes.js';
import { plural } from '../output.js';
import { attachProgress } from '../progress.js';
import { versionMove } from '../render.js';
import { reportDryRun, reportPreflightError, reportRun } from './run-report.js';

/** Options of `cmpkg up`: the engine's, plus the migrator settings the command exposes. */
export interface UpCommandOptions extends UpOptions {
  repair?: boolean;
  continueOnError?: boolean;
  skipBackup?: boolean;
}

/**
 * `cmpkg up`: first a dry run on a read-only connection, which plans and checks for drift without
 * taking the lock or creating anything (a planning error exits 2, drift 3, the database untouched;
 * an empty plan with nothing to repair exits 0 without ever opening a writable connection). Then the real run on a
 * writable connection, where the migrator plans again under the lock.
 *
 * @example
 * await runUp(ctx, { to: 'latest', reason: 'release 1.1' });
 */
export async function runUp(ctx: CommandContext, options: UpCommandOptions): Promise<number> {
  const { out } = ctx;
  const prepared = await prepare(ctx);
  const upOptions: UpOptions = {};
  if (options.to !== undefined) upOptions.to = options.to;
  if (options.reason !== undefined) upOptions.reason = options.reason;
  const extras: MigratorExtras = { backup: options.skipBackup ? 'skip' : 'auto' };
  if (options.repair) extras.repair = true;
  if (options.continueOnError) extras.continueOnError = true;

  const { preview, database } = await withMigrator(
    prepared,
    { readOnly: true, ...extras },
    async (m, db) => ({
      preview: await m.up({ ...upOptions, dryRun: true }),
      database: db.connection.displayUrl,
    }),
  );

  if (preview.error || !preview.plan) return reportPreflightError(ctx, preview, options.dryRun === true);
  const plan = preview.plan;
  if (options.dryRun) return reportDryRun(ctx, { ...preview, plan });

  const toRepair = preview.repaired ?? [];
  if (plan.migrations.length === 0 && toRepair.length === 0) {
    out.emitJson({ ok: true, dryRun: false, plan, results: [] });
    out.line(`Nothing to do: ${plan.pluginId} is up to date (${plan.fromVersion ?? 'nothing applied'})`);
    return ExitCode.Ok;
  }

  if (plan.migrations.length > 0) {
    out.line(
      `Applying ${plural(plan.migrations.length, 'migration')} of ${plan.pluginId} to ${database}: ${versionMove(plan)}`,
    );
  } else {
    out.line(`Recording the new checksums of ${toRepair.join(', ')} (--repair) on ${database}`);
  }
  const result = await withMigrator(prepared, { readOnly: false, ...extras }, async (m) => {
    const progress = attachProgress(m, out);
    try {
      return await m.up(upOptions);
    } finally {
      progress.stop();
    }
  });
  if (plan.migrations.length === 0 && !result.error) {
    const repaired = result.repaired ?? [];
    out.emitJson({ ok: true, dryRun: false, plan: result.plan ?? plan, results: [], repaired });
    out.line(`${out.c.green('✔')} repaired: ${repaired.join(', ')}`);
    return ExitCode.Ok;
  }
  return reportRun(ctx, plan, result, database);
}
