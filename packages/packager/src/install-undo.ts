import {
  type AppliedMigrationRecord,
  type Connection,
  type Dialect,
  HISTORY_TABLES,
  HistoryStore,
  type InstalledPluginRecord,
  isCmpkgError,
  Migrator,
  type MigratorOptions,
  type Plugin,
  type StepJournalRecord,
} from '@cmpkg/core';

/**
 * What an install that cannot run in one transaction (MySQL/MariaDB, or migrations with
 * non-transactional steps) must be able to put back: the plugin's `cmpkg_plugins` row, its history
 * records and step journal, and whether the history tables existed at all.
 *
 * @example
 * const snapshot = await takeInstallSnapshot(conn, 'kb');
 */
export interface InstallSnapshot {
  pluginId: string;
  /** Whether cmpkg's history tables existed before the install (if not, undoing drops them again). */
  historyExisted: boolean;
  plugin: InstalledPluginRecord | null;
  /** This plugin's `cmpkg_migrations` rows. */
  records: AppliedMigrationRecord[];
  /** This plugin's `cmpkg_steps` rows (of the recorded migrations). */
  journal: StepJournalRecord[];
}

/**
 * Reads what {@link undoInstall} needs to restore, before the install changes anything.
 *
 * @example
 * const snapshot = await takeInstallSnapshot(conn, manifest.plugin.id);
 */
export async function takeInstallSnapshot(
  connection: Connection,
  pluginId: string,
): Promise<InstallSnapshot> {
  const store = new HistoryStore(connection);
  const historyExisted = await store.exists();
  const records = (await store.readMigrations()).filter((r) => r.pluginId === pluginId);
  return {
    pluginId,
    historyExisted,
    plugin: await store.readPlugin(pluginId),
    records,
    journal: await store.readSteps(
      pluginId,
      records.map((r) => r.migrationId),
    ),
  };
}

/**
 * What undoing a failed install left behind.
 *
 * @example
 * if (!outcome.ok) console.error('still applied:', outcome.left.applied, 'not restored:', outcome.left.missing);
 */
export interface UndoOutcome {
  /** Everything was put back. */
  ok: boolean;
  /** Why undoing failed, one message per failed part. */
  problems: string[];
  left: {
    /** Migrations the install applied that are still recorded. */
    applied: string[];
    /** Migrations the install rolled back (a downgrade) that could not be applied again. */
    missing: string[];
    /** Whether the `cmpkg_plugins` row was restored. */
    pluginRecord: boolean;
  };
  /** `cmpkg_executions` rows written by the Migrator runs of the undo (removed again on success). */
  executionIds: number[];
}

/**
 * Undoes an install whose migrations committed one by one: runs the down steps (forced) of the
 * migrations it applied, applies again what a downgrade rolled back (and puts their history rows
 * back exactly, timestamps and ranks included), restores the `cmpkg_plugins` row, deletes the
 * execution rows of the install's Migrator runs, and drops the history tables again when the install
 * created them. A migration recorded as `failed` whose steps never ran is only forgotten. Never
 * throws: what could not be undone is in the outcome.
 *
 * @example
 * const outcome = await undoInstall({ dialect, connection, snapshot, plugin: combined, executionIds, migrator: {} });
 */
