import { MigrationParseError } from '../errors.js';
import { summarizeIssues, toFieldIssues } from '../model/issues.js';
import { PortableMigrationDocumentSchema } from '../model/schema.js';
import { toMigration } from '../model/to-migration.js';
import type { Migration } from '../model/types.js';
import { findJsonSyntaxError, lineAt, lineOfJsonPath } from './json-position.js';

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
  const source = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  let doc: unknown;
  try {
    doc = JSON.parse(source);
  } catch (err) {
    throw invalidJson(source, file, err);
  }
  const parsed = PortableMigrationDocumentSchema.safeParse(doc);
  if (!parsed.success) {
    const issues = toFieldIssues(parsed.error.issues);
    for (const issue of issues) {
      const line = lineOfJsonPath(source, issue.path);
      if (line !== undefined) issue.line = line;
    }
    const first = issues[0];
    throw new MigrationParseError(
      'E_SCHEMA',
      summarizeIssues(issues),
      { file, line: first?.line, field: first?.field },
      { details: { issues: issues.map(({ field, message, line }) => ({ field, message, line })) } },
    );
  }
  return toMigration(parsed.data.migration, { file, format: 'json' });
}

function invalidJson(text: string, file: string, err: unknown): MigrationParseError {
  const native = err instanceof Error ? err.message : String(err);
  const found = findJsonSyntaxError(text);
  if (found) {
    return new MigrationParseError(
      'E_INVALID_JSON',
      `invalid JSON: ${found.message} (column ${found.column})`,
      { file, line: found.line },
      { cause: err, details: { column: found.column } },
    );
  }
  // Our scanner and V8 disagree: fall back to the position V8 reports, when it reports one.
  const position = /at position (\d+)/.exec(native)?.[1];
  const line = position === undefined ? undefined : lineAt(text, Number(position));
  return new MigrationParseError('E_INVALID_JSON', `invalid JSON: ${native}`, { file, line }, { cause: err });
}
