import { EventEmitter } from 'node:events';
import { hostname } from 'node:os';
import semver from 'semver';
import { checksumStatements } from '../checksum.js';
import type { BackupResult, ReleaseLock } from '../dialect.js';
import { asCmpkgError, BackupRequiredError, type CmpkgError, PlanError } from '../errors.js';
import { defaultUser, HistoryStore, nowIso } from '../history/history-store.js';
import { detectDrift, driftError } from '../planner/drift.js';
import { parseDependency } from '../planner/order.js';
import { MigrationPlanner } from '../planner/planner.js';
import { StepRunner } from './step-runner.js';
import type {
  AppliedMigrationRecord,
  Direction,
  DownOptions,
  HistoryReport,
  MigrationRef,
  MigrationResult,
  MigrationState,
  MigrationStatusEntry,
  MigratorEvents,
  MigratorOptions,
  Plan,
  PlannedMigration,
  RetryOptions,
  RunResult,
  StatusReport,
  StepJournalRecord,
  StepResult,
  UpOptions,
  ValidationReport,
} from './types.js';

/** The name of the migration lock; one run at a time per database, whatever the plugin. */
export const MIGRATION_LOCK_NAME = 'cmpkg';

const DEFAULT_RETRY: Required<RetryOptions> = { attempts: 3, initialDelayMs: 200, maxDelayMs: 5_000 };

/** History rows of new migrations, written together before their group commits. */
interface HistoryBatch {
  migrations: AppliedMigrationRecord[];
  steps: StepJournalRecord[];
}

interface HistoryState {
  history: AppliedMigrationRecord[];
  journal: StepJournalRecord[];
}

type PlanOptions = (UpOptions & { direction?: 'up' }) | (DownOptions & { direction: 'down' });

/**
 * The migration engine. On one pinned connection it takes the dialect's lock, reads the history
 * once, refuses drift, plans, backs up when required, and runs each migration atomically: in a
 * transaction (grouped with its neighbours under savepoints, so one commit serves many) when the
 * engine has transactional DDL and every step is transactional, otherwise step by step with a
 * journal so a crashed or failed run resumes at the failed step.
 *
 * `up` and `down` never throw for migration problems: they return `{ results, error? }` so callers
 * can report partial progress. `status`, `validate` and `history` throw `CmpkgError`s.
 *
 * A run that starts while the connection is already in a transaction (`connection.inTransaction`)
 * runs inside it and never commits: each group of migrations takes a savepoint instead of a
 * transaction of its own, so the caller decides whether everything commits or nothing does. Such a
 * run refuses (`E_NOT_TRANSACTIONAL`, before anything runs) a plan with a migration that needs its
 * own transactions or none: steps marked `transactional: false`, or an engine without
 * transactional DDL. With `lockHeld` the caller already holds {@link MIGRATION_LOCK_NAME}.
 *
 * @example
 * const conn = await dialect.connect('sqlite:./app.db');
 * const plugin = await loadPlugin({ dir: './migrations', id: 'app' });
 * const migrator = new Migrator({ dialect, connection: conn, plugin });
 * migrator.on('migration:done', (r) => console.log(r.migrationId, r.status));
 * const { results, error } = await migrator.up();
 * await conn.close();
 */
export class Migrator {
  readonly #opts: MigratorOptions;
  readonly #store: HistoryStore;
  readonly #events = new EventEmitter();
  readonly #user: string;
  /** Set once a run went inside a caller's transaction (see `#readState`). */
  #insideCallerTransaction = false;

  constructor(options: MigratorOptions) {
    this.#opts = options;
    this.#store = new HistoryStore(options.connection);
    this.#user = options.user ?? defaultUser();
  }

  /** Subscribes to an engine event (`plan`, `migration:start`, `step:done`, `progress`, `migration:done`, `error`). */
  on<E extends keyof MigratorEvents>(event: E, listener: (payload: MigratorEvents[E]) => void): this {
    this.#events.on(event, listener);
    return this;
  }

  #emit<E extends keyof MigratorEvents>(event: E, payload: MigratorEvents[E]): void {
    // EventEmitter throws an unheard 'error' event; ours is a report, not a crash.
    if (event === 'error' && this.#events.listenerCount('error') === 0) return;
    this.#events.emit(event, payload);
  }

