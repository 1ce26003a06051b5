import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { atomically, type Connection, type Dialect, InternalError, loadPlugin, Migrator } from '@cmpkg/core';
import { PostgresDialect } from '@cmpkg/dialect-postgres';
import { SqliteDialect } from '@cmpkg/dialect-sqlite';
import type { ColumnType, Kysely } from 'kysely';

/**
 * Plugin id under which the registry's own schema is recorded in `cmpkg_migrations`.
 *
 * @example
 * const schema = await loadPlugin({ dir: registryMigrationsDir(), id: REGISTRY_SCHEMA_PLUGIN });
 */
export const REGISTRY_SCHEMA_PLUGIN = 'cmpkg-registry';

/** SQLite has no boolean type: it stores 0/1. Both spellings are read back with `Boolean()`. */
type Bool = ColumnType<boolean | number, boolean | number, boolean | number>;
/** PostgreSQL returns timestamptz as a Date, SQLite as the ISO text it was given. */
type Timestamp = ColumnType<Date | string, string, string>;
type NullableTimestamp = ColumnType<Date | string | null, string | null, string | null>;

export interface TokensTable {
  id: string;
  user_name: string;
  token_hash: string;
  admin: Bool;
  note: string | null;
  created_at: Timestamp;
  last_used_at: NullableTimestamp;
  revoked_at: NullableTimestamp;
}

export interface PluginsTable {
  id: string;
  name: string;
  description: string;
  owner: string;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface PluginKeysTable {
  plugin_id: string;
  key_id: string;
  public_key: string;
  added_by: string;
  added_at: Timestamp;
}

export interface VersionsTable {
  plugin_id: string;
  version: string;
  digest: string;
  integrity: string;
  size: ColumnType<number | bigint | string, number, number>;
  key_id: string;
  manifest: string;
  summary: string;
  published_by: string;
  published_at: Timestamp;
  deprecated: string | null;
  yanked: Bool;
  yanked_at: NullableTimestamp;
}

export interface DistTagsTable {
  plugin_id: string;
  tag: string;
  version: string;
}

/**
 * The registry's tables as Kysely sees them (created by `migrations/*.json`).
 *
 * @example
 * const rows = await db.selectFrom('registry_plugins').select(['id', 'owner']).execute();
 */
export interface RegistryDatabase {
  registry_tokens: TokensTable;
  registry_plugins: PluginsTable;
  registry_plugin_keys: PluginKeysTable;
  registry_versions: VersionsTable;
  registry_dist_tags: DistTagsTable;
}

/**
 * Where the registry's migration documents are: `migrations/` next to `src/` and `dist/`, so the
 * same lookup works from the sources (tests) and from the build.
 *
 * @example
 * registryMigrationsDir(); // '/…/apps/registry/migrations'
 */
export function registryMigrationsDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const candidate of [join(here, '..', 'migrations'), join(here, '..', '..', 'migrations')]) {
    if (existsSync(candidate)) return candidate;
  }
  throw new InternalError(`the registry's migrations directory is missing (looked next to ${here})`);
}

/** A promise-chain mutex: `run` calls execute one after another, in call order. */
class Mutex {
  #tail: Promise<unknown> = Promise.resolve();

  run<T>(work: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(work, work);
    this.#tail = result.catch(() => undefined);
    return result;
  }
}

/**
 * The registry's database: one connection for reads, one for writes. Writes are serialised by an
 * in-process mutex and each runs in one transaction; reads that need several queries to agree run in
 * one snapshot on the read connection, so a reader never sees a half-done publish.
 *
 * @example
 * const db = await openRegistryDatabase('sqlite:/srv/registry/registry.db');
 * const n = await db.read.selectFrom('registry_plugins').select(db.read.fn.countAll().as('n')).executeTakeFirst();
 * await db.close();
 */
export class RegistryDb {
  readonly engine: 'sqlite' | 'postgresql';
  readonly displayUrl: string;
  readonly read: Kysely<RegistryDatabase>;
  readonly #readConnection: Connection;
  readonly #writeConnection: Connection;
  readonly #write: Kysely<RegistryDatabase>;
  readonly #writeMutex = new Mutex();
  /** Ids of the migrations `openRegistryDatabase` applied (empty when the schema was current). */
  applied: readonly string[] = [];
  readonly #readMutex = new Mutex();
  #closed: Promise<void> | undefined;

  readonly dialect: Dialect;

  constructor(dialect: Dialect, readConnection: Connection, writeConnection: Connection) {
    this.dialect = dialect;
    this.engine = writeConnection.engine === 'postgresql' ? 'postgresql' : 'sqlite';
    this.displayUrl = writeConnection.displayUrl;
    this.#readConnection = readConnection;
    this.#writeConnection = writeConnection;
    this.read = readConnection.db as unknown as Kysely<RegistryDatabase>;
    this.#write = writeConnection.db as unknown as Kysely<RegistryDatabase>;
  }

