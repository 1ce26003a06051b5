import { hostname } from 'node:os';
import { basename } from 'node:path';
import {
  asCmpkgError,
  atomically,
  BackupRequiredError,
  type BackupResult,
  type CmpkgError,
  type Connection,
  type Dialect,
  defaultUser,
  HistoryStore,
  type InstalledPluginRecord,
  isCmpkgError,
  MIGRATION_LOCK_NAME,
  type Migration,
  type MigrationRef,
  type MigrationResult,
  Migrator,
  type MigratorOptions,
  PackageError,
  type Plan,
  type Plugin,
  parseJsonMigration,
  type RunResult,
  type TransformRunner,
  UsageError,
} from '@cmpkg/core';
import { createTransformRunner, type ImportReport, type ProgressEvent } from '@cmpkg/transform';
import { openPackage, type VerifiedPackage } from './archive-reader.js';
import {
  checkEngine,
  checkRequires,
  decideAction,
  decideTrust,
  type InstallAction,
  type TrustDecision,
} from './install-checks.js';
import { importPackageData, packageDocuments } from './install-data.js';
import { type InstallSnapshot, takeInstallSnapshot, undoInstall } from './install-undo.js';
import type { PublicKey } from './keys.js';
import type { RotationStatement } from './rotation.js';

/**
 * Options of {@link installPackage}.
 *
 * @example
 * const options: InstallOptions = { package: 'kb-1.2.0.cmpkg', dialect, connection, trustKey: await readPublicKey('kb.pub') };
 */
export interface InstallOptions {
  /** An archive path, or a package already opened with openPackage (the caller disposes it). */
  package: string | VerifiedPackage;
  dialect: Dialect;
  /** An open connection outside any transaction; the install pins it and never closes it. */
  connection: Connection;
  /** Pin this key on a first install / require it (from --trust-key). */
  trustKey?: PublicKey;
  /** Extra rotation statements (from --rotation FILE), in addition to the package's rotation.json. */
  rotation?: readonly RotationStatement[];
  /** Install an older version than the installed one: the newer migrations' down steps run. */
  allowDowngrade?: boolean;
  /** Import the package's data on an upgrade too (always imported on a fresh install). */
  importData?: boolean;
  /** `auto` (default) backs up when a planned migration `requiresBackup`; `skip` never does. */
  backup?: 'auto' | 'skip';
  backupDirectory?: string;
  /** How long to wait for the migration lock (default 60 s). */
  lockTimeoutMs?: number;
  /** Recorded as the user of the install (default: the OS user). */
  user?: string;
  reason?: string;
  /** Verify, check and plan; write nothing (not even the history tables or the lock). */
  dryRun?: boolean;
  /** Runs `transform` steps; default: @cmpkg/transform createTransformRunner(). */
  transformRunner?: TransformRunner;
  /** A package of another plugin or version is refused (`E_PKG_UNEXPECTED`). */
  expect?: { pluginId?: string; version?: string };
  /** Progress for the CLI: verified, plan, backup, migration:start/done, data:progress/done, undo. */
  onEvent?: (event: InstallEvent) => void;
}

/**
 * Progress of an install, in order: `verified` → `plan` → `backup`? → `migration:start` /
 * `migration:done` per migration → `data:progress`… → `data:done` → (on failure) `undo`.
 *
 * @example
 * const onEvent = (e: InstallEvent) => { if (e.type === 'migration:done') console.log(e.result.migrationId, e.result.status); };
 */
export type InstallEvent =
  | { type: 'verified'; file: string; pluginId: string; version: string; keyId: string; digest: string }
  | {
      type: 'plan';
      action: InstallAction;
      fromVersion: string | null;
      toVersion: string;
      plans: Plan[];
      /** `transaction`: everything in one transaction; `compensate`: migrations commit one by one. */
      mode: 'transaction' | 'compensate';
    }
  | { type: 'backup'; backup: BackupResult }
  | { type: 'migration:start'; migration: MigrationRef & { index: number; total: number } }
  | { type: 'migration:done'; result: MigrationResult }
  | { type: 'data:progress'; progress: ProgressEvent }
  | { type: 'data:done'; report: ImportReport }
  | { type: 'undo'; mode: 'transaction' | 'compensate'; error: CmpkgError };