  /** Plans without running anything or taking the lock (what `cmpkg plan` shows). */
  async plan(options: PlanOptions = {}): Promise<Plan> {
    const state = await this.#readState();
    const planner = this.#planner(state);
    if (options.direction === 'down') return planner.planDown(options);
    const plan = planner.planUp({
      ...this.#upTarget(options),
      allowOutOfOrder: this.#opts.allowOutOfOrder ?? false,
    });
    const drift = detectDrift(this.#opts.plugin, state.history, state.journal);
    for (const d of drift) plan.warnings.push(`drift: ${d.migrationId} changed since it was applied`);
    return plan;
  }

  /** Applies pending migrations up to `to` (default `latest`). */
  async up(options: UpOptions = {}): Promise<RunResult> {
    return this.#run('up', options.dryRun ?? false, options.reason, (planner, state) => {
      const drift = detectDrift(this.#opts.plugin, state.history, state.journal);
      if (drift.length > 0 && !this.#opts.repair) throw driftError(drift);
      return {
        plan: planner.planUp({
          ...this.#upTarget(options),
          allowOutOfOrder: this.#opts.allowOutOfOrder ?? false,
          repair: this.#opts.repair ?? false,
        }),
        repair: this.#opts.repair ? drift : [],
      };
    });
  }

  /** Rolls back applied migrations: the last one by default, `steps`, everything after `to`, or `all`. */
  async down(options: DownOptions = {}): Promise<RunResult> {
    return this.#run('down', options.dryRun ?? false, options.reason, (planner) => ({
      plan: planner.planDown(options),
      repair: [],
    }));
  }

  /** Every migration of the plugin with its state, plus recorded ones whose files are gone. */
  async status(): Promise<StatusReport> {
    const state = await this.#readState();
    const { plugin, dialect, connection } = this.#opts;
    const planner = this.#planner(state);
    const records = new Map(
      state.history.filter((r) => r.pluginId === plugin.id).map((r) => [r.migrationId, r] as const),
    );
    const drift = new Set(detectDrift(plugin, state.history, state.journal).map((d) => d.migrationId));
    const failedStep = new Map<string, string>();
    for (const j of state.journal)
      if (j.status === 'failed' && j.direction === 'up') failedStep.set(j.migrationId, j.stepId);
    const entries: MigrationStatusEntry[] = planner.ordered.map((m) => {
      const rec = records.get(m.id);
      let state: MigrationState = rec ? rec.status : 'pending';
      let reason: string | undefined;
      if (!rec && !planner.applicable(m)) {
        state = 'skipped';
        reason = 'engine';
      } else if (rec?.status === 'skipped') reason = 'engine';
      return {
        pluginId: m.pluginId,
        id: m.id,
        version: m.version,
        name: m.name,
        state,
        ...(reason ? { reason } : {}),
        drift: drift.has(m.id),
        riskLevel: m.riskLevel,
        ...(rec
          ? {
              appliedAt: rec.appliedAt,
              appliedBy: rec.appliedBy,
              executionMs: rec.executionMs,
              installedRank: rec.installedRank,
            }
          : {}),
        ...(failedStep.has(m.id) && rec?.status !== 'applied' ? { failedStep: failedStep.get(m.id) } : {}),
      };
    });
    const known = new Set(plugin.migrations.map((m) => m.id));
    for (const rec of records.values()) {
      if (known.has(rec.migrationId)) continue;
      entries.push({
        pluginId: rec.pluginId,
        id: rec.migrationId,
        version: rec.version,
        name: rec.name,
        state: 'missing',
        reason: 'file removed',
        drift: false,
        appliedAt: rec.appliedAt,
        appliedBy: rec.appliedBy,
        executionMs: rec.executionMs,
        installedRank: rec.installedRank,
      });
    }
    const counts: Record<MigrationState, number> = {
      applied: 0,
      pending: 0,
      partial: 0,
      failed: 0,
      skipped: 0,
      missing: 0,
    };
    for (const e of entries) counts[e.state] += 1;
    const installed = await this.#store.readPlugin(plugin.id);
    return {
      pluginId: plugin.id,
      engine: dialect.engine,
      database: connection.displayUrl,
      installedVersion: installed?.version ?? null,
      availableVersion: plugin.version,
      migrations: entries,
      counts,
      drift: [...drift],
    };
  }

  /** Checks files against the history (drift → `DriftError`) and plans `up` (plan problems → `PlanError`). */
  async validate(): Promise<ValidationReport> {
    const state = await this.#readState();
    const drift = detectDrift(this.#opts.plugin, state.history, state.journal);
    if (drift.length > 0) throw driftError(drift);
    const plan = this.#planner(state).planUp({ allowOutOfOrder: this.#opts.allowOutOfOrder ?? false });
    return {
      ok: true,
      pluginId: this.#opts.plugin.id,
      checked: this.#opts.plugin.migrations.length,
      drift: [],
      warnings: [...plan.warnings, ...plan.lint.map((l) => l.message)],
    };
  }

  /** Past runs of this plugin (newest first) and its recorded migrations. */
  async history(options: { limit?: number } = {}): Promise<HistoryReport> {
    const { plugin } = this.#opts;
    const all = await this.#store.readMigrations();
    return {
      pluginId: plugin.id,
      migrations: all.filter((r) => r.pluginId === plugin.id),
      executions: await this.#store.readExecutions(plugin.id, options.limit ?? 50),
    };
  }

  // ---------------------------------------------------------------- run

  #upTarget(options: UpOptions): { to?: string } {
    return options.to !== undefined ? { to: options.to } : {};
  }

  async #readState(): Promise<HistoryState> {
    // A caller's ROLLBACK after a run inside its transaction may have undone the CREATE TABLEs of
    // the history: from then on, whether they exist is asked again.
    if (this.#insideCallerTransaction || this.#opts.connection.inTransaction) this.#store.forgetTables();
    const history = await this.#store.readMigrations();
    const unfinished = history
      .filter((r) => r.pluginId === this.#opts.plugin.id && (r.status === 'partial' || r.status === 'failed'))
      .map((r) => r.migrationId);
    const journal = await this.#store.readSteps(this.#opts.plugin.id, unfinished);
    return { history, journal };
  }

  #planner(state: HistoryState): MigrationPlanner {
    const { plugin, dialect, transformRunner } = this.#opts;
    return new MigrationPlanner({
      plugin,
      history: state.history,
      journal: state.journal,
      dialect,
      canRunTransforms: transformRunner !== undefined,
    });
  }

  async #run(
    direction: Direction,
    dryRun: boolean,
    reason: string | undefined,
    makePlan: (
      planner: MigrationPlanner,
      state: HistoryState,
    ) => { plan: Plan; repair: ReturnType<typeof detectDrift> },
  ): Promise<RunResult> {
    const { dialect, connection, plugin } = this.#opts;
    const results: MigrationResult[] = [];
    let plan: Plan | undefined;
    let executionId: number | undefined;
    let backup: BackupResult | undefined;
    let release: ReleaseLock | undefined;
    const started = performance.now();
    // Decided once, when the run starts: our own BEGINs below would change the answer.
    const outer = !dryRun && connection.inTransaction;
    if (outer) this.#insideCallerTransaction = true;
    try {
      if (!dryRun && !this.#opts.lockHeld) {
        release = await dialect.acquireLock(connection, MIGRATION_LOCK_NAME, {
          timeoutMs: this.#opts.lockTimeoutMs ?? 60_000,
          holder: `${this.#user}@${hostname()} pid ${process.pid} (cmpkg ${direction} ${plugin.id})`,
        });
      }
      const state = await this.#readState();
      const made = makePlan(this.#planner(state), state);
      plan = made.plan;
      this.#emit('plan', plan);
      const repaired = [...new Set(made.repair.map((d) => d.migrationId))];
      const repairedField = repaired.length > 0 ? { repaired } : {};
      if (dryRun) {
        return {
          dryRun: true,
          plan,
          results: plan.migrations.map((pm) => this.#result(pm, direction, 'planned', [], 0)),
          ...repairedField,
        };
      }
      if (plan.migrations.length === 0 && repaired.length === 0) return { dryRun: false, plan, results };
      if (outer) this.#checkOuterTransaction(plan);
      await this.#store.ensureTables();
      await this.#store.closeInterruptedExecutions();
      for (const d of made.repair) {
        if (d.stepId) await this.#store.updateStepChecksum(plugin.id, d.migrationId, d.stepId, d.current);
        else if (d.current) await this.#store.updateChecksum(plugin.id, d.migrationId, d.current);
      }
      if (plan.migrations.length === 0) return { dryRun: false, plan, results, ...repairedField };
      executionId = await this.#store.startExecution({
        kind: direction,
        pluginId: plugin.id,
        fromVersion: plan.fromVersion,
        toVersion: plan.toVersion,
        user: this.#user,
        reason: reason ?? null,
        startedAt: nowIso(),
      });
      let error: CmpkgError | undefined;
      try {
        if (plan.backupRequired && this.#opts.backup !== 'skip') backup = await this.#backup(plan);
        error = await this.#execute(plan, state, results, outer);
      } catch (err) {
        error = asCmpkgError(err);
      }
      const toVersion = await this.#recordPlugin(state, results);
      await this.#store.finishExecution(executionId, {
        status: error ? 'failed' : 'succeeded',
        durationMs: performance.now() - started,
        toVersion,
        summary: this.#summary(plan, results, backup),
        error: error?.message ?? null,
      });
      return {
        dryRun: false,
        plan,
        results,
        ...(error ? { error } : {}),
        ...(backup ? { backup } : {}),
        ...repairedField,
        executionId,
      };
    } catch (err) {
      const error = asCmpkgError(err);
      this.#emit('error', { error, attempt: 1, willRetry: false });
      return {
        dryRun,
        ...(plan ? { plan } : {}),
        results,
        error,
        ...(executionId !== undefined ? { executionId } : {}),
      };
    } finally {
      if (release) await release();
    }
  }

  /** Runs under a savepoint of a shared transaction (every step transactional, or nothing to run). */
  #groupable(pm: PlannedMigration): boolean {
    return this.#opts.dialect.capabilities.savepoints && (pm.transactional || pm.action === 'skip-engine');
  }

  /**
   * Inside a caller's transaction every migration must be able to run under a savepoint: one that
   * needs its own transactions (or none) would commit the caller's work, or could not be undone
   * with it. Refused before anything runs.
   */
  #checkOuterTransaction(plan: Plan): void {
    const { dialect } = this.#opts;
    const blocking = plan.migrations.filter((pm) => !this.#groupable(pm));
    if (blocking.length === 0) return;
    const why = (pm: PlannedMigration): string => {
      if (!dialect.capabilities.transactionalDdl)
        return `${dialect.engine} has no transactional DDL, so "${pm.id}" cannot run inside a transaction`;
      if (!dialect.capabilities.savepoints) return `${dialect.engine} has no savepoints`;
      const steps = pm.steps.filter((s) => !s.transactional).map((s) => s.id);
      return `"${pm.id}" has steps marked transactional: false (${steps.join(', ')})`;
    };
    throw new PlanError(
      'E_NOT_TRANSACTIONAL',
      `cannot run ${plan.direction} inside the caller's transaction: ${why(blocking[0]!)}; run it outside a transaction`,
      { details: { migrations: blocking.map((pm) => pm.id), engine: dialect.engine } },
    );
  }

  /**
   * Makes the backup a plan requires (the dialect's `backup`) and records it as a `backup`
   * execution when the history tables exist. `up` does this itself; this is for callers that run
   * the plan inside their own transaction and must back up before opening it.
   *
   * @example
   * const run = await migrator.up({ dryRun: true });
   * if (run.plan?.backupRequired) await migrator.backup(run.plan);
   */
  async backup(plan: Plan): Promise<BackupResult> {
    return this.#backup(plan);
  }

  #summary(
    plan: Plan,
    results: MigrationResult[],
    backup: BackupResult | undefined,
  ): Record<string, unknown> {
    const count = (s: MigrationResult['status']) => results.filter((r) => r.status === s).length;
    return {
      target: plan.target,
      planned: plan.migrations.length,
      applied: count('applied'),
      rolledBack: count('rolled-back'),
      skipped: count('skipped'),
      failed: count('failed') + count('partial'),
      migrations: results.map((r) => `${r.migrationId}:${r.status}`),
      ...(backup ? { backup: backup.location } : {}),
    };
  }

  async #backup(plan: Plan): Promise<BackupResult> {
    const { dialect, connection, plugin } = this.#opts;
    const why = plan.migrations.filter((m) => m.requiresBackup).map((m) => m.id);
    if (!dialect.backup) {
      throw new BackupRequiredError(
        `a backup is required before ${why.join(', ')} (requiresBackup), and the ${dialect.engine} dialect cannot make one; back up yourself and rerun with --skip-backup`,
        { details: { migrations: why } },
      );
    }
    const startedAt = nowIso();
    const t0 = performance.now();
    // A database cmpkg never touched gets no history tables just to say a backup was made.
    const recorded = await this.#store.exists();
    const id = recorded
      ? await this.#store.startExecution({
          kind: 'backup',
          pluginId: plugin.id,
          fromVersion: plan.fromVersion,
          toVersion: plan.fromVersion,
          user: this.#user,
          reason: `required by ${why.join(', ')}`,
          startedAt,
        })
      : undefined;
    try {
      const result = await dialect.backup(connection, {
        label: `${plugin.id}-${plan.fromVersion ?? 'empty'}`,
        ...(this.#opts.backupDirectory ? { directory: this.#opts.backupDirectory } : {}),
      });
      if (id !== undefined) {
        await this.#store.finishExecution(id, {
          status: 'succeeded',
          durationMs: performance.now() - t0,
          summary: { location: result.location, bytes: result.bytes ?? null },
        });
      }
      return result;
    } catch (err) {
      if (id === undefined) throw err;
      await this.#store.finishExecution(id, {
        status: 'failed',
        durationMs: performance.now() - t0,
        summary: {},
        error: err instanceof Error ? err.message : String(err),
      });
      throw err;
    }
  }

  /** Records the installed plugin version after a run; returns it. */
  async #recordPlugin(state: HistoryState, results: MigrationResult[]): Promise<string | null> {
    const { plugin } = this.#opts;
    const done = new Map<string, string>();
    for (const r of state.history) {
      if (r.pluginId === plugin.id && (r.status === 'applied' || r.status === 'skipped'))
        done.set(r.migrationId, r.version);
    }
    for (const r of results) {
      if (r.status === 'applied' || r.status === 'skipped') done.set(r.migrationId, r.version);
      if (r.status === 'rolled-back') done.delete(r.migrationId);
    }
    let version: string | null = null;
    if (done.size > 0) {
      const complete = plugin.migrations.every((m) => done.has(m.id));
      version = complete ? plugin.version : [...done.values()].reduce((a, b) => (semver.gt(a, b) ? a : b));
    }
    await this.#store.writePlugin(plugin.id, version, {
      ...(this.#opts.packageDigest !== undefined ? { packageDigest: this.#opts.packageDigest } : {}),
    });
    return version;
  }

  #result(
    pm: PlannedMigration,
    direction: Direction,
    status: MigrationResult['status'],
    steps: StepResult[],
    durationMs: number,
    error?: string,
  ): MigrationResult {
    return {
      pluginId: pm.pluginId,
      migrationId: pm.id,
      version: pm.version,
      name: pm.name,
      direction,
      status,
      durationMs,
      steps,
      ...(error !== undefined ? { error } : {}),
    };
  }

  /**
   * Runs the plan. Consecutive migrations that can run in a transaction share one, each inside its
   * own savepoint: every migration stays all-or-nothing, and the run pays for one commit instead
   * of one per migration. Returns the error that stopped the run, if any.
   */
  async #execute(
    plan: Plan,
    state: HistoryState,
    results: MigrationResult[],
    outer: boolean,
  ): Promise<CmpkgError | undefined> {
    const { dialect, connection } = this.#opts;
    const runner = new StepRunner({
      conn: connection,
      dialect,
      retry: { ...DEFAULT_RETRY, ...this.#opts.retry },
      ...(this.#opts.transformRunner ? { transformRunner: this.#opts.transformRunner } : {}),
      onRetry: (error, attempt) => this.#emit('error', { error, attempt, willRetry: true }),
    });
    const records = new Map(
      state.history.filter((r) => r.pluginId === plan.pluginId).map((r) => [r.migrationId, r] as const),
    );
    let rank = (await this.#store.nextRank()) - 1;
    const nextRank = (id: string) => records.get(id)?.installedRank ?? ++rank;
    const failed = new Set<string>();
    const total = plan.migrations.length;
    let done = 0;
    let firstError: CmpkgError | undefined;

    let i = 0;
    while (i < total) {
      if (firstError && !this.#opts.continueOnError) break;
      const group: PlannedMigration[] = [];
      while (i < total && this.#groupable(plan.migrations[i]!)) group.push(plan.migrations[i++]!);
      if (group.length > 0) {
        const groupResults: MigrationResult[] = [];
        // Progress is reported as each migration finishes running; its result is final (and
        // `migration:done` fires) only once the shared transaction commits.
        const finish = (r: MigrationResult) => {
          groupResults.push(r);
          this.#emit('progress', { done: done + groupResults.length, total, migrationId: r.migrationId });
        };
        const batch: HistoryBatch = { migrations: [], steps: [] };
        // Inside a caller's transaction the group is a savepoint of it, and only the caller commits.
        const groupSavepoint = outer ? 'cmpkg_group' : undefined;
        await connection.execute(groupSavepoint ? `SAVEPOINT ${groupSavepoint}` : 'BEGIN');
        let k = 0;
        try {
          for (; k < group.length; k++) {
            const pm = group[k]!;
            const blocked = this.#blockedBy(pm, failed);
            if (blocked) {
              finish(
                this.#result(pm, plan.direction, 'skipped', [], 0, `not run: depends on failed ${blocked}`),
              );
              failed.add(pm.id);
              continue;
            }
            const sp = `cmpkg_migration_${k}`;
            await connection.execute(`SAVEPOINT ${sp}`);
            const t0 = performance.now();
            this.#emit('migration:start', { ...this.#ref(pm, plan.direction), index: done + k, total });
            try {
              const steps = await this.#runMigrationSteps(pm, plan.direction, runner, true);
              // Only new records can be batched: a record being replaced (a retried skip) is written at once.
              const target = records.has(pm.id) ? undefined : batch;
              await this.#recordDone(pm, plan.direction, steps, performance.now() - t0, nextRank, target);
              await connection.execute(`RELEASE SAVEPOINT ${sp}`);
              const status =
                pm.action === 'skip-engine' ? 'skipped' : plan.direction === 'up' ? 'applied' : 'rolled-back';
              finish(this.#result(pm, plan.direction, status, steps, performance.now() - t0));
            } catch (err) {
              await connection.execute(`ROLLBACK TO SAVEPOINT ${sp}`);
              await connection.execute(`RELEASE SAVEPOINT ${sp}`);
              const error = asCmpkgError(err);
              failed.add(pm.id);
              firstError ??= error;
              this.#emit('error', { error, migrationId: pm.id, attempt: 1, willRetry: false });
              finish(this.#result(pm, plan.direction, 'failed', [], performance.now() - t0, error.message));
              if (!this.#opts.continueOnError) {
                k++;
                break;
              }
            }
          }
          await this.#store.insertMigrations(batch.migrations);
          await this.#store.insertSteps(batch.steps);
          await connection.execute(groupSavepoint ? `RELEASE SAVEPOINT ${groupSavepoint}` : 'COMMIT');
        } catch (err) {
          // The transaction itself broke (commit failed, connection lost): nothing of the group
          // is applied, whatever the savepoints said.
          if (groupSavepoint) {
            await connection
              .execute(`ROLLBACK TO SAVEPOINT ${groupSavepoint}`)
              .then(() => connection.execute(`RELEASE SAVEPOINT ${groupSavepoint}`))
              .catch(() => undefined);
          } else await connection.execute('ROLLBACK').catch(() => undefined);
          const error = asCmpkgError(err);
          firstError ??= error;
          for (const r of groupResults)
            if (r.status !== 'failed') Object.assign(r, { status: 'failed', error: error.message });
        }
        done += groupResults.length;
        for (const r of groupResults) {
          results.push(r);
          this.#emit('migration:done', r);
        }
        if (k < group.length && !this.#opts.continueOnError) break;
        continue;
      }
      const pm = plan.migrations[i++]!;
      const blocked = this.#blockedBy(pm, failed);
      if (blocked) {
        results.push(
          this.#result(pm, plan.direction, 'skipped', [], 0, `not run: depends on failed ${blocked}`),
        );
        failed.add(pm.id);
        continue;
      }
      const t0 = performance.now();
      this.#emit('migration:start', { ...this.#ref(pm, plan.direction), index: done, total });
      const stepResults: StepResult[] = [];
      let result: MigrationResult;
      try {
        await this.#runStepByStep(pm, plan.direction, runner, nextRank, stepResults);
        await this.#recordDone(pm, plan.direction, [], performance.now() - t0, nextRank);
        result = this.#result(
          pm,
          plan.direction,
          plan.direction === 'up' ? 'applied' : 'rolled-back',
          stepResults,
          performance.now() - t0,
        );
      } catch (err) {
        const error = asCmpkgError(err);
        failed.add(pm.id);
        firstError ??= error;
        this.#emit('error', { error, migrationId: pm.id, attempt: 1, willRetry: false });
        const anyDone = stepResults.some((s) => s.status === 'done') || pm.completedSteps.length > 0;
        result = this.#result(
          pm,
          plan.direction,
          anyDone ? 'partial' : 'failed',
          stepResults,
          performance.now() - t0,
          error.message,
        );
      }
      results.push(result);
      this.#emit('progress', { done: ++done, total, migrationId: pm.id });
      this.#emit('migration:done', result);
    }
    return firstError;
  }

  #blockedBy(pm: PlannedMigration, failed: Set<string>): string | undefined {
    if (failed.size === 0 || pm.action === 'rollback') return undefined;
    const m = this.#opts.plugin.migrations.find((x) => x.id === pm.id);
    return m?.dependencies
      .map((d) => parseDependency(d, pm.pluginId))
      .find((d) => d.pluginId === pm.pluginId && failed.has(d.migrationId))?.migrationId;
  }

  #ref(pm: PlannedMigration, direction: Direction): MigrationRef {
    return { pluginId: pm.pluginId, id: pm.id, version: pm.version, name: pm.name, direction };
  }

  /** Runs every step of a migration inside the caller's transaction. */
  async #runMigrationSteps(
    pm: PlannedMigration,
    direction: Direction,
    runner: StepRunner,
    inTransaction: boolean,
  ): Promise<StepResult[]> {
    const out: StepResult[] = [];
    for (const step of pm.steps) {
      if (pm.completedSteps.includes(step.id)) continue;
      const r = await runner.run(pm, step, inTransaction);
      out.push(r);
      this.#emit('step:done', { ...this.#ref(pm, direction), ...r });
    }
    return out;
  }

  /**
   * Writes the history of a finished migration (inside the caller's transaction, if any). New
   * records go to `batch` when one is given: a group of migrations then writes its history in a
   * few multi-row inserts instead of two statements per migration.
   */
  async #recordDone(
    pm: PlannedMigration,
    direction: Direction,
    steps: StepResult[],
    durationMs: number,
    rankOf: (id: string) => number,
    batch?: HistoryBatch,
  ): Promise<void> {
    const { plugin, dialect } = this.#opts;
    if (direction === 'down') {
      await this.#store.deleteMigration(plugin.id, pm.id);
      return;
    }
    const record: AppliedMigrationRecord = {
      pluginId: plugin.id,
      migrationId: pm.id,
      version: pm.version,
      name: pm.name,
      checksum: pm.checksum,
      status: pm.action === 'skip-engine' ? 'skipped' : 'applied',
      appliedAt: nowIso(),
      appliedBy: this.#user,
      executionMs: durationMs,
      engine: dialect.engine,
      installedRank: rankOf(pm.id),
      packageDigest: this.#opts.packageDigest ?? null,
    };
    const journal = steps.map((s) => this.#journal(pm, 'up', s));
    if (batch && pm.action === 'apply') {
      batch.migrations.push(record);
      batch.steps.push(...journal);
      return;
    }
    await this.#store.writeMigration(record);
    if (journal.length > 0) await this.#store.writeSteps(journal);
  }

  #journal(
    pm: PlannedMigration,
    direction: Direction,
    s: StepResult,
    status?: StepJournalRecord['status'],
    statementsDone?: number,
  ): StepJournalRecord {
    const finished = nowIso();
    const step = pm.steps.find((p) => p.id === s.stepId);
    const recorded = status ?? s.status;
    const ran = recorded === 'done' ? (step?.statements.length ?? 0) : (statementsDone ?? 0);
    return {
      pluginId: pm.pluginId,
      migrationId: pm.id,
      stepId: s.stepId,
      direction,
      status: recorded,
      // A finished step keeps its own checksum (edits to it are drift); an unfinished one the
      // checksum of the statements it ran, which a resume checks before skipping them.
      checksum:
        recorded !== 'done' && ran > 0 && step
          ? checksumStatements(step.statements.slice(0, ran))
          : (step?.checksum ?? null),
      startedAt: new Date(Date.now() - s.durationMs).toISOString(),
      finishedAt: finished,
      rowsAffected: s.rowsAffected,
      error: s.error ?? null,
      statementsDone: ran,
    };
  }

  /**
   * Step-by-step mode: the migration is recorded as `partial` before its first step, and every
   * finished step is journaled (in the same transaction as the step where the engine allows), so
   * a crash or a failure leaves a record the next run resumes from.
   */
  async #runStepByStep(
    pm: PlannedMigration,
    direction: Direction,
    runner: StepRunner,
    rankOf: (id: string) => number,
    out: StepResult[],
  ): Promise<void> {
    const { plugin, dialect, connection } = this.#opts;
    if (direction === 'up') {
      await this.#store.writeMigration({
        pluginId: plugin.id,
        migrationId: pm.id,
        version: pm.version,
        name: pm.name,
        checksum: pm.checksum,
        status: pm.completedSteps.length > 0 ? 'partial' : 'failed',
        appliedAt: nowIso(),
        appliedBy: this.#user,
        executionMs: 0,
        engine: dialect.engine,
        installedRank: rankOf(pm.id),
        packageDigest: this.#opts.packageDigest ?? null,
      });
    }
    // The recorded status only changes once, from `failed` to `partial`, with the first finished
    // step, and in that step's transaction where there is one.
    let recorded: 'partial' | 'failed' = pm.completedSteps.length > 0 ? 'partial' : 'failed';
    for (const step of pm.steps) {
      if (direction === 'up' && pm.completedSteps.includes(step.id)) continue;
      const startedAt = nowIso();
      const inTx = step.transactional && dialect.capabilities.transactionalDdl;
      const running = (): StepResult => ({
        stepId: step.id,
        status: 'done',
        rowsAffected: 0,
        durationMs: 0,
        attempts: 0,
      });
      if (!inTx) {
        // Without a transaction around the step, a crash mid-step must still leave a trace.
        await this.#store.writeSteps([
          {
            ...this.#journal(
              pm,
              direction,
              running(),
              'running',
              direction === 'up' ? (step.resumeAt ?? 0) : 0,
            ),
            startedAt,
            finishedAt: null,
          },
        ]);
      }
      let r: StepResult;
      let statementsDone = inTx || direction !== 'up' ? 0 : (step.resumeAt ?? 0);
      // Outside a transaction every statement that ran is journaled, so a crash or a failure in a
      // later statement resumes after it instead of running it again.
      const onStatement = async (n: number) => {
        statementsDone = n;
        if (n < step.statements.length) {
          await this.#store.writeSteps([
            { ...this.#journal(pm, direction, running(), 'running', n), startedAt, finishedAt: null },
          ]);
        }
      };
      try {
        if (inTx) await connection.execute('BEGIN');
        r = await runner.run(
          pm,
          direction === 'up' ? step : { ...step, resumeAt: 0 },
          inTx,
          inTx ? undefined : onStatement,
        );
        await this.#store.writeSteps([this.#journal(pm, direction, r)]);
        // After the last step the caller records the migration as applied at once; a crash in
        // between leaves every step journaled as done, which a resume completes without running.
        const last = step === pm.steps[pm.steps.length - 1];
        if (direction === 'up' && r.status === 'done' && recorded === 'failed' && !last) {
          await this.#store.updateStatus(pm.pluginId, pm.id, 'partial');
          recorded = 'partial';
        }
        if (inTx) await connection.execute('COMMIT');
      } catch (err) {
        if (inTx) await connection.execute('ROLLBACK').catch(() => undefined);
        const message = err instanceof Error ? err.message : String(err);
        const failedStep: StepResult = {
          stepId: step.id,
          status: 'failed',
          rowsAffected: 0,
          durationMs: 0,
          attempts: 1,
          error: message,
        };
        out.push(failedStep);
        await this.#store.writeSteps([this.#journal(pm, direction, failedStep, 'failed', statementsDone)]);
        throw err;
      }
      out.push(r);
      this.#emit('step:done', { ...this.#ref(pm, direction), ...r });
    }
  }
}
