import semver from 'semver';
import { checksumStatements, checksumStep } from '../checksum.js';
import type { Dialect } from '../dialect.js';
import type {
  AppliedMigrationRecord,
  DownOptions,
  Plan,
  PlannedMigration,
  PlannedStep,
  StepJournalRecord,
  UpOptions,
} from '../engine/types.js';
import { DriftError, PlanError, RollbackRefusedError } from '../errors.js';
import { type RiskLevel, TRANSFORM_FUNCTIONS } from '../model/schema.js';
import type { Migration, Plugin, Step } from '../model/types.js';
import { lintPlan } from './lint.js';
import { orderMigrations, parseDependency } from './order.js';

const RISK_ORDER: readonly RiskLevel[] = ['low', 'medium', 'high', 'critical'];

/** What the planner needs from a dialect: no connection, so plans are pure and testable. */
export type PlannerDialect = Pick<Dialect, 'engine' | 'capabilities' | 'splitStatements'>;

export interface PlannerInput {
  plugin: Plugin;
  /** Every recorded migration of every plugin in the database. */
  history: readonly AppliedMigrationRecord[];
  /** Journal rows of this plugin's partial and failed migrations. */
  journal: readonly StepJournalRecord[];
  dialect: PlannerDialect;
  /** Whether a transform runner is available (transform steps are a plan error without one). */
  canRunTransforms?: boolean;
}

export interface UpPlanOptions extends Pick<UpOptions, 'to'> {
  allowOutOfOrder?: boolean;
  /**
   * Run interrupted steps from their first statement even when the statements an earlier attempt
   * ran have changed since (the operator has undone their effects by hand).
   */
  repair?: boolean;
}

const key = (pluginId: string, id: string) => `${pluginId}:${id}`;
const fileOf = (m: Migration) => m.source?.file;
const prefix = (m: Migration) => (fileOf(m) ? `${fileOf(m)}: ` : '');
const maxVersion = (versions: Iterable<string>): string | null => {
  let best: string | null = null;
  for (const v of versions) if (best === null || semver.gt(v, best)) best = v;
  return best;
};

/**
 * Turns available migrations, the recorded history and a target into a `Plan`. Pure: it reads
 * nothing and writes nothing, so `cmpkg plan`, dry runs and the real run see the same plan.
 *
 * Rejects, as `PlanError` (exit 2): unknown or missing dependencies, dependency cycles, conflicts
 * with applied migrations, steps with no SQL for the engine, out-of-order pending migrations
 * (unless allowed), unknown targets. Rollbacks of migrations that cannot be rolled back are a
 * `RollbackRefusedError` (exit 3) unless forced.
 *
 * @example
 * const planner = new MigrationPlanner({ plugin, history, journal: [], dialect });
 * const plan = planner.planUp({ to: 'latest' });
 * for (const m of plan.migrations) console.log(m.action, m.id);
 */
export class MigrationPlanner {
  readonly #input: PlannerInput;
  readonly #byId: Map<string, Migration>;
  readonly #records: Map<string, AppliedMigrationRecord>;
  readonly #allRecords: Map<string, AppliedMigrationRecord>;
  #ordered: Migration[] | undefined;

