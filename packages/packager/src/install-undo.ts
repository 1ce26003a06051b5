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
  /** Whether cmpkg's history tables existed before the install. */
  historyExisted: boolean;
  /** The history tables that existed before the install: undoing drops the others again. */
  tables: string[];
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
    // An older cmpkg's history lacks cmpkg_package_migrations, which the install adds.
    tables: await store.existingTables(),
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
    /**
     * Migrations a downgrade rolled back that were applied again: their schema and history are
     * back, but rows their down steps deleted are not, so the database is not as it was.
     */
    reapplied: string[];
    /** Whether the `cmpkg_plugins` row was restored. */
    pluginRecord: boolean;
  };
  /** `cmpkg_executions` rows written by the Migrator runs of the undo (removed again on success). */
  executionIds: number[];
}

/**
 * Undoes an install whose migrations committed one by one: runs the down steps (forced) of the
 * migrations it applied, puts back the journal of a rollback that failed before changing anything,
 * applies again what a downgrade rolled back (and puts their history rows back exactly, timestamps
 * and ranks included), restores the `cmpkg_plugins` row, deletes the execution rows of the install's
 * Migrator runs, and drops the history tables the install created. A migration recorded as `failed`
 * whose steps never ran is only forgotten. Never throws: what could not be undone is in the outcome,
 * and `ok` is true only when the database is as it was — not when a migration without down steps
 * stays applied, a rollback stopped half-way, or a downgrade's rolled-back migrations had to be
 * applied again (rows their down steps deleted are gone).
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
  const reapplied: string[] = [];
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
    const toRollBack: AppliedMigrationRecord[] = [];
    for (const r of added) {
      // Failed before anything of it ran: only its record exists.
      if (r.status === 'failed' && !ran(r.migrationId)) await store.deleteMigration(pluginId, r.migrationId);
      else toRollBack.push(r);
    }
    if (toRollBack.length === 0) return;
    // `force` runs down steps marked rollbackSupported: false, but for a migration without down
    // steps it only deletes the record and leaves the changes: such a migration, and what it
    // stands on, stays applied and recorded, and undoing has failed.
    const irreversible = toRollBack
      .filter(
        (r) =>
          r.status !== 'skipped' && !plugin.migrations.find((m) => m.id === r.migrationId)?.steps.down.length,
      )
      .sort((a, b) => b.installedRank - a.installedRank)[0];
    if (irreversible) {
      problems.push(`${irreversible.migrationId} has no down steps: what it changed cannot be undone`);
    }
    const last = [...baseline.values()].sort((a, b) => b.installedRank - a.installedRank)[0];
    const stop = irreversible ?? last;
    if (irreversible && !toRollBack.some((r) => r.installedRank > irreversible.installedRank)) return;
    const run = await migrator(plugin).down({
      ...(stop ? { to: stop.migrationId } : { all: true }),
      force: true,
      reason: 'undo a failed install',
    });
    if (run.executionId !== undefined) executionIds.push(run.executionId);
    if (run.error) throw run.error;
  });

  // 2. Migrations still recorded whose rollback the install started (a downgrade) and that failed.
  await attempt('putting back the step journal of a failed rollback', async () => {
    const store = new HistoryStore(connection);
    const present = (await current()).filter((r) => baseline.has(r.migrationId));
    const journal = await store.readSteps(
      pluginId,
      present.map((r) => r.migrationId),
    );
    const key = (j: StepJournalRecord) => `${j.migrationId}\u0000${j.stepId}\u0000${j.direction}`;
    const before = new Map(snapshot.journal.map((j) => [key(j), JSON.stringify(j)] as const));
    const changed = journal.filter((j) => before.get(key(j)) !== JSON.stringify(j));
    for (const id of new Set(changed.map((j) => j.migrationId))) {
      const rows = changed.filter((j) => j.migrationId === id);
      // A down step that failed in its own transaction, or before its first statement, changed
      // nothing but its journal row; one that finished or ran statements left the migration half
      // rolled back, which only its own up steps could repair.
      if (rows.every((j) => j.direction === 'down' && j.status === 'failed' && j.statementsDone === 0)) {
        await store.deleteSteps(pluginId, id);
        await store.writeSteps(snapshot.journal.filter((j) => j.migrationId === id));
      } else if (rows.every((j) => j.direction === 'down')) {
        problems.push(
          `${id} is half rolled back: down step(s) ${rows.map((j) => j.stepId).join(', ')} ran before the failure`,
        );
      } else {
        problems.push(`${id} was resumed by the install (step(s) ${rows.map((j) => j.stepId).join(', ')})`);
      }
    }
  });

  // 3. What a downgrade rolled back: applied again, then its history put back as it was.
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
        if (r.status === 'applied') reapplied.push(r.migrationId);
        await store.writeMigration(record);
        await store.deleteSteps(pluginId, r.migrationId);
        await store.writeSteps(snapshot.journal.filter((j) => j.migrationId === r.migrationId));
      }
      if (run.error) throw run.error;
    }
    if (unknown.length > 0) throw new Error(`no migration document for ${unknown.join(', ')}`);
  });

  // 4. The plugin row, exactly as it was.
  let pluginRecord = false;
  await attempt('restoring cmpkg_plugins', async () => {
    await new HistoryStore(connection).restorePlugin(pluginId, snapshot.plugin);
    pluginRecord = true;
  });

  if (reapplied.length > 0) {
    problems.push(
      `applied again ${reapplied.join(', ')} (rolled back by the downgrade): their schema and history are back, ` +
        'but rows their down steps deleted are not',
    );
  }
  const now = await current().catch(() => [] as AppliedMigrationRecord[]);
  const left = {
    applied: now.filter((r) => !baseline.has(r.migrationId)).map((r) => r.migrationId),
    missing: snapshot.records
      .filter((r) => !now.some((n) => n.migrationId === r.migrationId))
      .map((r) => r.migrationId),
    reapplied,
    pluginRecord,
  };
  const ok = problems.length === 0 && left.applied.length === 0 && left.missing.length === 0;

  // 5. The traces of the failed attempt: its Migrator runs, and tables it created.
  if (ok) {
    await attempt('removing the execution records of the failed attempt', async () => {
      if (snapshot.historyExisted && executionIds.length > 0) {
        await connection.execute(
          `DELETE FROM ${dialect.quoteIdentifier(HISTORY_TABLES.executions)} WHERE id IN (${executionIds.map((id) => Number(id)).join(', ')})`,
        );
      }
      for (const table of Object.values(HISTORY_TABLES)) {
        if (snapshot.tables.includes(table)) continue;
        await connection.execute(`DROP TABLE IF EXISTS ${dialect.quoteIdentifier(table)}`);
      }
    });
  }
  return { ok: ok && problems.length === 0, problems, left, executionIds };
}
