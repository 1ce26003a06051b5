import type { DialectCapabilities } from '../dialect.js';
import type { LintFinding, PlannedMigration } from '../engine/types.js';
import type { Migration } from '../model/types.js';

// Comments and string literals would make these checks see words that are not SQL.
const stripNoise = (sql: string) =>
  sql
    .replace(/--[^\n]*/g, ' ')
    .replace(/\/\*[\s\S]*?\*\//g, ' ')
    .replace(/'(?:[^']|'')*'/g, "''");

const DESTRUCTIVE: { rule: string; test: RegExp; what: string }[] = [
  { rule: 'destructive-drop-table', test: /\bdrop\s+table\b/i, what: 'drops a table' },
  {
    rule: 'destructive-drop-column',
    test: /\balter\s+table\b[\s\S]*\bdrop\s+(?:column\s+)?(?!constraint|index|default|not\b)\w/i,
    what: 'drops a column',
  },
  { rule: 'destructive-truncate', test: /\btruncate\b/i, what: 'truncates a table' },
  {
    rule: 'destructive-delete-all',
    test: /^\s*delete\s+from\s+\S+\s*$/i,
    what: 'deletes every row (no WHERE)',
  },
];

/**
 * Findings about planned up migrations that deserve an author's second look. They never stop a
 * run; `cmpkg plan` shows them and `--json` carries them.
 */
export function lintPlan(
  planned: readonly PlannedMigration[],
  models: ReadonlyMap<string, Migration>,
  capabilities: DialectCapabilities,
): LintFinding[] {
  const findings: LintFinding[] = [];
  for (const pm of planned) {
    if (pm.action !== 'apply' && pm.action !== 'resume') continue;
    const m = models.get(pm.id);
    if (!m) continue;
    if (m.steps.down.length === 0) {
      findings.push({
        rule: 'no-down-steps',
        severity: 'warning',
        migrationId: m.id,
        message: `${m.id} has no down steps: rolling it back will need --force`,
      });
    }
    if (m.riskLevel === 'critical' && !m.requiresBackup) {
      findings.push({
        rule: 'critical-without-backup',
        severity: 'warning',
        migrationId: m.id,
        message: `${m.id} is critical risk but does not set requiresBackup`,
      });
    }
    for (const step of pm.steps) {
      if (!step.transactional && capabilities.transactionalDdl) {
        findings.push({
          rule: 'non-transactional-step',
          severity: 'warning',
          migrationId: m.id,
          stepId: step.id,
          message: `${m.id}/${step.id} runs outside a transaction: a failure after it cannot undo it`,
        });
      }
      if (m.riskLevel !== 'low') continue;
      for (const statement of step.statements) {
        const clean = stripNoise(statement);
        const hit = DESTRUCTIVE.find((d) => d.test.test(clean));
        if (hit) {
          findings.push({
            rule: hit.rule,
            severity: 'warning',
            migrationId: m.id,
            stepId: step.id,
            message: `${m.id}/${step.id} ${hit.what} but its riskLevel is low`,
          });
          break;
        }
      }
    }
  }
  return findings;
}
