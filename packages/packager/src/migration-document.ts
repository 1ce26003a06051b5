import { isCmpkgError, type Migration, PackageError, parseJsonMigration, type Step } from '@cmpkg/core';

/**
 * Migration → `portable-migration-v1` JSON: what a `.cmpkg` carries for every migration, whatever
 * format it was written in (SQL file, JSON file, `defineMigration`). The document is what
 * `parseJsonMigration` reads back into the same model with the same checksum; code steps cannot be
 * written down as data and are refused.
 */

/** Key order of the migration object (the schema's order); keys not named here follow, sorted. */
const MIGRATION_KEYS = [
  'id',
  'pluginId',
  'version',
  'name',
  'description',
  'type',
  'category',
  'dependencies',
  'conflicts',
  'riskLevel',
  'performanceImpact',
  'requiresBackup',
  'estimatedDuration',
  'databaseEngines',
  'steps',
  'createdAt',
  'updatedAt',
] as const;
/** Model-only members that are not part of the document. */
const NOT_IN_DOCUMENT = new Set(['checksum', 'source']);

const STEP_KEYS = [
  'id',
  'type',
  'name',
  'description',
  'sql',
  'transform',
  'transactional',
  'rollbackSupported',
  'skipOnError',
  'timeout',
  'dependencies',
  'preValidation',
  'postValidation',
  'expectedChanges',
] as const;
const SQL_KEYS = ['postgresql', 'mysql', 'sqlite', 'mssql', 'universal'] as const;
const TRANSFORM_KEYS = ['kind', 'source', 'target', 'mapping', 'filter', 'batchSize', 'validation'] as const;
const MAPPING_KEYS = ['source', 'target', 'transform', 'defaultValue', 'required'] as const;
const MAPPING_TRANSFORM_KEYS = ['type', 'definition', 'parameters'] as const;
const RULE_KEYS = ['field', 'rule', 'message', 'severity'] as const;
const EXPECTED_CHANGES_KEYS = ['rows', 'tables', 'indexes'] as const;

type Shape = (value: unknown) => unknown;

/**
 * A copy of `value` with `order`'s keys first (in that order), then any other keys sorted; members
 * that are `undefined` are left out (JSON has no undefined). `shapes` orders nested values.
 */
function ordered(
  value: object,
  order: readonly string[],
  shapes: Record<string, Shape> = {},
  skip?: ReadonlySet<string>,
): Record<string, unknown> {
  const source = value as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  const rest = Object.keys(source)
    .filter((k) => !order.includes(k) && !skip?.has(k))
    .sort();
  for (const key of [...order, ...rest]) {
    const v = source[key];
    if (v === undefined) continue;
    const shape = shapes[key];
    out[key] = shape ? shape(v) : sortedDeep(v);
  }
  return out;
}

/** Free-form JSON (mapping definitions, default values): keys sorted, so the text is deterministic. */
function sortedDeep(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortedDeep);
  if (value === null || typeof value !== 'object') return value;
  if (typeof (value as { toJSON?: unknown }).toJSON === 'function') return value;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort()) {
    const v = (value as Record<string, unknown>)[key];
    if (v !== undefined) out[key] = sortedDeep(v);
  }
  return out;
}

const isObject = (v: unknown): v is object => typeof v === 'object' && v !== null && !Array.isArray(v);
const shapeObject =
  (order: readonly string[], shapes?: Record<string, Shape>): Shape =>
  (v) =>
    isObject(v) ? ordered(v, order, shapes) : sortedDeep(v);
const shapeArray =
  (item: Shape): Shape =>
  (v) =>
    Array.isArray(v) ? v.map(item) : sortedDeep(v);

const shapeTransform = shapeObject(TRANSFORM_KEYS, {
  mapping: shapeArray(shapeObject(MAPPING_KEYS, { transform: shapeObject(MAPPING_TRANSFORM_KEYS) })),
  validation: shapeArray(shapeObject(RULE_KEYS)),
});
const shapeStep = shapeObject(STEP_KEYS, {
  sql: shapeObject(SQL_KEYS),
  transform: shapeTransform,
  expectedChanges: shapeObject(EXPECTED_CHANGES_KEYS),
});
const shapeSteps = shapeObject(['up', 'down'], { up: shapeArray(shapeStep), down: shapeArray(shapeStep) });

function where(migration: Migration): string {
  return migration.source?.file ? ` (${migration.source.file})` : '';
}

function refuseCodeSteps(migration: Migration): void {
  for (const direction of ['up', 'down'] as const) {
    for (const step of migration.steps[direction] as Step[]) {
      if (typeof step.run === 'function') {
        throw new PackageError(
          'E_PACK_INPUT',
          `migration "${migration.id}"${where(migration)}: ${direction} step "${step.id}" is code (a function); a .cmpkg carries data (JSON and SQL), never code — write it as an SQL or transform step to pack it`,
          {
            details: {
              migration: migration.id,
              step: step.id,
              direction,
              ...(migration.source ? { file: migration.source.file } : {}),
            },
          },
        );
      }
    }
  }
}

/**
 * Options of {@link toPortableDocument}.
 *
 * @example
 * toPortableDocument(m, { verify: false });
 */
export interface PortableDocumentOptions {
  /**
   * Parse the text back with core's `parseJsonMigration` and require the same checksum as the
   * migration (default true): a document that would not load, or would load as something else,
   * is refused here rather than at install time.
   */
  verify?: boolean;
}

/**
 * Writes a migration of the normalised model as a `portable-migration-v1` document: keys in the
 * schema's order (unknown keys after, sorted; free-form values with sorted keys), 2-space indent, a
 * trailing newline; `checksum` and `source` are left out (the checksum is recomputed on load).
 * SQL texts are kept as written (the checksum normalises them). Code steps (`run`) throw
 * `PackageError` `E_PACK_INPUT` naming the migration, its file and the step; so does a document
 * that does not read back with the migration's checksum.
 *
 * @example
 * const text = toPortableDocument(plugin.migrations[0]!);
 * parseJsonMigration(text, 'x.json').checksum === plugin.migrations[0]!.checksum; // true
 */
export function toPortableDocument(migration: Migration, options: PortableDocumentOptions = {}): string {
  refuseCodeSteps(migration);
  const body = ordered(migration, MIGRATION_KEYS, { steps: shapeSteps }, NOT_IN_DOCUMENT);
  // An empty pluginId means "the plugin's": loaders fill it, the document leaves it out.
  if (body.pluginId === '') delete body.pluginId;
  const text = `${JSON.stringify({ format: 'portable-migration-v1', migration: body }, null, 2)}\n`;
  if (options.verify !== false) {
    let checksum: string;
    try {
      checksum = parseJsonMigration(text, `${migration.id}.json`).checksum;
    } catch (err) {
      const reason = isCmpkgError(err) ? err.message : String(err);
      throw new PackageError(
        'E_PACK_INPUT',
        `migration "${migration.id}"${where(migration)}: cannot be written as portable-migration-v1: ${reason}`,
        { cause: err, details: { migration: migration.id } },
      );
    }
    if (checksum !== migration.checksum) {
      throw new PackageError(
        'E_PACK_INPUT',
        `migration "${migration.id}"${where(migration)}: its portable-migration-v1 document has checksum ${checksum}, not the migration's ${migration.checksum} (was the migration changed after it was loaded?)`,
        { details: { migration: migration.id, expected: migration.checksum, actual: checksum } },
      );
    }
  }
  return text;
}