  /** Whether a driver error is a constraint violation (a concurrent insert of the same key). */
  isConstraintError(err: unknown): boolean {
    return this.dialect.classifyError(err) === 'constraint';
  }

  /** The value a boolean column takes on this engine. */
  bool(value: boolean): boolean | number {
    return this.engine === 'sqlite' ? (value ? 1 : 0) : value;
  }

  /**
   * Runs `work` alone (after every earlier write) inside one transaction on the write connection:
   * it all happens or none of it does. `onRollback` runs (still alone) when it did not happen.
   */
  write<T>(work: (db: Kysely<RegistryDatabase>) => Promise<T>, onRollback?: () => Promise<void>): Promise<T> {
    return this.#writeMutex.run(async () => {
      try {
        return await atomically(this.#writeConnection, 'registry_write', () => work(this.#write));
      } catch (err) {
        // Still inside the mutex: undoing side effects (a stored blob) cannot race the next write.
        await onRollback?.();
        throw err;
      }
    });
  }

  /**
   * Runs several reads in one snapshot of the read connection (a transaction; REPEATABLE READ on
   * PostgreSQL), so they all see the same committed state.
   */
  snapshot<T>(work: (db: Kysely<RegistryDatabase>) => Promise<T>): Promise<T> {
    return this.#readMutex.run(async () => {
      const conn = this.#readConnection;
      await conn.execute(
        this.engine === 'postgresql' ? 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY' : 'BEGIN',
      );
      try {
        return await work(this.read);
      } finally {
        await conn.execute('COMMIT').catch(() => conn.execute('ROLLBACK').catch(() => undefined));
      }
    });
  }

  /** A single query that needs no snapshot, serialised with snapshots on the read connection. */
  query<T>(work: (db: Kysely<RegistryDatabase>) => Promise<T>): Promise<T> {
    return this.#readMutex.run(() => work(this.read));
  }

  /** Closes both connections; idempotent. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      // Let queued writes and reads finish first: closing under them would fail them half-way.
      await this.#writeMutex.run(async () => undefined);
      await this.#readMutex.run(async () => undefined);
      await Promise.allSettled([this.#readConnection.close(), this.#writeConnection.close()]);
    })();
    return this.#closed;
  }
}

/**
 * The dialect for a registry database URL.
 *
 * @example
 * registryDialect('postgres://db/registry').engine; // 'postgresql'
 */
export function registryDialect(url: string): Dialect {
  return /^postgres(ql)?:\/\//.test(url) ? new PostgresDialect() : new SqliteDialect({ busyTimeoutMs: 5000 });
}

/**
 * Applies the registry's own schema (`migrations/*.json`, plugin `cmpkg-registry`) with core's
 * Migrator on `connection`; returns the ids of the migrations it applied.
 *
 * @example
 * const applied = await migrateRegistry(dialect, conn); // ['0001_registry_schema'] on a fresh database
 */
export async function migrateRegistry(dialect: Dialect, connection: Connection): Promise<string[]> {
  const plugin = await loadPlugin({ dir: registryMigrationsDir(), id: REGISTRY_SCHEMA_PLUGIN });
  const migrator = new Migrator({ dialect, connection, plugin, backup: 'skip', user: 'cmpkg-registry' });
  const run = await migrator.up();
  if (run.error) throw run.error;
  return run.results.filter((r) => r.status === 'applied').map((r) => r.migrationId);
}

/**
 * Opens the registry database at `url` (`sqlite:/abs/file.db` — its directory is created — or
 * `postgres://…`), applies the registry's migrations, and opens the read and write connections.
 *
 * @example
 * const db = await openRegistryDatabase(config.databaseUrl);
 */
export async function openRegistryDatabase(
  url: string,
  options: { migrate?: boolean } = {},
): Promise<RegistryDb> {
  const dialect = registryDialect(url);
  if (dialect.engine === 'sqlite') {
    const file = url.slice('sqlite:'.length).replace(/^\/\/(?=\.|\/)/, '');
    if (file !== ':memory:') await mkdir(dirname(file), { recursive: true });
  }
  const writeConnection = await dialect.connect(url);
  let readConnection: Connection | undefined;
  try {
    if (dialect.engine === 'sqlite') {
      // WAL: the read connection keeps reading the last committed state while a write transaction is
      // open, instead of waiting on (or failing with) SQLITE_BUSY.
      await writeConnection.execute('PRAGMA journal_mode = WAL');
      await writeConnection.execute('PRAGMA foreign_keys = ON');
    }
    const applied = options.migrate === false ? [] : await migrateRegistry(dialect, writeConnection);
    readConnection = await dialect.connect(url);
    const db = new RegistryDb(dialect, readConnection, writeConnection);
    db.applied = applied;
    return db;
  } catch (err) {
    await readConnection?.close().catch(() => undefined);
    await writeConnection.close().catch(() => undefined);
    throw err;
  }
}