/**
 * What {@link installPackage} did (or, with `dryRun`, would do).
 *
 * @example
 * const r: InstallResult = await installPackage({ package: 'kb-1.0.0.cmpkg', dialect, connection });
 * if (r.error) console.error(r.error.code, r.restored ? '(database unchanged)' : '(see details)');
 */
export interface InstallResult {
  pluginId: string;
  action: 'install' | 'upgrade' | 'downgrade' | 'none';
  fromVersion: string | null;
  toVersion: string;
  keyId: string;
  /** True when the signer was pinned by this install (first install or a verified rotation). */
  pinned: boolean;
  rotated: boolean;
  digest: string;
  dryRun: boolean;
  /** The plan of the migrations (a downgrade: its rollback plan). */
  plan?: Plan;
  /** Every plan the install runs, in order (a downgrade: the rollback, then the package's pending migrations). */
  plans?: Plan[];
  /** `transaction` (SQLite, PostgreSQL: one transaction) or `compensate` (undone step by step on failure). */
  mode?: 'transaction' | 'compensate';
  migrations: MigrationResult[];
  data?: ImportReport;
  backup?: BackupResult;
  executionId?: number;
  /** Set when the install failed; the database was put back as it was (restored=true) or not (E_INSTALL_INCOMPLETE). */
  error?: CmpkgError;
  restored?: boolean;
}

/** One Migrator run of an install: a downgrade rolls back, then applies what the package has pending. */
interface Phase {
  direction: 'up' | 'down';
  plugin: Plugin;
  plan: Plan;
}

interface Decision {
  installed: InstalledPluginRecord | null;
  trust: TrustDecision;
  action: InstallAction;
  /** The package's migrations plus the stored documents of applied migrations it lacks. */
  combined: Plugin;
  phases: Phase[];
}

interface Context {
  pkg: VerifiedPackage;
  options: InstallOptions;
  file: string;
  pluginId: string;
  version: string;
  plugin: Plugin;
  user: string;
  transformRunner: TransformRunner;
  emit: (event: InstallEvent) => void;
}

/**
 * Installs, upgrades or (when allowed) downgrades a plugin from a signed `.cmpkg` package:
 * verify (signature, every entry) → engine in `engines` → trust (pin on first install, the pinned
 * key, or a rotation signed by it) → `requires` → direction → plan → take the migration lock for the
 * whole install → backup if required → migrate (up, or down for a downgrade) → import the data
 * (fresh install, or `importData`) in `merge` mode → store the migration documents, the
 * `cmpkg_plugins` row (version, digest, pinned key) and one `cmpkg_executions` row of kind `install`.
 *
 * Throws — with their own codes, before the database is changed — for refusals: a package that
 * does not verify (`E_PKG_*`, `E_SIGNATURE_INVALID`), `E_ENGINE_UNSUPPORTED`, `E_UNTRUSTED_KEY`,
 * `E_ROTATION_INVALID`, `E_REQUIRES_UNMET`, `E_VERSION_CONFLICT`, `E_DOWNGRADE`, `E_LOCK_TIMEOUT`,
 * drift and plan errors, `E_ROLLBACK_REFUSED`, a backup that is required and fails. Nothing is
 * recorded for them. The same version from the same archive resolves with action `none` (unless
 * some of its migrations were rolled back since: those are applied again, as an `upgrade`).
 *
 * Any failure after that — a migration step, the data import, the records — resolves with `error`:
 * the database is put back exactly as it was and the error is `E_INSTALL_FAILED` (its `cause` is the
 * original error, whose code is in `details.cause`), `restored: true`; or undoing failed too and it
 * is `E_INSTALL_INCOMPLETE` with what is left in `details`, `restored: false`. On SQLite and
 * PostgreSQL (transactional DDL, every planned migration transactional) everything runs in one
 * transaction that is rolled back; on MySQL/MariaDB (or with non-transactional steps) the migrations
 * commit one by one, the data import and records run in one transaction, and a failure is undone by
 * running the down steps of what the install applied and restoring the records. That cannot put
 * back what a downgrade's down steps deleted: when rolled-back migrations had to be applied again,
 * or a migration without down steps stays applied, the error is `E_INSTALL_INCOMPLETE` (schema and
 * history as before where possible, `details.left` says what is not). The failed attempt is
 * recorded as one `cmpkg_executions` row (kind `install`, status `failed`) only where cmpkg's
 * history tables existed before: an untouched database stays untouched.
 *
 * @example
 * const conn = await dialect.connect('sqlite:./app.db');
 * const result = await installPackage({ package: 'kb-1.2.0.cmpkg', dialect, connection: conn });
 * if (result.error) throw result.error;
 * console.log(`${result.action} ${result.pluginId} ${result.fromVersion ?? '-'} -> ${result.toVersion}`);
 */
