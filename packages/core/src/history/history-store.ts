import os from 'node:os';
import type { Kysely } from 'kysely';
import type { Connection } from '../dialect.js';
import type {
  AppliedMigrationRecord,
  Direction,
  ExecutionKind,
  ExecutionRecord,
  StepJournalRecord,
} from '../engine/types.js';

/**
 * The names of the history tables; the same on every engine (DESIGN.md §3.1).
 * `cmpkg_package_migrations` keeps the portable document of each migration an install from a
 * package applied, so a later downgrade (an older package, without the newer migrations) still
 * has their down steps.
 */
export const HISTORY_TABLES = {
  migrations: 'cmpkg_migrations',
  steps: 'cmpkg_steps',
  executions: 'cmpkg_executions',
  plugins: 'cmpkg_plugins',
  packageMigrations: 'cmpkg_package_migrations',
} as const;

/**
 * The tables whose presence says "cmpkg has used this database". `cmpkg_package_migrations` came
 * later: a database with only these four has a history, and `ensureTables` adds the fifth.
 */
const CORE_TABLES: readonly string[] = [
  HISTORY_TABLES.migrations,
  HISTORY_TABLES.steps,
  HISTORY_TABLES.executions,
  HISTORY_TABLES.plugins,
];

interface MigrationsTable {
  plugin_id: string;
  migration_id: string;
  version: string;
  name: string;
  checksum: string;
  status: string;
  applied_at: string;
  applied_by: string;
  execution_ms: number;
  engine: string;
  installed_rank: number;
  package_digest: string | null;
}

interface StepsTable {
  plugin_id: string;
  migration_id: string;
  step_id: string;
  direction: string;
  status: string;
  checksum: string | null;
  started_at: string;
  finished_at: string | null;
  rows_affected: number;
  error: string | null;
  statements_done: number;
}

interface ExecutionsTable {
  id: number | undefined;
  kind: string;
  plugin_id: string;
  from_version: string | null;
  to_version: string | null;
  dry_run: number;
  status: string;
  started_at: string;
  duration_ms: number | null;
  user: string;
  reason: string | null;
  summary: string | null;
  error: string | null;
}

interface PluginsTable {
  plugin_id: string;
  version: string;
  package_digest: string | null;
  key_id: string | null;
  installed_at: string;
  updated_at: string;
}

interface PackageMigrationsTable {
  plugin_id: string;
  migration_id: string;
  version: string;
  checksum: string;
  document: string;
}

interface HistoryDatabase {
  cmpkg_migrations: MigrationsTable;
  cmpkg_steps: StepsTable;
  cmpkg_executions: ExecutionsTable;
  cmpkg_plugins: PluginsTable;
  cmpkg_package_migrations: PackageMigrationsTable;
}

/**
 * A row of `cmpkg_plugins`: the installed version of a plugin.
 *
 * @example
 * const installed = await new HistoryStore(conn).readPlugin('knowledge-base'); // null when not installed
 */
export interface InstalledPluginRecord {
  pluginId: string;
  version: string;
  /** `sha256:<hex>` of the `.cmpkg` archive it was installed from (null when migrated from files). */
  packageDigest: string | null;
  /**
   * The publisher key pinned for the plugin: the minisign base64 public key line
   * (`PublicKey.encoded` of `@cmpkg/packager`), not just its 16-digit key id, so a later install can
   * compare key bytes. Null when it was never installed from a package.
   */
  keyId: string | null;
  installedAt: string;
  updatedAt: string;
}

/**
 * A row of `cmpkg_package_migrations`: the portable-migration-v1 JSON document of a migration an
 * install from a package applied, kept so a downgrade can run its down steps.
 *
 * @example
 * const docs = await store.readPackageDocuments('knowledge-base');
 * const migrations = docs.map((d) => parseJsonMigration(d.document, `cmpkg_package_migrations:${d.migrationId}`));
 */
export interface PackageMigrationDocument {
  pluginId: string;
  migrationId: string;
  version: string;
  checksum: string;
  /** The JSON text exactly as it was packed. */
  document: string;
}