  constructor(input: PlannerInput) {
    this.#input = input;
    this.#byId = new Map(input.plugin.migrations.map((m) => [m.id, m]));
    this.#allRecords = new Map(input.history.map((r) => [key(r.pluginId, r.migrationId), r]));
    this.#records = new Map(
      input.history.filter((r) => r.pluginId === input.plugin.id).map((r) => [r.migrationId, r]),
    );
  }

  /** The plugin's migrations in run order (dependencies first, then version, then id). */
  get ordered(): Migration[] {
    this.#ordered ??= orderMigrations(this.#input.plugin.migrations);
    return this.#ordered;
  }

  /** Whether the migration can run on the connected engine. */
  applicable(m: Migration): boolean {
    return m.databaseEngines.includes(this.#input.dialect.engine);
  }

  /** Plans `up` to a target: `latest`, a version, a semver range or a migration id. */
  planUp(options: UpPlanOptions = {}): Plan {
    const { dialect } = this.#input;
    const ordered = this.ordered;
    const outOfOrder: string[] = [];
    this.#checkReferences();
    const target = options.to ?? 'latest';
    const inTarget = this.#targetFilter(target, ordered);
    const doneSteps = this.#completedSteps();
    const planned: PlannedMigration[] = [];
    const willBeApplied = new Set<string>();
    let lastAppliedIndex = -1;
    ordered.forEach((m, i) => {
      const rec = this.#records.get(m.id);
      if (rec?.status === 'applied') lastAppliedIndex = i;
    });

    ordered.forEach((m, index) => {
      const rec = this.#records.get(m.id);
      const applicable = this.applicable(m);
      if (rec?.status === 'applied') return;
      if (rec?.status === 'skipped' && !applicable) return;
      if (!inTarget(m)) return;
      if (!applicable) {
        planned.push(this.#planned(m, 'skip-engine', [], []));
        return;
      }
      for (const ref of m.dependencies) {
        const dep = parseDependency(ref, m.pluginId);
        const depKey = key(dep.pluginId, dep.migrationId);
        const depRec = this.#allRecords.get(depKey);
        const satisfied =
          depRec?.status === 'applied' || depRec?.status === 'skipped' || willBeApplied.has(depKey);
        if (!satisfied) {
          const beyond = dep.pluginId === m.pluginId && this.#byId.has(dep.migrationId);
          throw new PlanError(
            'E_MISSING_DEPENDENCY',
            beyond
              ? `${prefix(m)}migration "${m.id}" depends on "${ref}", which is beyond the target "${target}"`
              : `${prefix(m)}migration "${m.id}" depends on "${ref}", which is not applied in this database`,
            {
              details: { file: fileOf(m), field: 'migration.dependencies', migration: m.id, dependency: ref },
            },
          );
        }
      }
      if (index < lastAppliedIndex && rec === undefined && options.allowOutOfOrder) outOfOrder.push(m.id);
      if (index < lastAppliedIndex && rec === undefined && !options.allowOutOfOrder) {
        const later = ordered[lastAppliedIndex]!;
        throw new PlanError(
          'E_OUT_OF_ORDER',
          `${prefix(m)}migration "${m.id}" is pending but "${later.id}", which comes after it, is already applied; use --allow-out-of-order to apply it anyway`,
          { details: { file: fileOf(m), migration: m.id, appliedAfter: later.id } },
        );
      }
      const resume = rec !== undefined && (rec.status === 'partial' || rec.status === 'failed');
      const completed = resume ? (doneSteps.get(m.id) ?? []) : [];
      const steps = this.#renderSteps(m, 'up');
      if (resume) this.#resumeStatements(m, steps, completed, options.repair ?? false);
      planned.push(this.#planned(m, resume ? 'resume' : 'apply', steps, completed));
      willBeApplied.add(key(m.pluginId, m.id));
    });

    const plan = this.#assemble('up', target, planned);
    for (const id of outOfOrder) plan.warnings.push(`${id} is applied out of order (--allow-out-of-order)`);
    plan.lint = lintPlan(planned, this.#byId, dialect.capabilities);
    return plan;
  }

  /** Plans a rollback: the last `steps` migrations, everything after `to`, or `all`. */
  planDown(options: DownOptions = {}): Plan {
    const recorded = [...this.#records.values()].sort((a, b) => b.installedRank - a.installedRank);
    const real = recorded.filter((r) => r.status !== 'skipped');
    let selected: AppliedMigrationRecord[];
    let target: string;
    if (options.all) {
      selected = recorded;
      target = 'all';
    } else if (options.to !== undefined) {
      target = options.to;
      const byId = this.#records.get(options.to);
      if (byId) {
        selected = recorded.filter((r) => r.installedRank > byId.installedRank);
      } else if (semver.valid(options.to)) {
        const to = options.to;
        selected = recorded.filter((r) => semver.gt(r.version, to));
      } else {
        throw new PlanError(
          'E_UNKNOWN_TARGET',
          `unknown rollback target "${options.to}": not an applied migration id and not a version`,
          { details: { target: options.to } },
        );
      }
    } else {
      const steps = options.steps ?? 1;
      target = `steps:${steps}`;
      const chosen = real.slice(0, steps);
      const lowest = chosen.at(-1)?.installedRank ?? Number.POSITIVE_INFINITY;
      // Skip records above the lowest chosen rank mean nothing once their neighbours are gone.
      selected = recorded.filter((r) => r.installedRank >= lowest);
    }

    const planned: PlannedMigration[] = [];
    const warnings: string[] = [];
    for (const rec of selected) {
      const m = this.#byId.get(rec.migrationId);
      if (rec.status === 'skipped') {
        planned.push(this.#plannedFromRecord(rec, m, []));
        continue;
      }
      if (!m) {
        if (!options.force) {
          throw new RollbackRefusedError(
            `cannot roll back "${rec.migrationId}": its migration file is missing; --force removes the history record only`,
            { details: { migration: rec.migrationId } },
          );
        }
        warnings.push(`${rec.migrationId}: file missing, only its history record is removed (--force)`);
        planned.push(this.#plannedFromRecord(rec, m, []));
        continue;
      }
      if (m.steps.down.length === 0) {
        if (!options.force) {
          throw new RollbackRefusedError(
            `${prefix(m)}cannot roll back "${m.id}": it has no down steps; --force removes its history record without undoing its changes`,
            { details: { file: fileOf(m), migration: m.id } },
          );
        }
        warnings.push(`${m.id}: no down steps, only its history record is removed (--force)`);
        planned.push(this.#plannedFromRecord(rec, m, []));
        continue;
      }
      const unsupported = m.steps.up.filter((s) => !s.rollbackSupported).map((s) => s.id);
      if (unsupported.length > 0) {
        if (!options.force) {
          throw new RollbackRefusedError(
            `${prefix(m)}cannot roll back "${m.id}": step(s) ${unsupported.join(', ')} are marked rollbackSupported: false; use --force to run its down steps anyway`,
            { details: { file: fileOf(m), migration: m.id, steps: unsupported } },
          );
        }
        warnings.push(`${m.id}: rolling back steps marked rollbackSupported: false (--force)`);
      }
      planned.push(this.#plannedFromRecord(rec, m, this.#renderSteps(m, 'down')));
    }
    const plan = this.#assemble('down', target, planned);
    plan.warnings.push(...warnings);
    return plan;
  }

  // ---------------------------------------------------------------- internals

  #checkReferences(): void {
    const { plugin, dialect } = this.#input;
    const excluded = new Set(plugin.migrations.filter((m) => !this.applicable(m)).map((m) => m.id));
    const appliedKeys = new Set(
      [...this.#allRecords.values()]
        .filter((r) => r.status === 'applied' || r.status === 'partial')
        .map((r) => key(r.pluginId, r.migrationId)),
    );
    for (const m of plugin.migrations) {
      const mine = this.#records.get(m.id);
      const pending = mine?.status !== 'applied';
      m.dependencies.forEach((ref, i) => {
        const dep = parseDependency(ref, m.pluginId);
        if (dep.pluginId === m.pluginId) {
          if (!this.#byId.has(dep.migrationId) && !this.#records.has(dep.migrationId)) {
            throw new PlanError(
              'E_MISSING_DEPENDENCY',
              `${prefix(m)}migration "${m.id}" depends on "${ref}", which does not exist in plugin "${plugin.id}"`,
              {
                details: {
                  file: fileOf(m),
                  field: `migration.dependencies[${i}]`,
                  migration: m.id,
                  dependency: ref,
                },
              },
            );
          }
          if (excluded.has(dep.migrationId) && this.applicable(m)) {
            throw new PlanError(
              'E_ENGINE_DEPENDENCY',
              `${prefix(m)}migration "${m.id}" depends on "${ref}", which does not run on ${dialect.engine}; exclude ${dialect.engine} from "${m.id}" too or drop the dependency`,
              {
                details: {
                  file: fileOf(m),
                  field: `migration.dependencies[${i}]`,
                  migration: m.id,
                  dependency: ref,
                },
              },
            );
          }
        }
      });
      if (!pending) continue;
      m.conflicts.forEach((ref, i) => {
        const c = parseDependency(ref, m.pluginId);
        const ck = key(c.pluginId, c.migrationId);
        if (appliedKeys.has(ck)) {
          throw new PlanError(
            'E_CONFLICT',
            `${prefix(m)}migration "${m.id}" conflicts with "${ref}", which is applied in this database`,
            {
              details: {
                file: fileOf(m),
                field: `migration.conflicts[${i}]`,
                migration: m.id,
                conflict: ref,
              },
            },
          );
        }
      });
    }
    // A conflict declared by an applied migration of this plugin against one still pending.
    for (const m of plugin.migrations) {
      if (this.#records.get(m.id)?.status !== 'applied') continue;
      for (const ref of m.conflicts) {
        const c = parseDependency(ref, m.pluginId);
        const other = c.pluginId === m.pluginId ? this.#byId.get(c.migrationId) : undefined;
        if (other && this.#records.get(other.id)?.status !== 'applied') {
          throw new PlanError(
            'E_CONFLICT',
            `${prefix(other)}migration "${other.id}" conflicts with the applied migration "${m.id}" (declared in ${fileOf(m) ?? m.id})`,
            { details: { file: fileOf(other), migration: other.id, conflict: m.id } },
          );
        }
      }
    }
  }

  #targetFilter(target: string, ordered: readonly Migration[]): (m: Migration) => boolean {
    if (target === 'latest') return () => true;
    const byId = this.#byId.get(target);
    if (byId) {
      const limit = ordered.indexOf(byId);
      const position = new Map(ordered.map((m, i) => [m.id, i]));
      return (m) => (position.get(m.id) ?? Number.POSITIVE_INFINITY) <= limit;
    }
    if (semver.valid(target)) return (m) => semver.lte(m.version, target);
    if (semver.validRange(target)) {
      const versions = [...new Set(ordered.map((m) => m.version))];
      const top = semver.maxSatisfying(versions, target);
      if (top === null) {
        throw new PlanError(
          'E_UNKNOWN_TARGET',
          `no migration version satisfies the target range "${target}"`,
          {
            details: { target, versions },
          },
        );
      }
      return (m) => semver.lte(m.version, top);
    }
    throw new PlanError(
      'E_UNKNOWN_TARGET',
      `unknown target "${target}": expected latest, a version, a semver range or a migration id`,
      { details: { target } },
    );
  }

  /**
   * A step outside a transaction that failed part-way keeps the statements it ran (MySQL). Resume
   * after them, but only if they are still the same statements: re-running a CREATE that took
   * effect would fail, and skipping a statement that was edited would apply something else.
   */
  #resumeStatements(m: Migration, steps: PlannedStep[], completed: string[], repair: boolean): void {
    for (const j of this.#input.journal) {
      if (j.pluginId !== m.pluginId || j.migrationId !== m.id || j.direction !== 'up') continue;
      if (j.status === 'done' || j.statementsDone <= 0 || completed.includes(j.stepId)) continue;
      const step = steps.find((s) => s.id === j.stepId);
      if (step?.kind !== 'sql' || step.statements.length <= j.statementsDone) continue;
      if (checksumStatements(step.statements.slice(0, j.statementsDone)) === j.checksum) {
        step.resumeAt = j.statementsDone;
      } else if (!repair) {
        const ran = j.statementsDone === 1 ? 'statement 1' : `statements 1-${j.statementsDone}`;
        throw new DriftError(
          `${prefix(m)}migration "${m.id}" step "${step.id}": ${ran} ran before the step failed and ` +
            'changed since; restore them so the step resumes after them, or undo their effects by hand ' +
            'and run `cmpkg up --repair` to run the step from its first statement',
          { details: { file: fileOf(m), migration: m.id, step: step.id, statementsDone: j.statementsDone } },
        );
      }
    }
  }

  #completedSteps(): Map<string, string[]> {
    const done = new Map<string, string[]>();
    for (const j of this.#input.journal) {
      if (j.pluginId !== this.#input.plugin.id || j.direction !== 'up' || j.status !== 'done') continue;
      const list = done.get(j.migrationId) ?? [];
      list.push(j.stepId);
      done.set(j.migrationId, list);
    }
    return done;
  }

  #renderSteps(m: Migration, direction: 'up' | 'down'): PlannedStep[] {
    const { dialect, canRunTransforms } = this.#input;
    const engine = dialect.engine;
    const seen = new Set<string>();
    return m.steps[direction].map((step: Step, i) => {
      const planned = this.#renderStep(m, step, i, direction, seen, engine, canRunTransforms ?? false);
      // The model step rides along for the runner but stays out of JSON: plans are printed with
      // --json, and the SQL is already in `statements` (code steps would not serialise anyway).
      Object.defineProperty(planned, 'step', { value: step, enumerable: false });
      return planned;
    });
  }

  #renderStep(
    m: Migration,
    step: Step,
    i: number,
    direction: 'up' | 'down',
    seen: Set<string>,
    engine: PlannerDialect['engine'],
    canRunTransforms: boolean,
  ): PlannedStep {
    const { dialect } = this.#input;
    const field = `migration.steps.${direction}[${i}]`;
    const details = { file: fileOf(m), field, migration: m.id, step: step.id };
    for (const dep of step.dependencies) {
      if (!seen.has(dep)) {
        throw new PlanError(
          'E_MISSING_DEPENDENCY',
          `${prefix(m)}step "${step.id}" of "${m.id}" depends on step "${dep}", which does not come before it`,
          { details: { ...details, field: `${field}.dependencies` } },
        );
      }
    }
    seen.add(step.id);
    const base = {
      id: step.id,
      name: step.name,
      transactional: step.transactional,
      skipOnError: step.skipOnError,
      ...(step.timeout !== undefined ? { timeoutMs: step.timeout * 1000 } : {}),
      ...(step.preValidation !== undefined ? { preValidation: step.preValidation } : {}),
      ...(step.postValidation !== undefined ? { postValidation: step.postValidation } : {}),
      ...(step.expectedChanges !== undefined ? { expectedChanges: step.expectedChanges } : {}),
      checksum: checksumStep(step),
    };
    if (step.run) return { ...base, kind: 'code', statements: [], step };
    const text = step.sql?.[engine] ?? step.sql?.universal;
    if (text === undefined) {
      if (step.transform) {
        if (!canRunTransforms) {
          throw new PlanError(
            'E_TRANSFORM_UNAVAILABLE',
            `${prefix(m)}step "${step.id}" of "${m.id}" is a transform, and no transform runner is installed (@cmpkg/transform)`,
            { details: { ...details, field: `${field}.transform` } },
          );
        }
        step.transform.mapping.forEach((mapping, j) => {
          const t = mapping.transform;
          if (t?.type !== 'function') return;
          const name = typeof t.definition === 'string' ? t.definition.trim().toLowerCase() : undefined;
          if (name === undefined || !(TRANSFORM_FUNCTIONS as readonly string[]).includes(name)) {
            throw new PlanError(
              'E_UNKNOWN_TRANSFORM',
              `${prefix(m)}step "${step.id}" of "${m.id}": mapping ${mapping.source} -> ${mapping.target} uses unknown function ${JSON.stringify(t.definition)} (built-ins: ${TRANSFORM_FUNCTIONS.join(', ')})`,
              { details: { ...details, field: `${field}.transform.mapping[${j}].transform.definition` } },
            );
          }
        });
        return { ...base, kind: 'transform', statements: [], step };
      }
      throw new PlanError(
        'E_NO_SQL_FOR_ENGINE',
        `${prefix(m)}step "${step.id}" of "${m.id}" has no SQL for ${engine} (no "${engine}" or "universal" entry)`,
        { details: { ...details, field: `${field}.sql` } },
      );
    }
    const statements = dialect.splitStatements(text);
    if (statements.length === 0) {
      throw new PlanError(
        'E_NO_SQL_FOR_ENGINE',
        `${prefix(m)}step "${step.id}" of "${m.id}" has no statements for ${engine}`,
        { details: { ...details, field: `${field}.sql` } },
      );
    }
    return { ...base, kind: 'sql', statements, step };
  }

  #planned(
    m: Migration,
    action: PlannedMigration['action'],
    steps: PlannedStep[],
    completedSteps: string[],
  ): PlannedMigration {
    const transactional =
      this.#input.dialect.capabilities.transactionalDdl && steps.every((s) => s.transactional);
    return {
      pluginId: m.pluginId,
      id: m.id,
      version: m.version,
      name: m.name,
      riskLevel: m.riskLevel,
      checksum: m.checksum,
      action,
      transactional,
      completedSteps,
      steps,
      requiresBackup: m.requiresBackup,
      estimatedDuration: m.estimatedDuration,
      ...(fileOf(m) ? { file: fileOf(m) } : {}),
    };
  }

  #plannedFromRecord(
    rec: AppliedMigrationRecord,
    m: Migration | undefined,
    steps: PlannedStep[],
  ): PlannedMigration {
    if (m) return this.#planned(m, 'rollback', steps, []);
    return {
      pluginId: rec.pluginId,
      id: rec.migrationId,
      version: rec.version,
      name: rec.name,
      riskLevel: 'low',
      checksum: rec.checksum,
      action: 'rollback',
      transactional: this.#input.dialect.capabilities.transactionalDdl,
      completedSteps: [],
      steps: [],
      requiresBackup: false,
      estimatedDuration: 0,
    };
  }

  #assemble(direction: 'up' | 'down', target: string, planned: PlannedMigration[]): Plan {
    const applied = [...this.#records.values()].filter((r) => r.status === 'applied');
    const fromVersion = maxVersion(applied.map((r) => r.version));
    let toVersion: string | null;
    if (direction === 'up') {
      toVersion = maxVersion([
        ...(fromVersion ? [fromVersion] : []),
        ...planned.filter((p) => p.action !== 'skip-engine').map((p) => p.version),
      ]);
    } else {
      const removed = new Set(planned.map((p) => p.id));
      toVersion = maxVersion(applied.filter((r) => !removed.has(r.migrationId)).map((r) => r.version));
    }
    const running = planned.filter((p) => p.action !== 'skip-engine');
    let maxRisk: RiskLevel | null = null;
    for (const p of running) {
      if (maxRisk === null || RISK_ORDER.indexOf(p.riskLevel) > RISK_ORDER.indexOf(maxRisk))
        maxRisk = p.riskLevel;
    }
    return {
      pluginId: this.#input.plugin.id,
      engine: this.#input.dialect.engine,
      direction,
      target,
      fromVersion,
      toVersion,
      migrations: planned,
      maxRisk,
      estimatedDuration: running.reduce((s, p) => s + p.estimatedDuration, 0),
      backupRequired: direction === 'up' && running.some((p) => p.requiresBackup),
      lint: [],
      warnings: [],
    };
  }
}