export async function undoInstall(options: {
  dialect: Dialect;
  connection: Connection;
  snapshot: InstallSnapshot;
  /** The package's migrations plus the stored documents of applied ones it lacks (the down steps). */
  plugin: Plugin;
  /** `cmpkg_executions` rows of the failed install's Migrator runs, to remove. */
  executionIds: readonly number[];
  /** Extra Migrator options (user, transform runner, timeouts). */
  migrator: Partial<MigratorOptions>;
}): Promise<UndoOutcome> {
  const { dialect, connection, snapshot, plugin } = options;
  const { pluginId } = snapshot;
  const problems: string[] = [];
  const executionIds = [...options.executionIds];
  const message = (err: unknown) => (isCmpkgError(err) || err instanceof Error ? err.message : String(err));
  const migrator = (p: Plugin) =>
    new Migrator({
      ...options.migrator,
      dialect,
      connection,
      plugin: p,
      lockHeld: true,
      backup: 'skip',
    });
  const attempt = async (what: string, work: () => Promise<void>) => {
    try {
      await work();
    } catch (err) {
      problems.push(`${what}: ${message(err)}`);
    }
  };
  const baseline = new Map(snapshot.records.map((r) => [r.migrationId, r] as const));
  const current = async () =>
    (await new HistoryStore(connection).readMigrations()).filter((r) => r.pluginId === pluginId);

  // 1. The migrations this install added.
  await attempt('rolling back the migrations the install applied', async () => {
    const store = new HistoryStore(connection);
    const added = (await current()).filter((r) => !baseline.has(r.migrationId));
    const journal = await store.readSteps(
      pluginId,
      added.map((r) => r.migrationId),
    );
    const ran = (id: string) =>
      journal.some(
        (j) => j.migrationId === id && j.direction === 'up' && (j.status === 'done' || j.statementsDone > 0),
      );
    let toRollBack = 0;
    for (const r of added) {
      // Failed before anything of it ran: only its record exists.
      if (r.status === 'failed' && !ran(r.migrationId)) await store.deleteMigration(pluginId, r.migrationId);
      else toRollBack++;
    }
    if (toRollBack === 0) return;
    const last = [...baseline.values()].sort((a, b) => b.installedRank - a.installedRank)[0];
    const run = await migrator(plugin).down({
      ...(last ? { to: last.migrationId } : { all: true }),
      force: true,
      reason: 'undo a failed install',
    });
    if (run.executionId !== undefined) executionIds.push(run.executionId);
    if (run.error) throw run.error;
  });

  // 2. What a downgrade rolled back: applied again, then its history put back as it was.
  await attempt('applying again the migrations the install rolled back', async () => {
    const present = new Set((await current()).map((r) => r.migrationId));
    const removed = snapshot.records.filter((r) => !present.has(r.migrationId));
    if (removed.length === 0) return;
    const ids = new Set(removed.map((r) => r.migrationId));
    const known = plugin.migrations.filter((m) => ids.has(m.id));
    const unknown = removed
      .filter((r) => !known.some((m) => m.id === r.migrationId))
      .map((r) => r.migrationId);
    if (known.length > 0) {
      const run = await migrator({ ...plugin, migrations: known }).up({ reason: 'undo a failed install' });
      if (run.executionId !== undefined) executionIds.push(run.executionId);
      const store = new HistoryStore(connection);
      for (const r of run.results) {
        if (r.status !== 'applied' && r.status !== 'skipped') continue;
        const record = baseline.get(r.migrationId);
        if (!record) continue;
        await store.writeMigration(record);
        await store.deleteSteps(pluginId, r.migrationId);
        await store.writeSteps(snapshot.journal.filter((j) => j.migrationId === r.migrationId));
      }
      if (run.error) throw run.error;
    }
    if (unknown.length > 0) throw new Error(`no migration document for ${unknown.join(', ')}`);
  });

  // 3. The plugin row, exactly as it was.
  let pluginRecord = false;
  await attempt('restoring cmpkg_plugins', async () => {
    await new HistoryStore(connection).restorePlugin(pluginId, snapshot.plugin);
    pluginRecord = true;
  });

  const now = await current().catch(() => [] as AppliedMigrationRecord[]);
  const left = {
    applied: now.filter((r) => !baseline.has(r.migrationId)).map((r) => r.migrationId),
    missing: snapshot.records
      .filter((r) => !now.some((n) => n.migrationId === r.migrationId))
      .map((r) => r.migrationId),
    pluginRecord,
  };
  const ok = problems.length === 0 && left.applied.length === 0 && left.missing.length === 0;

  // 4. The traces of the failed attempt: its Migrator runs, and tables it created.
  if (ok) {
    await attempt('removing the execution records of the failed attempt', async () => {
      if (!snapshot.historyExisted) {
        for (const table of Object.values(HISTORY_TABLES)) {
          await connection.execute(`DROP TABLE IF EXISTS ${dialect.quoteIdentifier(table)}`);
        }
        return;
      }
      if (executionIds.length === 0) return;
      await connection.execute(
        `DELETE FROM ${dialect.quoteIdentifier(HISTORY_TABLES.executions)} WHERE id IN (${executionIds.map((id) => Number(id)).join(', ')})`,
      );
    });
  }
  return { ok: ok && problems.length === 0, problems, left, executionIds };
}