// Rows per multi-row INSERT: far below every engine's bound-parameter limit (SQLite 32766).
const BATCH_ROWS = 500;

const migrationRow = (record: AppliedMigrationRecord): MigrationsTable => ({
  plugin_id: record.pluginId,
  migration_id: record.migrationId,
  version: record.version,
  name: record.name,
  checksum: record.checksum,
  status: record.status,
  applied_at: record.appliedAt,
  applied_by: record.appliedBy,
  execution_ms: Math.round(record.executionMs),
  engine: record.engine,
  installed_rank: record.installedRank,
  package_digest: record.packageDigest,
});

const stepRow = (r: StepJournalRecord): StepsTable => ({
  plugin_id: r.pluginId,
  migration_id: r.migrationId,
  step_id: r.stepId,
  direction: r.direction,
  status: r.status,
  checksum: r.checksum,
  started_at: r.startedAt,
  finished_at: r.finishedAt,
  rows_affected: r.rowsAffected,
  error: truncate(r.error),
  statements_done: r.statementsDone,
});

/** What an upsert of a journal row replaces: everything but the key. */
const STEP_UPDATE_COLUMNS = [
  'status',
  'checksum',
  'started_at',
  'finished_at',
  'rows_affected',
  'error',
  'statements_done',
] as const;

/** Timestamps are ISO-8601 UTC text on every engine: portable, sortable, and driver-independent. */
export function nowIso(): string {
  return new Date().toISOString();
}

/**
 * The user a history row names when the caller names nobody: the OS user, else `$USER`, else
 * `unknown` (`os.userInfo()` throws for a uid without a passwd entry, common in containers).
 * The migrator, installs and copies all record it this way.
 *
 * @example
 * const migrator = new Migrator({ dialect, connection, plugin, user: opts.user ?? defaultUser() });
 */
export function defaultUser(): string {
  try {
    return os.userInfo().username;
  } catch {
    return process.env.USER ?? 'unknown';
  }
}

const truncate = (text: string | null | undefined, max = 4000): string | null =>
  text == null ? null : text.length > max ? `${text.slice(0, max - 1)}…` : text;

/**
 * Reads and writes the history tables through the connection's Kysely instance, so the same
 * code serves every engine. Reads tolerate absent tables (a database cmpkg never touched has an
 * empty history); only `ensureTables` creates them, and only runs that change something call it.
 *
 * @example
 * const store = new HistoryStore(conn);
 * const applied = await store.readMigrations(); // [] on a fresh database
 */
export class HistoryStore {
  readonly #conn: Connection;
  readonly #db: Kysely<HistoryDatabase>;
  #exists: boolean | undefined;
  /** Whether every table of HISTORY_TABLES exists (the core four and the later ones). */
  #complete: boolean | undefined;

  constructor(conn: Connection) {
    this.#conn = conn;
    // The connection is typed for no tables; these four are ours.
    this.#db = conn.db as unknown as Kysely<HistoryDatabase>;
  }

