import type { BackupResult, Connection, Dialect } from '../dialect.js';
import type { CmpkgError } from '../errors.js';
import type { Engine, ExpectedChanges, RiskLevel } from '../model/schema.js';
import type { Plugin, Step } from '../model/types.js';

export type Direction = 'up' | 'down';

/** One step of a planned migration, rendered for the connected engine. */
export interface PlannedStep {
  id: string;
  name: string;
  kind: 'sql' | 'code' | 'transform';
  /** The statements as they will run, split by the dialect's splitter (empty for code steps). */
  statements: string[];
  transactional: boolean;
  skipOnError: boolean;
  timeoutMs?: number;
  preValidation?: string;
  postValidation?: string;
  expectedChanges?: ExpectedChanges;
  /** Checksum of this step alone; the journal keeps it so edits to finished steps are drift. */
  checksum: string;
  /**
   * Statements an earlier, interrupted attempt already ran (steps outside a transaction only: on
   * MySQL a failed step keeps the statements before the failing one). The run starts after them.
   */
  resumeAt?: number;
  /** The model step (code steps carry `run`); not enumerable, so it stays out of JSON output. */
  step: Step;
}

/** What the plan will do with one migration. */
export type PlannedAction = 'apply' | 'resume' | 'rollback' | 'skip-engine';

export interface PlannedMigration {
  pluginId: string;
  id: string;
  version: string;
  name: string;
  riskLevel: RiskLevel;
  checksum: string;
  action: PlannedAction;
  /** True when the whole migration runs in one transaction (transactional DDL, every step transactional). */
  transactional: boolean;
  /** For `resume`: the steps already done, which are not run again. */
  completedSteps: string[];
  steps: PlannedStep[];
  requiresBackup: boolean;
  estimatedDuration: number;
  /** The file it came from, for messages. */
  file?: string;
}

export interface LintFinding {
  rule: string;
  severity: 'warning' | 'error';
  migrationId: string;
  stepId?: string;
  message: string;
}

/**
 * The output of the planner: everything that will happen, in order, with the SQL for the
 * connected engine. A dry run returns exactly this and touches nothing.
 */
export interface Plan {
  pluginId: string;
  engine: Engine;
  direction: Direction;
  /** What was asked for: `latest`, a version, a range, a migration id, `steps:N`, `all`. */
  target: string;
  /** Highest applied version before the run (null when nothing is applied). */
  fromVersion: string | null;
  /** Highest applied version after the run, if it succeeds. */
  toVersion: string | null;
  migrations: PlannedMigration[];
  maxRisk: RiskLevel | null;
  /** Seconds, summed over the planned migrations. */
  estimatedDuration: number;
  backupRequired: boolean;
  lint: LintFinding[];
  warnings: string[];
}

export type StepStatus = 'done' | 'skipped' | 'failed';

export interface StepResult {
  stepId: string;
  status: StepStatus;
  rowsAffected: number;
  durationMs: number;
  attempts: number;
  error?: string;
}

export type MigrationResultStatus = 'applied' | 'rolled-back' | 'skipped' | 'failed' | 'partial' | 'planned';

export interface MigrationResult {
  pluginId: string;
  migrationId: string;
  version: string;
  name: string;
  direction: Direction;
  status: MigrationResultStatus;
  durationMs: number;
  steps: StepResult[];
  error?: string;
}

/**
 * What `up` and `down` return: the results so far, and the error that stopped the run, if any.
 * Callers report partial progress from `results` even when `error` is set.
 */
export interface RunResult {
  dryRun: boolean;
  plan?: Plan;
  results: MigrationResult[];
  error?: CmpkgError;
  backup?: BackupResult;
  /** Drifted migrations whose recorded checksums `repair` replaced (in a dry run: would replace). */
  repaired?: string[];
  /** The `cmpkg_executions` row of this run (absent for dry runs and runs that never started). */
  executionId?: number;
}

export type MigrationState = 'applied' | 'pending' | 'partial' | 'failed' | 'skipped' | 'missing';

export interface MigrationStatusEntry {
  pluginId: string;
  id: string;
  version: string;
  name: string;
  state: MigrationState;
  /** Why a migration is `skipped` (`engine`) or `missing` (`file removed`). */
  reason?: string;
  /** The applied checksum differs from the file's. */
  drift: boolean;
  riskLevel?: RiskLevel;
  appliedAt?: string;
  appliedBy?: string;
  executionMs?: number;
  installedRank?: number;
  /** For partial/failed migrations: the step that failed. */
  failedStep?: string;
}

export interface StatusReport {
  pluginId: string;
  engine: Engine;
  database: string;
  /** The plugin version recorded in `cmpkg_plugins`, if any. */
  installedVersion: string | null;
  /** The version of the plugin on disk. */
  availableVersion: string;
  migrations: MigrationStatusEntry[];
  counts: Record<MigrationState, number>;
  drift: string[];
}

export interface ValidationReport {
  ok: boolean;
  pluginId: string;
  checked: number;
  drift: string[];
  warnings: string[];
}

