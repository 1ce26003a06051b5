import type { MigrationResult, MigrationStatusEntry, Plan, PlannedMigration, RiskLevel } from '@cmpkg/core';
import { type Colors, formatDuration, formatTable, plural } from './output.js';

/** Risk levels coloured by how much attention they deserve. */
export function riskText(c: Colors, risk: RiskLevel | null | undefined): string {
  switch (risk) {
    case 'critical':
      return c.bold(c.red(risk));
    case 'high':
      return c.red(risk);
    case 'medium':
      return c.yellow(risk);
    case 'low':
      return c.green(risk);
    default:
      return c.dim('-');
  }
}

/**
 * A plugin's dist-tags on one line, or `empty` when it has none (`yank` and `dist-tag` print them
 * after the change).
 *
 * @example
 * distTagsText({ latest: '1.1.0', next: '2.0.0-beta.1' }, 'none'); // 'latest: 1.1.0, next: 2.0.0-beta.1'
 */
export function distTagsText(tags: Record<string, string>, empty: string): string {
  const entries = Object.entries(tags);
  return entries.length > 0 ? entries.map(([tag, version]) => `${tag}: ${version}`).join(', ') : empty;
}

/** `2024-05-01T10:00:00.000Z` → `2024-05-01 10:00:00Z`: readable, still unambiguous. */
export function formatTimestamp(value: string | undefined | null): string {
  if (!value) return '';
  const m = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(?:\.\d+)?(Z|[+-]\d{2}:?\d{2})?$/.exec(value);
  return m ? `${m[1]} ${m[2]}${m[3] ?? ''}` : value;
}

/** Statements come out of the splitter without their terminator; print them runnable. */
export function terminated(statement: string): string {
  const s = statement.trimEnd();
  return s.endsWith(';') ? s : `${s};`;
}

function actionText(c: Colors, m: PlannedMigration): string {
  switch (m.action) {
    case 'apply':
      return c.green('apply');
    case 'resume':
      return c.yellow(`resume after ${m.completedSteps.join(', ')}`);
    case 'rollback':
      return c.yellow('roll back');
    case 'skip-engine':
      return c.dim('skipped (engine)');
    default:
      return String(m.action);
  }
}

/** The version move of a plan, `1.0.0 → 1.1.0`, with `(none)` for an empty database. */
export function versionMove(plan: Plan): string {
  return `${plan.fromVersion ?? '(none)'} → ${plan.toVersion ?? '(none)'}`;
}

/**
 * A plan as people read it: a header with the totals, each migration with its action, and with
 * `sql` every statement exactly as it will run.
 */
export function renderPlan(c: Colors, plan: Plan, options: { sql: boolean }): string[] {
  const lines: string[] = [];
  const verb = plan.direction === 'down' ? 'Rollback plan' : 'Plan';
  lines.push(`${c.bold(verb)} for ${c.bold(plan.pluginId)} on ${plan.engine}: ${versionMove(plan)}`);
  const facts = [
    plural(plan.migrations.length, 'migration'),
    `max risk ${riskText(c, plan.maxRisk)}`,
    `~${formatDuration(plan.estimatedDuration * 1000)}`,
    plan.backupRequired ? c.yellow('backup required') : 'no backup needed',
  ];
  lines.push(`  ${facts.join(c.dim(' · '))}`);
  lines.push('');

  const rows = plan.migrations.map((m, i) => [
    c.dim(`${i + 1}.`),
    m.id,
    m.version,
    m.name,
    riskText(c, m.riskLevel),
    actionText(c, m),
    m.action === 'skip-engine' ? '' : c.dim(m.transactional ? 'one transaction' : 'step by step'),
  ]);
  const table = formatTable(rows, { indent: 2 });
  plan.migrations.forEach((m, i) => {
    lines.push(table[i]!);
    if (!options.sql || m.action === 'skip-engine') return;
    for (const step of m.steps) {
      const done = m.completedSteps.includes(step.id);
      const label = `-- step ${step.id}: ${step.name}${done ? ' (already done, not run again)' : ''}`;
      lines.push(`     ${c.dim(label)}`);
      if (step.kind === 'code')
        lines.push(`     ${c.dim('-- (TypeScript code step: runs the function, no SQL to show)')}`);
      else if (step.kind === 'transform') lines.push(`     ${c.dim('-- (data transform)')}`);
      for (const statement of step.statements) {
        for (const l of terminated(statement).split('\n')) lines.push(`     ${l}`);
      }
    }
    lines.push('');
  });
  if (!options.sql && plan.migrations.length > 0) lines.push('');

  if (plan.lint.length > 0) {
    lines.push(c.bold('Lint:'));
    const lintRows = plan.lint.map((f) => [
      f.severity === 'error' ? c.red(f.severity) : c.yellow(f.severity),
      f.stepId ? `${f.migrationId}/${f.stepId}` : f.migrationId,
      f.message,
      c.dim(`[${f.rule}]`),
    ]);
    lines.push(...formatTable(lintRows, { indent: 2 }), '');
  }
  if (plan.warnings.length > 0) {
    lines.push(c.bold('Warnings:'));
    for (const w of plan.warnings) lines.push(`  ${c.yellow('!')} ${w}`);
    lines.push('');
  }
  while (lines.at(-1) === '') lines.pop();
  return lines;
}

const RESULT_MARK: Record<MigrationResult['status'], (c: Colors) => string> = {
  applied: (c) => c.green('✔'),
  'rolled-back': (c) => c.green('✔'),
  skipped: (c) => c.dim('-'),
  failed: (c) => c.red('✖'),
  partial: (c) => c.yellow('✖'),
  planned: (c) => c.dim('·'),
};

/** One line per migration result (`✔ id version name duration`), errors indented below. */
export function renderResults(c: Colors, results: MigrationResult[]): string[] {
  const rows = results.map((r) => [
    `${(RESULT_MARK[r.status] ?? ((cc: Colors) => cc.dim('?')))(c)} ${r.migrationId}`,
    r.version,
    r.name,
    r.status === 'skipped' ? c.dim('skipped') : c.dim(formatDuration(r.durationMs)),
  ]);
  const table = formatTable(rows);
  const lines: string[] = [];
  results.forEach((r, i) => {
    lines.push(table[i]!);
    if (r.error) lines.push(`    ${c.red(r.error.replace(/\s*\r?\n\s*/g, ' '))}`);
    const skippedSteps = r.steps.filter((s) => s.status === 'skipped' && s.error);
    for (const s of skippedSteps)
      lines.push(`    ${c.yellow(`step ${s.stepId} failed and was skipped: ${s.error}`)}`);
  });
  return lines;
}

/** The state column of `status`: the state, why, and a drift flag. */
export function stateText(c: Colors, m: MigrationStatusEntry): string {
  let text: string;
  switch (m.state) {
    case 'applied':
      text = c.green('applied');
      break;
    case 'pending':
      text = c.cyan('pending');
      break;
    case 'partial':
      text = c.yellow(m.failedStep ? `partial (stopped at ${m.failedStep})` : 'partial');
      break;
    case 'failed':
      text = c.red(m.failedStep ? `failed (at ${m.failedStep})` : 'failed');
      break;
    case 'skipped':
      text = c.dim(`skipped (${m.reason ?? 'engine'})`);
      break;
    case 'missing':
      text = c.red(`missing (${m.reason ?? 'file removed'})`);
      break;
    default:
      text = String(m.state);
  }
  return m.drift ? `${text} ${c.bold(c.red('DRIFT'))}` : text;
}
