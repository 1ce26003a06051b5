import { InternalError, type Plan, type RunResult } from '@cmpkg/core';
import type { CommandContext } from '../context.js';
import { exitCodeFor } from '../exit-codes.js';
import { formatDuration, plural, toJsonError } from '../output.js';
import { renderPlan, renderResults } from '../render.js';

/** The `--json` document of `up` and `down`. */
function runJson(result: RunResult, plan: Plan): Record<string, unknown> {
  return {
    ok: result.error === undefined,
    dryRun: result.dryRun,
    plan: result.plan ?? plan,
    results: result.results,
    ...(result.backup ? { backup: result.backup } : {}),
    ...(result.repaired ? { repaired: result.repaired } : {}),
    ...(result.executionId !== undefined ? { executionId: result.executionId } : {}),
    ...(result.error ? { error: toJsonError(result.error) } : {}),
  };
}

/** Prints a dry run: the plan with every statement; nothing was changed. */
export function reportDryRun(ctx: CommandContext, result: RunResult & { plan: Plan }): number {
  const { out } = ctx;
  const { plan } = result;
  out.emitJson(runJson(result, plan));
  if (plan.migrations.length === 0) {
    const what = plan.direction === 'down' ? 'Nothing to roll back' : 'Nothing to do';
    out.line(`${what}: ${plan.pluginId} is at ${plan.fromVersion ?? '(nothing applied)'}`);
  } else {
    out.lines(renderPlan(out.c, plan, { sql: true }));
  }
  out.line();
  out.line(out.c.dim('Dry run: nothing was changed.'));
  return 0;
}

/**
 * A run refused before anything happened (plan error, drift, refused rollback): just the error,
 * and with `--json` the run document with no results.
 */
export function reportPreflightError(ctx: CommandContext, result: RunResult, dryRun: boolean): number {
  const error = result.error ?? new InternalError('the engine returned no plan');
  ctx.out.emitJson({
    ok: false,
    dryRun,
    ...(result.plan ? { plan: result.plan } : {}),
    results: [],
    error: toJsonError(error),
  });
  ctx.out.error(error);
  return exitCodeFor(error);
}

/**
 * Prints a finished `up` or `down`: a line per migration, the summary, and the error that stopped
 * the run (if any). The exit code comes from the error, through `exitCodeFor`.
 */
export function reportRun(ctx: CommandContext, plan: Plan, result: RunResult, database: string): number {
  const { out } = ctx;
  const { c } = out;
  const down = plan.direction === 'down';
  out.emitJson(runJson(result, plan));

  if (result.backup) out.line(c.dim(`backup: ${result.backup.location}`));
  out.lines(renderResults(c, result.results));

  const doneStatus = down ? 'rolled-back' : 'applied';
  const done = result.results.filter((r) => r.status === doneStatus).length;
  const skipped = result.results.filter((r) => r.status === 'skipped').length;
  const failed = result.results.filter((r) => r.status === 'failed' || r.status === 'partial').length;
  const total = result.results.reduce((sum, r) => sum + r.durationMs, 0);
  const finalPlan = result.plan ?? plan;
  const verb = down ? 'Rolled back' : 'Applied';
  const extra = [
    skipped > 0 ? `${skipped} skipped (engine)` : '',
    failed > 0 ? c.red(`${failed} failed`) : '',
  ].filter(Boolean);
  const tail = extra.length > 0 ? `; ${extra.join(', ')}` : '';

  out.line();
  if (result.error === undefined && finalPlan.migrations.length === 0) {
    // The preview saw work, but by the time this run held the lock another run had done it.
    const what = down ? 'Nothing to roll back' : 'Nothing to do';
    out.line(
      `${what}: another run did it while this one waited for the lock ` +
        `(${finalPlan.pluginId} is at ${finalPlan.fromVersion ?? 'nothing applied'} on ${database})`,
    );
  } else if (result.error === undefined) {
    const version = finalPlan.toVersion ?? '(nothing applied)';
    out.line(
      `${c.green(verb)} ${plural(done, 'migration')} in ${formatDuration(total)}${tail}: ` +
        `${finalPlan.pluginId} is now at ${version} on ${database}`,
    );
  } else {
    const planned = finalPlan.migrations.length;
    out.line(
      `${c.red('Stopped')}: ${verb.toLowerCase()} ${done} of ${plural(planned, 'migration')}${tail}; ` +
        (down ? 'nothing after the failure was rolled back' : 'the rest did not run'),
    );
    out.error(result.error);
  }
  return exitCodeFor(result.error);
}
