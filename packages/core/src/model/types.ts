import type { Kysely } from 'kysely';
import type { Engine, MigrationData, StepData } from './schema.js';

/** What a code-valued step receives: the pinned connection's Kysely instance and a raw executor. */
export interface StepContext {
  /** Kysely bound to the migration's pinned connection (inside its transaction when there is one). */
  db: Kysely<object>;
  /** Runs one raw SQL statement on the pinned connection. */
  execute(
    sql: string,
    params?: readonly unknown[],
  ): Promise<{ rows: Record<string, unknown>[]; rowsAffected: number }>;
  engine: Engine;
  /** Aborted when the step's timeout passes; long-running code should watch it. */
  signal: AbortSignal;
}

/** A code-valued step body (TypeScript migrations only; never packed into a `.cmpkg`). */
export type StepFunction = (ctx: StepContext) => Promise<void> | void;

/** A step of the normalised model: the JSON step, or a code step with `run`. */
export interface Step extends Omit<StepData, 'sql'> {
  sql?: StepData['sql'];
  /** Code steps from `defineMigration`; mutually exclusive with `sql` and `transform`. */
  run?: StepFunction;
}

/** Where a migration was loaded from. */
export interface MigrationSource {
  /** Absolute path of the file, or a `cmpkg:` pseudo path for packaged migrations. */
  file: string;
  format: 'json' | 'sql' | 'module';
}

/**
 * One migration in the normalised model, whatever format it was written in.
 * `pluginId` is always set (filled from the plugin when a file leaves it out).
 */
export interface Migration extends Omit<MigrationData, 'pluginId' | 'steps'> {
  pluginId: string;
  steps: { up: Step[]; down: Step[] };
  /** `sha256:<hex>` over {id, version, steps}; see `checksumMigration`. */
  checksum: string;
  source?: MigrationSource;
}

/** A plugin: an id, a version, and its migrations (in file order; the planner decides run order). */
export interface Plugin {
  id: string;
  version: string;
  name?: string;
  description?: string;
  migrations: Migration[];
  /** The directory the migrations were loaded from, when they came from disk. */
  dir?: string;
}