export interface AppliedMigrationRecord {
  pluginId: string;
  migrationId: string;
  version: string;
  name: string;
  checksum: string;
  status: 'applied' | 'partial' | 'failed' | 'skipped';
  appliedAt: string;
  appliedBy: string;
  executionMs: number;
  engine: string;
  installedRank: number;
  packageDigest: string | null;
}

export interface StepJournalRecord {
  pluginId: string;
  migrationId: string;
  stepId: string;
  direction: Direction;
  status: StepStatus | 'running';
  checksum: string | null;
  startedAt: string;
  finishedAt: string | null;
  rowsAffected: number;
  error: string | null;
  /**
   * Statements of the step that have run. For a step outside a transaction that failed or was
   * interrupted, `checksum` then covers just those statements, so a resume can skip them safely.
   */
  statementsDone: number;
}

export type ExecutionKind = 'up' | 'down' | 'install' | 'import' | 'export' | 'backup' | 'restore' | 'copy';

export interface ExecutionRecord {
  id: number;
  kind: ExecutionKind;
  pluginId: string;
  fromVersion: string | null;
  toVersion: string | null;
  dryRun: boolean;
  status: 'running' | 'succeeded' | 'failed';
  startedAt: string;
  durationMs: number | null;
  user: string;
  reason: string | null;
  summary: Record<string, unknown> | null;
  error: string | null;
}

export interface HistoryReport {
  pluginId: string;
  migrations: AppliedMigrationRecord[];
  executions: ExecutionRecord[];
}

export interface RetryOptions {
  /** Total attempts for a step that fails with a transient error (default 3). */
  attempts?: number;
  /** First back-off delay; doubles each attempt, with jitter (default 200 ms). */
  initialDelayMs?: number;
  maxDelayMs?: number;
}

/**
 * What a {@link TransformRunner} is given for one `transform` step.
 *
 * @example
 * const ctx: TransformContext = { connection, dialect, signal, jobId: 'kb:kb-004:copy' };
 */
export interface TransformContext {
  /** The migration's connection; `connection.inTransaction` says whether the step runs inside the migration's transaction. */
  connection: Connection;
  dialect: Dialect;
  /** Aborted when the step's timeout passes. */
  signal: AbortSignal;
  /** `pluginId:migrationId:stepId`: the key of the step's checkpoints. */
  jobId: string;
}

/**
 * Runs `transform` steps; provided by `@cmpkg/transform` (`createTransformRunner`). Without one,
 * transform steps are a plan error.
 *
 * @example
 * const migrator = new Migrator({ dialect, connection, plugin, transformRunner: createTransformRunner() });
 */
export interface TransformRunner {
  run(step: Step, context: TransformContext): Promise<{ rowsAffected: number }>;
}

export interface MigratorOptions {
  dialect: Dialect;
  /** An open connection; the migrator pins it and never closes it. */
  connection: Connection;
  plugin: Plugin;
  /** Every plugin id and migration id known elsewhere (for cross-plugin dependencies); optional. */
  lockTimeoutMs?: number;
  /** Recorded as applied_by / user (default: the OS user). */
  user?: string;
  allowOutOfOrder?: boolean;
  /** Record new checksums for drifted applied migrations instead of failing (Flyway's repair). */
  repair?: boolean;
  /** Keep going with the next migration after one fails (default false: stop). */
  continueOnError?: boolean;
  retry?: RetryOptions;
  /** `auto` (default) backs up when the plan requires it; `skip` never does (the caller accepted the risk). */
  backup?: 'auto' | 'skip';
  backupDirectory?: string;
  transformRunner?: TransformRunner;
  /** Recorded in cmpkg_migrations / cmpkg_plugins when installing from a package. */
  packageDigest?: string;
  /**
   * The caller already holds `MIGRATION_LOCK_NAME` on this connection (an install that locks once
   * around migrations, data and records): `up` and `down` then neither take nor release it. The
   * SQLite lock is not re-entrant, so taking it again would wait for ourselves.
   */
  lockHeld?: boolean;
}

export interface UpOptions {
  /** `latest` (default), a version, a semver range, or a migration id. */
  to?: string;
  dryRun?: boolean;
  reason?: string;
}

export interface DownOptions {
  /** Roll back this many applied migrations (default 1 when neither `to` nor `all` is given). */
  steps?: number;
  /** Roll back every migration after this version or migration id. */
  to?: string;
  all?: boolean;
  /** Roll back even migrations without down steps or with `rollbackSupported: false` steps. */
  force?: boolean;
  dryRun?: boolean;
  reason?: string;
}

export interface MigrationRef {
  pluginId: string;
  id: string;
  version: string;
  name: string;
  direction: Direction;
}

/** Events the migrator emits, with their payloads. */
export interface MigratorEvents {
  plan: Plan;
  'migration:start': MigrationRef & { index: number; total: number };
  'step:done': MigrationRef & StepResult;
  progress: { done: number; total: number; migrationId: string };
  'migration:done': MigrationResult;
  error: { error: CmpkgError; migrationId?: string; stepId?: string; attempt: number; willRetry: boolean };
}