export async function installPackage(options: InstallOptions): Promise<InstallResult> {
  const owned = typeof options.package === 'string';
  const pkg =
    typeof options.package === 'string'
      ? await openPackage(options.package, options.expect ? { expect: options.expect } : {})
      : options.package;
  try {
    if (!owned) checkExpected(pkg, options.expect);
    return await install(pkg, options);
  } finally {
    if (owned) await pkg.dispose();
  }
}

function checkExpected(pkg: VerifiedPackage, expect: InstallOptions['expect']): void {
  const { id, version } = pkg.manifest.plugin;
  const file = basename(pkg.file);
  if (expect?.pluginId !== undefined && expect.pluginId !== id) {
    throw new PackageError(
      'E_PKG_UNEXPECTED',
      `${file}: a package of plugin "${id}", not "${expect.pluginId}"`,
      {
        details: { file, pluginId: id, expected: expect.pluginId },
      },
    );
  }
  if (expect?.version !== undefined && expect.version !== version) {
    throw new PackageError(
      'E_PKG_UNEXPECTED',
      `${file}: version ${version} of "${id}", not ${expect.version}`,
      {
        details: { file, version, expected: expect.version },
      },
    );
  }
}

async function install(pkg: VerifiedPackage, options: InstallOptions): Promise<InstallResult> {
  const { dialect, connection } = options;
  const { manifest } = pkg;
  const file = basename(pkg.file);
  const emit = (event: InstallEvent) => options.onEvent?.(event);
  emit({
    type: 'verified',
    file,
    pluginId: manifest.plugin.id,
    version: manifest.plugin.version,
    keyId: pkg.signer.keyId,
    digest: pkg.digest,
  });
  if (connection.inTransaction) {
    throw new UsageError(
      `install ${file}: the connection is inside a transaction; an install runs (and commits) its own`,
    );
  }
  checkEngine({ file, engines: manifest.engines, engine: dialect.engine });
  const ctx: Context = {
    pkg,
    options,
    file,
    pluginId: manifest.plugin.id,
    version: manifest.plugin.version,
    plugin: await pkg.loadPlugin(),
    user: options.user ?? defaultUser(),
    transformRunner: options.transformRunner ?? createTransformRunner(),
    emit,
  };

  // Every refusal is decided before the lock (which on SQLite and MySQL writes a holder row): a
  // refused install leaves the database untouched. Decided again under the lock, which is what counts.
  let decision = await decide(ctx);
  if (decision.action === 'none' || options.dryRun) return planned(ctx, decision);
  const release = await dialect.acquireLock(connection, MIGRATION_LOCK_NAME, {
    timeoutMs: options.lockTimeoutMs ?? 60_000,
    holder: `${ctx.user}@${hostname()} pid ${process.pid} (cmpkg install ${ctx.pluginId}@${ctx.version})`,
  });
  try {
    decision = await decide(ctx);
    if (decision.action === 'none') return planned(ctx, decision);
    return await execute(ctx, decision);
  } finally {
    await release();
  }
}

