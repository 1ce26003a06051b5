import { MigrationParseError } from '../errors.js';
import { PortableMigrationDocumentSchema } from '../model/schema.js';
import { toMigration } from '../model/to-migration.js';
import type { Migration } from '../model/types.js';
import { parseJsonDocument } from './json-document.js';

/**
 * Parses and validates a `portable-migration-v1` JSON document.
 *
 * Throws `MigrationParseError` with `E_INVALID_JSON` (file and line of the syntax error) or
 * `E_SCHEMA` (file, field path such as `migration.steps.up[0].type`, and its line; every issue is
 * listed in `details.issues`).
 *
 * @example
 * const m = parseJsonMigration(readFileSync(file, 'utf8'), file);
 * m.steps.up[0]?.sql?.universal;
 */
export function parseJsonMigration(text: string, file: string): Migration {
  const result = parseJsonDocument(text, PortableMigrationDocumentSchema);
  if (result.ok) return toMigration(result.data.migration, { file, format: 'json' });
  const p = result.problem;
  if (p.kind === 'syntax') {
    throw new MigrationParseError(
      'E_INVALID_JSON',
      p.message,
      { file, line: p.line },
      { cause: p.cause, ...(p.column !== undefined ? { details: { column: p.column } } : {}) },
    );
  }
  throw new MigrationParseError(
    'E_SCHEMA',
    p.message,
    { file, line: p.line, field: p.field },
    { details: { issues: p.issues } },
  );
}