  /**
   * Whether the history tables exist (cached once they do): the four of DESIGN.md §3.1; tables
   * added later (`cmpkg_package_migrations`) are read only where they exist.
   */
  async exists(): Promise<boolean> {
    if (this.#exists) return true;
    const names: string[] = Object.values(HISTORY_TABLES);
    const found = new Set(await this.existingTables());
    this.#exists = CORE_TABLES.every((n) => found.has(n));
    this.#complete = names.every((n) => found.has(n));
    return this.#exists;
  }

  /**
   * The tables of {@link HISTORY_TABLES} that exist now (asked every time, never cached): what a
   * caller that may create some of them must know to drop exactly those again.
   *
   * @example
   * const before = await store.existingTables(); // e.g. the four of an older cmpkg
   */
  async existingTables(): Promise<string[]> {
    const names: string[] = Object.values(HISTORY_TABLES);
    const list = names.map((n) => `'${n}'`).join(', ');
    // information_schema is not portable to SQLite, and Kysely's introspection reads every
    // table's columns, which is slow on databases with thousands of tables.
    const query =
      this.#conn.engine === 'sqlite'
        ? `select name from sqlite_master where type = 'table' and name in (${list})`
        : this.#conn.engine === 'postgresql'
          ? `select table_name as name from information_schema.tables where table_schema = current_schema() and table_name in (${list})`
          : this.#conn.engine === 'mysql'
            ? `select table_name as name from information_schema.tables where table_schema = database() and table_name in (${list})`
            : `select table_name as name from information_schema.tables where table_name in (${list})`;
    const { rows } = await this.#conn.execute<{ name: string }>(query);
    const found = new Set(rows.map((r) => r.name));
    return names.filter((n) => found.has(n));
  }

  /**
   * Forgets what `exists` learned: after a caller's ROLLBACK undid the CREATE TABLEs of a run inside
   * its transaction, the tables are gone again.
   */
  forgetTables(): void {
    this.#exists = undefined;
    this.#complete = undefined;
  }

  /** Creates the history tables that are missing (idempotent; adds later tables to older databases). */
  async ensureTables(): Promise<void> {
    if (this.#complete) return;
    await this.exists();
    if (this.#complete) return;
    const db = this.#db.schema;
    const ts = 'varchar(32)';
    await db
      .createTable(HISTORY_TABLES.migrations)
      .ifNotExists()
      .addColumn('plugin_id', 'varchar(128)', (c) => c.notNull())
      .addColumn('migration_id', 'varchar(255)', (c) => c.notNull())
      .addColumn('version', 'varchar(64)', (c) => c.notNull())
      .addColumn('name', 'varchar(512)', (c) => c.notNull())
      .addColumn('checksum', 'varchar(80)', (c) => c.notNull())
      .addColumn('status', 'varchar(16)', (c) => c.notNull())
      .addColumn('applied_at', ts, (c) => c.notNull())
      .addColumn('applied_by', 'varchar(128)', (c) => c.notNull())
      .addColumn('execution_ms', 'integer', (c) => c.notNull())
      .addColumn('engine', 'varchar(16)', (c) => c.notNull())
      .addColumn('installed_rank', 'integer', (c) => c.notNull())
      .addColumn('package_digest', 'varchar(128)')
      .addPrimaryKeyConstraint('cmpkg_migrations_pk', ['plugin_id', 'migration_id'])
      .execute();
    await db
      .createTable(HISTORY_TABLES.steps)
      .ifNotExists()
      .addColumn('plugin_id', 'varchar(128)', (c) => c.notNull())
      .addColumn('migration_id', 'varchar(255)', (c) => c.notNull())
      .addColumn('step_id', 'varchar(255)', (c) => c.notNull())
      .addColumn('direction', 'varchar(8)', (c) => c.notNull())
      .addColumn('status', 'varchar(16)', (c) => c.notNull())
      .addColumn('checksum', 'varchar(80)')
      .addColumn('started_at', ts, (c) => c.notNull())
      .addColumn('finished_at', ts)
      .addColumn('rows_affected', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('error', 'text')
      .addColumn('statements_done', 'integer', (c) => c.notNull().defaultTo(0))
      .addPrimaryKeyConstraint('cmpkg_steps_pk', ['plugin_id', 'migration_id', 'step_id', 'direction'])
      .execute();
    const idType = this.#conn.engine === 'postgresql' ? 'serial' : 'integer';
    await db
      .createTable(HISTORY_TABLES.executions)
      .ifNotExists()
      .addColumn('id', idType, (c) =>
        this.#conn.engine === 'postgresql' ? c.primaryKey() : c.primaryKey().autoIncrement(),
      )
      .addColumn('kind', 'varchar(16)', (c) => c.notNull())
      .addColumn('plugin_id', 'varchar(128)', (c) => c.notNull())
      .addColumn('from_version', 'varchar(64)')
      .addColumn('to_version', 'varchar(64)')
      .addColumn('dry_run', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('status', 'varchar(16)', (c) => c.notNull())
      .addColumn('started_at', ts, (c) => c.notNull())
      .addColumn('duration_ms', 'integer')
      .addColumn('user', 'varchar(128)', (c) => c.notNull())
      .addColumn('reason', 'text')
      .addColumn('summary', 'text')
      .addColumn('error', 'text')
      .execute();
    await db
      .createTable(HISTORY_TABLES.plugins)
      .ifNotExists()
      .addColumn('plugin_id', 'varchar(128)', (c) => c.primaryKey())
      .addColumn('version', 'varchar(64)', (c) => c.notNull())
      .addColumn('package_digest', 'varchar(128)')
      .addColumn('key_id', 'varchar(64)')
      .addColumn('installed_at', ts, (c) => c.notNull())
      .addColumn('updated_at', ts, (c) => c.notNull())
      .execute();
    // Loaded here, not at the top: importing kysely costs ~150 ms, and commands that never create
    // history tables (`cmpkg verify`, `inspect`, `--help`) should not pay for it.
    const { sql } = await import('kysely');
    await db
      .createTable(HISTORY_TABLES.packageMigrations)
      .ifNotExists()
      .addColumn('plugin_id', 'varchar(128)', (c) => c.notNull())
      .addColumn('migration_id', 'varchar(255)', (c) => c.notNull())
      .addColumn('version', 'varchar(64)', (c) => c.notNull())
      .addColumn('checksum', 'varchar(80)', (c) => c.notNull())
      // MySQL's TEXT stops at 64 KiB; a migration with a large data step can be bigger.
      .addColumn('document', this.#conn.engine === 'mysql' ? sql`longtext` : 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('cmpkg_package_migrations_pk', ['plugin_id', 'migration_id'])
      .execute();
    this.#exists = true;
    this.#complete = true;
  }

  /** Every recorded migration of every plugin (cross-plugin dependencies need them all), by rank. */
  async readMigrations(): Promise<AppliedMigrationRecord[]> {
    if (!(await this.exists())) return [];
    const rows = await this.#db
      .selectFrom('cmpkg_migrations')
      .selectAll()
      .orderBy('plugin_id')
      .orderBy('installed_rank')
      .execute();
    return rows.map((r) => ({
      pluginId: r.plugin_id,
      migrationId: r.migration_id,
      version: r.version,
      name: r.name,
      checksum: r.checksum,
      status: r.status as AppliedMigrationRecord['status'],
      appliedAt: r.applied_at,
      appliedBy: r.applied_by,
      executionMs: Number(r.execution_ms),
      engine: r.engine,
      installedRank: Number(r.installed_rank),
      packageDigest: r.package_digest,
    }));
  }

  /** The step journal of the given migrations (used to resume partial ones). */
  async readSteps(pluginId: string, migrationIds: readonly string[]): Promise<StepJournalRecord[]> {
    if (migrationIds.length === 0 || !(await this.exists())) return [];
    const rows = await this.#db
      .selectFrom('cmpkg_steps')
      .selectAll()
      .where('plugin_id', '=', pluginId)
      .where('migration_id', 'in', [...migrationIds])
      .execute();
    return rows.map((r) => ({
      pluginId: r.plugin_id,
      migrationId: r.migration_id,
      stepId: r.step_id,
      direction: r.direction as Direction,
      status: r.status as StepJournalRecord['status'],
      checksum: r.checksum,
      startedAt: r.started_at,
      finishedAt: r.finished_at,
      rowsAffected: Number(r.rows_affected),
      error: r.error,
      statementsDone: Number(r.statements_done),
    }));
  }

  async readPlugin(pluginId: string): Promise<InstalledPluginRecord | null> {
    if (!(await this.exists())) return null;
    const r = await this.#db
      .selectFrom('cmpkg_plugins')
      .selectAll()
      .where('plugin_id', '=', pluginId)
      .executeTakeFirst();
    return r
      ? {
          pluginId: r.plugin_id,
          version: r.version,
          packageDigest: r.package_digest,
          keyId: r.key_id,
          installedAt: r.installed_at,
          updatedAt: r.updated_at,
        }
      : null;
  }

  /**
   * The stored documents of a plugin's package-installed migrations, by migration id ([] where the
   * table does not exist yet).
   */
  async readPackageDocuments(pluginId: string): Promise<PackageMigrationDocument[]> {
    if (!(await this.exists()) || !this.#complete) return [];
    const rows = await this.#db
      .selectFrom('cmpkg_package_migrations')
      .selectAll()
      .where('plugin_id', '=', pluginId)
      .orderBy('migration_id')
      .execute();
    return rows.map((r) => ({
      pluginId: r.plugin_id,
      migrationId: r.migration_id,
      version: r.version,
      checksum: r.checksum,
      document: r.document,
    }));
  }

  /** Stores (inserts or replaces) migration documents; needs `ensureTables` first. */
  async writePackageDocuments(documents: readonly PackageMigrationDocument[]): Promise<void> {
    for (const d of documents) {
      const row = {
        plugin_id: d.pluginId,
        migration_id: d.migrationId,
        version: d.version,
        checksum: d.checksum,
        document: d.document,
      };
      const rest = { version: d.version, checksum: d.checksum, document: d.document };
      const insert = this.#db.insertInto('cmpkg_package_migrations').values(row);
      await (this.#conn.engine === 'mysql'
        ? insert.onDuplicateKeyUpdate(rest)
        : insert.onConflict((oc) => oc.columns(['plugin_id', 'migration_id']).doUpdateSet(rest))
      ).execute();
    }
  }

  /** Forgets the stored documents of these migrations (they were rolled back). */
  async deletePackageDocuments(pluginId: string, migrationIds: readonly string[]): Promise<void> {
    if (migrationIds.length === 0 || !(await this.exists()) || !this.#complete) return;
    await this.#db
      .deleteFrom('cmpkg_package_migrations')
      .where('plugin_id', '=', pluginId)
      .where('migration_id', 'in', [...migrationIds])
      .execute();
  }

  async readExecutions(pluginId: string, limit: number): Promise<ExecutionRecord[]> {
    if (!(await this.exists())) return [];
    const rows = await this.#db
      .selectFrom('cmpkg_executions')
      .selectAll()
      .where('plugin_id', '=', pluginId)
      .orderBy('id', 'desc')
      .limit(limit)
      .execute();
    return rows.map((r) => ({
      id: Number(r.id),
      kind: r.kind as ExecutionKind,
      pluginId: r.plugin_id,
      fromVersion: r.from_version,
      toVersion: r.to_version,
      dryRun: Boolean(Number(r.dry_run)),
      status: r.status as ExecutionRecord['status'],
      startedAt: r.started_at,
      durationMs: r.duration_ms == null ? null : Number(r.duration_ms),
      user: r.user,
      reason: r.reason,
      summary: r.summary ? (JSON.parse(r.summary) as Record<string, unknown>) : null,
      error: r.error,
    }));
  }

  async nextRank(): Promise<number> {
    const r = await this.#db
      .selectFrom('cmpkg_migrations')
      .select((eb) => eb.fn.max('installed_rank').as('rank'))
      .executeTakeFirst();
    return Number(r?.rank ?? 0) + 1;
  }

  /** Inserts new migration records (none may exist yet), a few hundred rows per statement. */
  async insertMigrations(records: readonly AppliedMigrationRecord[]): Promise<void> {
    for (let i = 0; i < records.length; i += BATCH_ROWS) {
      await this.#db
        .insertInto('cmpkg_migrations')
        .values(records.slice(i, i + BATCH_ROWS).map(migrationRow))
        .execute();
    }
  }

  /** Inserts new journal rows (none may exist yet), a few hundred rows per statement. */
  async insertSteps(records: readonly StepJournalRecord[]): Promise<void> {
    for (let i = 0; i < records.length; i += BATCH_ROWS) {
      await this.#db
        .insertInto('cmpkg_steps')
        .values(records.slice(i, i + BATCH_ROWS).map(stepRow))
        .execute();
    }
  }

  /**
   * Inserts or replaces the record of one migration in one statement (an upsert): atomic even where
   * nothing runs in a transaction (MySQL step-by-step runs), so a crash cannot lose the record.
   */
  async writeMigration(record: AppliedMigrationRecord): Promise<void> {
    const row = migrationRow(record);
    const { plugin_id: _plugin, migration_id: _migration, ...rest } = row;
    const insert = this.#db.insertInto('cmpkg_migrations').values(row);
    await (this.#conn.engine === 'mysql'
      ? insert.onDuplicateKeyUpdate(rest)
      : insert.onConflict((oc) => oc.columns(['plugin_id', 'migration_id']).doUpdateSet(rest))
    ).execute();
  }

  async updateStatus(
    pluginId: string,
    migrationId: string,
    status: AppliedMigrationRecord['status'],
  ): Promise<void> {
    await this.#db
      .updateTable('cmpkg_migrations')
      .set({ status })
      .where('plugin_id', '=', pluginId)
      .where('migration_id', '=', migrationId)
      .execute();
  }

  async updateChecksum(pluginId: string, migrationId: string, checksum: string): Promise<void> {
    await this.#db
      .updateTable('cmpkg_migrations')
      .set({ checksum })
      .where('plugin_id', '=', pluginId)
      .where('migration_id', '=', migrationId)
      .execute();
  }

  /**
   * Accepts an edited finished step of a partial migration (`repair`): records its new checksum,
   * or forgets the step when it no longer exists.
   */
  async updateStepChecksum(
    pluginId: string,
    migrationId: string,
    stepId: string,
    checksum: string | null,
  ): Promise<void> {
    if (checksum === null) {
      await this.#db
        .deleteFrom('cmpkg_steps')
        .where('plugin_id', '=', pluginId)
        .where('migration_id', '=', migrationId)
        .where('step_id', '=', stepId)
        .where('direction', '=', 'up')
        .execute();
      return;
    }
    await this.#db
      .updateTable('cmpkg_steps')
      .set({ checksum })
      .where('plugin_id', '=', pluginId)
      .where('migration_id', '=', migrationId)
      .where('step_id', '=', stepId)
      .where('direction', '=', 'up')
      .execute();
  }

  async deleteMigration(
    pluginId: string,
    migrationId: string,
    options: { keepSteps?: boolean } = {},
  ): Promise<void> {
    await this.#db
      .deleteFrom('cmpkg_migrations')
      .where('plugin_id', '=', pluginId)
      .where('migration_id', '=', migrationId)
      .execute();
    if (!options.keepSteps) await this.deleteSteps(pluginId, migrationId);
  }

  async deleteSteps(pluginId: string, migrationId: string, direction?: Direction): Promise<void> {
    let q = this.#db
      .deleteFrom('cmpkg_steps')
      .where('plugin_id', '=', pluginId)
      .where('migration_id', '=', migrationId);
    if (direction) q = q.where('direction', '=', direction);
    await q.execute();
  }

  /** Writes journal rows in one statement (an upsert), replacing rows with the same key. */
  async writeSteps(records: readonly StepJournalRecord[]): Promise<void> {
    if (records.length === 0) return;
    const insert = this.#db.insertInto('cmpkg_steps').values(records.map(stepRow));
    const update = STEP_UPDATE_COLUMNS;
    await (this.#conn.engine === 'mysql'
      ? insert.onDuplicateKeyUpdate((eb) =>
          Object.fromEntries(update.map((c) => [c, eb.fn('values', [eb.ref(c)])])),
        )
      : insert.onConflict((oc) =>
          oc
            .columns(['plugin_id', 'migration_id', 'step_id', 'direction'])
            .doUpdateSet((eb) => Object.fromEntries(update.map((c) => [c, eb.ref(`excluded.${c}`)]))),
        )
    ).execute();
  }

  /** Opens an execution record (status `running`) and returns its id. */
  async startExecution(record: {
    kind: ExecutionKind;
    pluginId: string;
    fromVersion: string | null;
    toVersion: string | null;
    user: string;
    reason: string | null;
    startedAt: string;
  }): Promise<number> {
    const values = {
      kind: record.kind,
      plugin_id: record.pluginId,
      from_version: record.fromVersion,
      to_version: record.toVersion,
      dry_run: 0,
      status: 'running',
      started_at: record.startedAt,
      duration_ms: null,
      user: record.user,
      reason: record.reason,
      summary: null,
      error: null,
    };
    if (this.#conn.engine === 'postgresql') {
      const row = await this.#db
        .insertInto('cmpkg_executions')
        .values(values)
        .returning('id')
        .executeTakeFirstOrThrow();
      return Number(row.id);
    }
    const result = await this.#db.insertInto('cmpkg_executions').values(values).executeTakeFirstOrThrow();
    return Number(result.insertId);
  }

  /**
   * Closes executions left `running` by a process that died. Only call it while holding the
   * migration lock: then no live process can own a running execution.
   */
  async closeInterruptedExecutions(): Promise<number> {
    const result = await this.#db
      .updateTable('cmpkg_executions')
      .set({ status: 'failed', error: 'interrupted: the process ended before the run finished' })
      .where('status', '=', 'running')
      .executeTakeFirst();
    return Number(result.numUpdatedRows);
  }

  async finishExecution(
    id: number,
    outcome: {
      status: 'succeeded' | 'failed';
      durationMs: number;
      toVersion?: string | null;
      summary: Record<string, unknown>;
      error?: string | null;
    },
  ): Promise<void> {
    await this.#db
      .updateTable('cmpkg_executions')
      .set({
        status: outcome.status,
        duration_ms: Math.round(outcome.durationMs),
        ...(outcome.toVersion !== undefined ? { to_version: outcome.toVersion } : {}),
        summary: JSON.stringify(outcome.summary),
        error: truncate(outcome.error ?? null),
      })
      .where('id', '=', id)
      .execute();
  }

  /**
   * Puts a plugin's `cmpkg_plugins` row back exactly as it was read (timestamps included), or removes
   * it when `record` is null: what undoing a failed install needs, where `writePlugin` would stamp
   * the time.
   *
   * @example
   * const before = await store.readPlugin('kb');
   * // … an install that failed half-way …
   * await store.restorePlugin('kb', before);
   */
  async restorePlugin(pluginId: string, record: InstalledPluginRecord | null): Promise<void> {
    await this.#db.deleteFrom('cmpkg_plugins').where('plugin_id', '=', pluginId).execute();
    if (!record) return;
    await this.#db
      .insertInto('cmpkg_plugins')
      .values({
        plugin_id: pluginId,
        version: record.version,
        package_digest: record.packageDigest,
        key_id: record.keyId,
        installed_at: record.installedAt,
        updated_at: record.updatedAt,
      })
      .execute();
  }

  /**
   * Records the plugin's installed version (or removes the record when nothing is installed).
   * `keyId` is the pinned publisher key as its minisign base64 line (`PublicKey.encoded`), see
   * {@link InstalledPluginRecord.keyId}.
   */
  async writePlugin(
    pluginId: string,
    version: string | null,
    extra: { packageDigest?: string | null; keyId?: string | null } = {},
  ): Promise<void> {
    const now = nowIso();
    const existing = await this.readPlugin(pluginId);
    if (version === null) {
      if (existing) await this.#db.deleteFrom('cmpkg_plugins').where('plugin_id', '=', pluginId).execute();
      return;
    }
    if (existing) {
      await this.#db
        .updateTable('cmpkg_plugins')
        .set({
          version,
          updated_at: now,
          ...(extra.packageDigest !== undefined ? { package_digest: extra.packageDigest } : {}),
          ...(extra.keyId !== undefined ? { key_id: extra.keyId } : {}),
        })
        .where('plugin_id', '=', pluginId)
        .execute();
    } else {
      await this.#db
        .insertInto('cmpkg_plugins')
        .values({
          plugin_id: pluginId,
          version,
          package_digest: extra.packageDigest ?? null,
          key_id: extra.keyId ?? null,
          installed_at: now,
          updated_at: now,
        })
        .execute();
    }
  }
}