function migratorFor(ctx: Context, plugin: Plugin): Migrator {
  const { options } = ctx;
  const extra: Partial<MigratorOptions> = {
    ...(options.lockTimeoutMs !== undefined ? { lockTimeoutMs: options.lockTimeoutMs } : {}),
    ...(options.backupDirectory !== undefined ? { backupDirectory: options.backupDirectory } : {}),
  };
  const migrator = new Migrator({
    dialect: options.dialect,
    connection: options.connection,
    plugin,
    user: ctx.user,
    lockHeld: true,
    // The install backs up itself, once, before its transaction.
    backup: 'skip',
    packageDigest: ctx.pkg.digest,
    transformRunner: ctx.transformRunner,
    ...extra,
  });
  migrator.on('migration:start', (migration) => ctx.emit({ type: 'migration:start', migration }));
  migrator.on('migration:done', (result) => ctx.emit({ type: 'migration:done', result }));
  return migrator;
}

/** Trust, requires, direction and the plans; throws the refusals. Reads only. */
async function decide(ctx: Context): Promise<Decision> {
  const { pkg, options, file, pluginId, version, plugin } = ctx;
  const store = new HistoryStore(options.connection);
  const installed = await store.readPlugin(pluginId);
  const trust = decideTrust({
    pluginId,
    file,
    installed,
    signer: pkg.signer,
    ...(options.trustKey ? { trustKey: options.trustKey } : {}),
    statements: [...pkg.rotation, ...(options.rotation ?? [])],
  });
  await checkRequires({ store, file, pluginId, requires: pkg.manifest.requires });
  let action = decideAction({
    file,
    pluginId,
    installed,
    version,
    digest: pkg.digest,
    allowDowngrade: options.allowDowngrade ?? false,
  });
  const combined: Plugin = {
    ...plugin,
    migrations: [...plugin.migrations, ...(await storedMigrations(store, plugin))],
  };
  const phases: Phase[] = [];
  const plan = (run: RunResult): Plan => {
    if (run.error) throw run.error;
    return run.plan!;
  };
  if (action === 'downgrade') {
    const run = await migratorFor(ctx, combined).down({ to: version, dryRun: true });
    phases.push({ direction: 'down', plugin: combined, plan: plan(run) });
  }
  const up = plan(await migratorFor(ctx, plugin).up({ dryRun: true }));
  if (action === 'none') {
    if (up.migrations.length === 0) return { installed, trust, action, combined, phases };
    // The recorded version stays while a migration of it is rolled back (the record keeps the
    // highest version still applied): the same archive again applies what it is missing.
    action = 'upgrade';
  }
  phases.push({ direction: 'up', plugin, plan: up });
  return { installed, trust, action, combined, phases };
}

/**
 * The stored documents of this plugin's recorded migrations that the package does not carry (the
 * newer migrations a downgrade rolls back), as migrations.
 */
async function storedMigrations(store: HistoryStore, plugin: Plugin): Promise<Migration[]> {
  const inPackage = new Set(plugin.migrations.map((m) => m.id));
  const recorded = new Set(
    (await store.readMigrations()).filter((r) => r.pluginId === plugin.id).map((r) => r.migrationId),
  );
  const out: Migration[] = [];
  for (const doc of await store.readPackageDocuments(plugin.id)) {
    if (inPackage.has(doc.migrationId) || !recorded.has(doc.migrationId)) continue;
    const m = parseJsonMigration(doc.document, `cmpkg_package_migrations:${plugin.id}/${doc.migrationId}`);
    if (m.pluginId !== '' && m.pluginId !== plugin.id) continue;
    m.pluginId = plugin.id;
    out.push(m);
  }
  return out;
}

