import { checksumMigration } from '../checksum.js';
import type { MigrationData } from './schema.js';
import type { Migration, MigrationSource, Step } from './types.js';

/** Validated data, whose steps may also be code steps (TypeScript migrations). */
export type ValidatedMigration = Omit<MigrationData, 'steps'> & { steps: { up: Step[]; down: Step[] } };

/**
 * The normalised model from freshly validated data, which it takes over: `pluginId` left empty for
 * `loadPlugin` to fill when the file does not name one, and the checksum computed here so every
 * format hashes the same way.
 */
export function toMigration(data: ValidatedMigration, source?: MigrationSource): Migration {
  // Completed in place rather than copied: zod's output is ours, and this runs once per file.
  const migration = data as Omit<ValidatedMigration, 'pluginId'> &
    Partial<Pick<Migration, 'pluginId' | 'checksum' | 'source'>>;
  migration.pluginId ??= '';
  migration.checksum = checksumMigration(data);
  if (source) migration.source = source;
  return migration as Migration;
}
