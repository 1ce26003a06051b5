import { type CommandContext, prepare, withMigrator } from '../context.js';
import { ExitCode } from '../exit-codes.js';
import { renderPlan } from '../render.js';

/** Options of `cmpkg plan`. */
export interface PlanCommandOptions {
  /** `latest` (default), a version, a semver range, or a migration id. */
  to?: string;
}

/**
 * `cmpkg plan [--to TARGET]`: what `up` would do, with the SQL, on a read-only connection.
 * Planning errors (cycles, missing dependencies, out-of-order) exit 2 and touch nothing.
 *
 * @example
 * await runPlan(ctx, { to: '1.1.0' });
 */
export async function runPlan(ctx: CommandContext, options: PlanCommandOptions): Promise<number> {
  const prepared = await prepare(ctx);
  const plan = await withMigrator(prepared, { readOnly: true }, (m) =>
    m.plan(options.to !== undefined ? { direction: 'up', to: options.to } : { direction: 'up' }),
  );
  ctx.out.emitJson(plan);
  if (plan.migrations.length === 0) {
    ctx.out.line(`Nothing to do: ${plan.pluginId} is up to date (${plan.fromVersion ?? 'nothing applied'})`);
  } else {
    ctx.out.lines(renderPlan(ctx.out.c, plan, { sql: true }));
  }
  return ExitCode.Ok;
}