function modeOf(ctx: Context, phases: readonly Phase[]): 'transaction' | 'compensate' {
  const { capabilities } = ctx.options.dialect;
  const all =
    capabilities.transactionalDdl &&
    capabilities.savepoints &&
    phases.every((p) => p.plan.migrations.every((pm) => pm.transactional || pm.action === 'skip-engine'));
  return all ? 'transaction' : 'compensate';
}

function baseResult(ctx: Context, decision: Decision): InstallResult {
  const main = decision.phases.find((p) => p.direction === 'down') ?? decision.phases[0];
  return {
    pluginId: ctx.pluginId,
    action: decision.action,
    fromVersion: decision.installed?.version ?? null,
    toVersion: ctx.version,
    keyId: ctx.pkg.signer.keyId,
    pinned: decision.action !== 'none' && decision.trust.pinned,
    rotated: decision.action !== 'none' && decision.trust.rotated,
    digest: ctx.pkg.digest,
    dryRun: ctx.options.dryRun ?? false,
    ...(main ? { plan: main.plan, plans: decision.phases.map((p) => p.plan) } : {}),
    migrations: [],
  };
}

/** The result of an install that changes nothing: `none`, or a dry run (the plans, as planned results). */
function planned(ctx: Context, decision: Decision): InstallResult {
  const result = baseResult(ctx, decision);
  if (decision.action === 'none') return result;
  const mode = modeOf(ctx, decision.phases);
  ctx.emit(planEvent(ctx, decision, mode));
  result.mode = mode;
  result.migrations = decision.phases.flatMap((p) =>
    p.plan.migrations.map(
      (pm): MigrationResult => ({
        pluginId: pm.pluginId,
        migrationId: pm.id,
        version: pm.version,
        name: pm.name,
        direction: p.direction,
        status: 'planned',
        durationMs: 0,
        steps: [],
      }),
    ),
  );
  return result;
}

function planEvent(ctx: Context, decision: Decision, mode: 'transaction' | 'compensate'): InstallEvent {
  return {
    type: 'plan',
    action: decision.action,
    fromVersion: decision.installed?.version ?? null,
    toVersion: ctx.version,
    plans: decision.phases.map((p) => p.plan),
    mode,
  };
}

interface Progress {
  results: MigrationResult[];
  /** `cmpkg_executions` rows of the Migrator runs (removed again when a compensated install is undone). */
  executionIds: number[];
  data?: ImportReport;
}

