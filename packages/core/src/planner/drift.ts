import { checksumStep } from '../checksum.js';
import type { AppliedMigrationRecord, StepJournalRecord } from '../engine/types.js';
import { DriftError } from '../errors.js';
import type { Plugin } from '../model/types.js';

/** One applied migration (or finished step of a partial one) whose file changed since it ran. */
export interface DriftFinding {
  migrationId: string;
  file?: string;
  /** Set when a finished step of a partial migration changed. */
  stepId?: string;
  recorded: string;
  current: string | null;
}

/**
 * Compares recorded checksums with the files, in one linear pass. Applied migrations compare the
 * whole migration; partial ones compare only their finished steps, because their unfinished steps
 * may be fixed before a resume.
 *
 * @example
 * const drift = detectDrift(plugin, history, journal);
 * if (drift.length) throw driftError(drift);
 */
export function detectDrift(
  plugin: Plugin,
  history: readonly AppliedMigrationRecord[],
  journal: readonly StepJournalRecord[],
): DriftFinding[] {
  const byId = new Map(plugin.migrations.map((m) => [m.id, m]));
  const findings: DriftFinding[] = [];
  for (const rec of history) {
    if (rec.pluginId !== plugin.id) continue;
    const m = byId.get(rec.migrationId);
    if (!m) continue;
    if (rec.status === 'applied' && rec.checksum !== m.checksum) {
      findings.push({ migrationId: m.id, file: m.source?.file, recorded: rec.checksum, current: m.checksum });
    }
  }
  const steps = new Map<string, Map<string, string>>();
  for (const j of journal) {
    if (j.pluginId !== plugin.id || j.direction !== 'up' || j.status !== 'done' || !j.checksum) continue;
    const m = byId.get(j.migrationId);
    if (!m) continue;
    let current = steps.get(m.id);
    if (!current) {
      current = new Map(m.steps.up.map((s) => [s.id, checksumStep(s)]));
      steps.set(m.id, current);
    }
    const now = current.get(j.stepId) ?? null;
    if (now !== j.checksum) {
      findings.push({
        migrationId: m.id,
        file: m.source?.file,
        stepId: j.stepId,
        recorded: j.checksum,
        current: now,
      });
    }
  }
  return findings;
}

/** The `DriftError` (exit 3) for a list of findings; names every drifted migration. */
export function driftError(findings: readonly DriftFinding[]): DriftError {
  const describe = (f: DriftFinding) =>
    `"${f.migrationId}"${f.stepId ? ` (finished step "${f.stepId}")` : ''}${f.file ? ` in ${f.file}` : ''}`;
  const message =
    findings.length === 1
      ? `applied migration ${describe(findings[0]!)} has changed since it was applied (recorded ${findings[0]!.recorded}, now ${findings[0]!.current ?? 'step removed'}); restore it, or accept the change with --repair`
      : `${findings.length} applied migrations have changed since they were applied: ${findings.map(describe).join(', ')}; restore them, or accept the changes with --repair`;
  return new DriftError(message, {
    details: { migrations: findings.map((f) => f.migrationId), findings: findings.map((f) => ({ ...f })) },
  });
}