async function execute(ctx: Context, decision: Decision): Promise<InstallResult> {
  const { options } = ctx;
  const { connection } = options;
  const started = performance.now();
  const startedAt = new Date().toISOString();
  const mode = modeOf(ctx, decision.phases);
  ctx.emit(planEvent(ctx, decision, mode));
  const result: InstallResult = { ...baseResult(ctx, decision), mode };

  // Before any transaction: a backup is a copy of the database as it is now.
  const up = decision.phases.find((p) => p.direction === 'up');
  if (up?.plan.backupRequired && options.backup !== 'skip') {
    try {
      result.backup = await migratorFor(ctx, up.plugin).backup(up.plan);
    } catch (err) {
      if (isCmpkgError(err)) throw err;
      // A driver or file system error (an unwritable directory): still a refusal of cmpkg's own.
      const why = up.plan.migrations.filter((m) => m.requiresBackup).map((m) => m.id);
      throw new BackupRequiredError(
        `${ctx.file}: a backup is required before ${why.join(', ')} (requiresBackup) and could not be made: ` +
          `${err instanceof Error ? err.message : String(err)}; back up yourself and install with backup: 'skip' (--skip-backup)`,
        { cause: err, details: { file: ctx.file, migrations: why } },
      );
    }
    ctx.emit({ type: 'backup', backup: result.backup });
  }

  const progress: Progress = { results: [], executionIds: [] };
  const finish = async (store: HistoryStore) => {
    result.executionId = await recordSuccess(ctx, decision, store, progress, result, startedAt, started);
  };
  let failure: CmpkgError | undefined;
  // Compensating needs to know what to put back; one transaction only whether a history existed.
  const snapshot: InstallSnapshot | undefined =
    mode === 'compensate' ? await takeInstallSnapshot(connection, ctx.pluginId) : undefined;
  const historyExisted = snapshot?.historyExisted ?? (await new HistoryStore(connection).exists());

  if (mode === 'transaction') {
    try {
      await connection.execute('BEGIN');
      const store = new HistoryStore(connection);
      await store.ensureTables();
      await migrate(ctx, decision, progress);
      await importData(ctx, decision, progress);
      await finish(store);
      await connection.execute('COMMIT');
    } catch (err) {
      failure = asCmpkgError(err);
      ctx.emit({ type: 'undo', mode, error: failure });
      await connection.execute('ROLLBACK').catch(() => undefined);
    }
  } else {
    try {
      // DDL commits on MySQL: the tables the final transaction writes to are created before it.
      await new HistoryStore(connection).ensureTables();
      await migrate(ctx, decision, progress);
      // The data and the records: one transaction (the connection is outside any here).
      await atomically(connection, 'cmpkg_install', async () => {
        await importData(ctx, decision, progress);
        await finish(new HistoryStore(connection));
      });
    } catch (err) {
      failure = asCmpkgError(err);
      ctx.emit({ type: 'undo', mode, error: failure });
    }
  }

  result.migrations = progress.results;
  if (progress.data) result.data = progress.data;
  if (!failure) return result;
  delete result.executionId;
  delete result.data;

  let error: CmpkgError;
  let restored = true;
  if (snapshot) {
    const outcome = await undoInstall({
      dialect: options.dialect,
      connection,
      snapshot,
      plugin: decision.combined,
      executionIds: progress.executionIds,
      migrator: {
        user: ctx.user,
        transformRunner: ctx.transformRunner,
        ...(options.lockTimeoutMs !== undefined ? { lockTimeoutMs: options.lockTimeoutMs } : {}),
      },
    });
    restored = outcome.ok;
    error = restored
      ? installFailed(ctx, failure, mode)
      : new PackageError(
          'E_INSTALL_INCOMPLETE',
          `${ctx.file}: installing ${ctx.pluginId}@${ctx.version} failed (${failure.message}), and undoing it failed too: ${outcome.problems.join('; ') || 'the history still differs'}. ` +
            `Still applied: ${outcome.left.applied.join(', ') || 'none'}; not restored: ${outcome.left.missing.join(', ') || 'none'}`,
          {
            cause: failure,
            details: {
              file: ctx.file,
              pluginId: ctx.pluginId,
              version: ctx.version,
              cause: failure.code,
              mode,
              problems: outcome.problems,
              left: outcome.left,
            },
          },
        );
  } else {
    error = installFailed(ctx, failure, mode);
  }
  result.error = error;
  result.restored = restored;
  // The failed attempt is history only where there was a history to add to.
  const store = new HistoryStore(connection);
  if (historyExisted || (!restored && (await store.exists().catch(() => false)))) {
    try {
      const id = await store.startExecution({
        kind: 'install',
        pluginId: ctx.pluginId,
        fromVersion: decision.installed?.version ?? null,
        toVersion: ctx.version,
        user: ctx.user,
        reason: options.reason ?? null,
        startedAt,
      });
      await store.finishExecution(id, {
        status: 'failed',
        durationMs: performance.now() - started,
        toVersion: decision.installed?.version ?? null,
        summary: summary(ctx, decision, progress, result, { restored, cause: failure.code }),
        error: error.message,
      });
      result.executionId = id;
    } catch {
      // Recording is best effort: the returned error is what matters.
    }
  }
  return result;
}

function installFailed(ctx: Context, cause: CmpkgError, mode: 'transaction' | 'compensate'): PackageError {
  return new PackageError(
    'E_INSTALL_FAILED',
    `${ctx.file}: installing ${ctx.pluginId}@${ctx.version} failed, and the database was put back as it was: ${cause.message}`,
    {
      cause,
      details: {
        file: ctx.file,
        pluginId: ctx.pluginId,
        version: ctx.version,
        cause: cause.code,
        causeDetails: cause.details,
        mode,
      },
    },
  );
}

async function migrate(ctx: Context, decision: Decision, progress: Progress): Promise<void> {
  const reason = ctx.options.reason ?? `install ${ctx.file}`;
  for (const phase of decision.phases) {
    if (phase.plan.migrations.length === 0) continue;
    const migrator = migratorFor(ctx, phase.plugin);
    const run =
      phase.direction === 'down'
        ? await migrator.down({ to: ctx.version, reason })
        : await migrator.up({ reason });
    progress.results.push(...run.results);
    if (run.executionId !== undefined) progress.executionIds.push(run.executionId);
    if (run.error) throw run.error;
  }
}

async function importData(ctx: Context, decision: Decision, progress: Progress): Promise<void> {
  if (decision.action !== 'install' && !ctx.options.importData) return;
  const report = await importPackageData({
    dir: ctx.pkg.dir,
    file: ctx.pkg.file,
    manifest: ctx.pkg.manifest,
    dialect: ctx.options.dialect,
    connection: ctx.options.connection,
    onProgress: (p) => ctx.emit({ type: 'data:progress', progress: p }),
  });
  if (!report) return;
  progress.data = report;
  ctx.emit({ type: 'data:done', report });
}

/** Documents, the plugin row and the install's execution row, inside the install's last transaction. */
async function recordSuccess(
  ctx: Context,
  decision: Decision,
  store: HistoryStore,
  progress: Progress,
  result: InstallResult,
  startedAt: string,
  started: number,
): Promise<number> {
  const { pkg, pluginId } = ctx;
  const applied = new Map(
    (await store.readMigrations())
      .filter((r) => r.pluginId === pluginId && (r.status === 'applied' || r.status === 'skipped'))
      .map((r) => [r.migrationId, r.checksum] as const),
  );
  const documents = await packageDocuments({ dir: pkg.dir, manifest: pkg.manifest });
  await store.writePackageDocuments(
    [...documents.values()].filter((d) => applied.get(d.migrationId) === d.checksum),
  );
  const rolledBack = progress.results.filter((r) => r.status === 'rolled-back').map((r) => r.migrationId);
  await store.deletePackageDocuments(pluginId, rolledBack);
  await store.writePlugin(pluginId, ctx.version, { packageDigest: pkg.digest, keyId: pkg.signer.encoded });
  const id = await store.startExecution({
    kind: 'install',
    pluginId,
    fromVersion: decision.installed?.version ?? null,
    toVersion: ctx.version,
    user: ctx.user,
    reason: ctx.options.reason ?? null,
    startedAt,
  });
  await store.finishExecution(id, {
    status: 'succeeded',
    durationMs: performance.now() - started,
    toVersion: ctx.version,
    summary: summary(ctx, decision, progress, result),
  });
  return id;
}

function summary(
  ctx: Context,
  decision: Decision,
  progress: Progress,
  result: InstallResult,
  failed?: { restored: boolean; cause: string },
): Record<string, unknown> {
  return {
    action: decision.action,
    file: ctx.file,
    digest: ctx.pkg.digest,
    keyId: ctx.pkg.signer.keyId,
    pinned: decision.trust.pinned,
    rotated: decision.trust.rotated,
    mode: result.mode ?? null,
    migrations: progress.results.map((r) => `${r.migrationId}:${r.status}`),
    data: progress.data
      ? {
          rows: progress.data.written,
          tables: Object.fromEntries(progress.data.tables.map((t) => [t.table, t.written])),
        }
      : null,
    ...(result.backup ? { backup: result.backup.location } : {}),
    ...(failed ?? {}),
  };
}
