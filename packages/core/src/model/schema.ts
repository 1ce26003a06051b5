import semver from 'semver';
import { z } from 'zod';

/**
 * The zod schema of `portable-migration-v1`: the single source of truth for the JSON format, the
 * TypeScript types, and the generated JSON Schema (`schemas/portable-migration-v1.json`).
 */

export const ENGINES = ['postgresql', 'mysql', 'sqlite', 'mssql'] as const;
export const MIGRATION_TYPES = [
  'schema',
  'data',
  'index',
  'function',
  'trigger',
  'view',
  'extension',
  'permission',
] as const;
export const MIGRATION_CATEGORIES = [
  'install',
  'upgrade',
  'patch',
  'feature',
  'performance',
  'security',
  'maintenance',
  'migration',
] as const;
export const RISK_LEVELS = ['low', 'medium', 'high', 'critical'] as const;
export const TRANSFORM_MAPPING_TYPES = ['function', 'expression', 'lookup', 'custom'] as const;
export const TRANSFORM_KINDS = ['copy', 'convert', 'merge', 'split', 'enrich'] as const;
export const SEVERITIES = ['error', 'warning'] as const;
/**
 * The built-in functions of `function`-type field mappings (`@cmpkg/transform` implements exactly
 * these). Listed here so the planner can reject an unknown name before anything runs; `custom`
 * names are the host's and are checked when the transform runs.
 *
 * @example
 * TRANSFORM_FUNCTIONS.includes('upper'); // true
 */
export const TRANSFORM_FUNCTIONS = [
  'abs',
  'boolean',
  'ceil',
  'coalesce',
  'concat',
  'date',
  'default_if_empty',
  'floor',
  'json_extract',
  'length',
  'lower',
  'lpad',
  'now',
  'number',
  'replace',
  'round',
  'rpad',
  'split',
  'substring',
  'trim',
  'upper',
  'uuid',
] as const;

/** A name in {@link TRANSFORM_FUNCTIONS}. */
export type TransformFunctionName = (typeof TRANSFORM_FUNCTIONS)[number];

/** Engine names people also write; normalised before validation. */
const ENGINE_ALIASES: Record<string, string> = { postgres: 'postgresql', pg: 'postgresql', mariadb: 'mysql' };

/** `[sS][cC]...`: JSON Schema patterns take no flags, so case-insensitivity is spelled out. */
function caseInsensitivePattern(values: readonly string[]): string {
  const spell = (v: string) =>
    [...v]
      .map((c) => (c.toLowerCase() !== c.toUpperCase() ? `[${c.toLowerCase()}${c.toUpperCase()}]` : c))
      .join('');
  return `^(?:${values.map(spell).join('|')})$`;
}

/** An enum accepted in any letter case and stored lower-case. */
function ciEnum<const T extends readonly [string, ...string[]]>(
  values: T,
  aliases: Record<string, string> = {},
) {
  const accepted = [...values, ...Object.keys(aliases)];
  return z
    .string()
    .regex(new RegExp(`^(?:${accepted.join('|')})$`, 'i'), {
      message: `expected one of: ${values.join(', ')}`,
    })
    .meta({ pattern: caseInsensitivePattern(accepted) })
    .transform((v) => {
      const lower = v.toLowerCase();
      return aliases[lower] ?? lower;
    })
    .pipe(z.enum(values));
}

/** Ids of migrations, steps and plugins: lower-case letters, digits, `.`, `_` and `-`. */
export const ID_PATTERN = /^[a-z0-9][a-z0-9._-]*$/;
const id = (what: string) =>
  z.string().regex(ID_PATTERN, { message: `${what} must match [a-z0-9][a-z0-9._-]* (lower-case)` });

/** A dependency: a bare migration id (same plugin) or `pluginId:migrationId`. */
const dependencyRef = z.string().regex(/^(?:[a-z0-9][a-z0-9._-]*:)?[a-z0-9][a-z0-9._-]*$/, {
  message: 'a dependency is a migration id or pluginId:migrationId',
});

const semverString = z
  .string()
  .refine((v) => semver.valid(v) !== null, { message: 'must be a semver version' });
const isoDate = z
  .string()
  .refine((v) => !Number.isNaN(Date.parse(v)), { message: 'must be an ISO-8601 date' });

export const EngineSchema = ciEnum(ENGINES, ENGINE_ALIASES);
export const RiskLevelSchema = ciEnum(RISK_LEVELS);

export const StepSqlSchema = z
  .object({
    postgresql: z.string().optional(),
    mysql: z.string().optional(),
    sqlite: z.string().optional(),
    mssql: z.string().optional(),
    universal: z.string().optional(),
  })
  .strict()
  .meta({ description: 'SQL by engine; `universal` is used where the connected engine has no entry.' });

export const FieldMappingSchema = z
  .object({
    source: z.string().min(1),
    target: z.string().min(1),
    transform: z
      .object({
        type: ciEnum(TRANSFORM_MAPPING_TYPES),
        definition: z.union([z.string(), z.record(z.string(), z.unknown())]),
        parameters: z.union([z.array(z.unknown()), z.record(z.string(), z.unknown())]).optional(),
      })
      .strict()
      .optional(),
    defaultValue: z.unknown().optional(),
    required: z.boolean().default(false),
  })
  .strict();

export const ValidationRuleSchema = z
  .object({
    field: z.string().min(1),
    rule: z.string().min(1),
    message: z.string(),
    severity: ciEnum(SEVERITIES).default('error'),
  })
  .strict();

export const TransformSchema = z
  .object({
    kind: ciEnum(TRANSFORM_KINDS).optional(),
    source: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
    target: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
    mapping: z.array(FieldMappingSchema).min(1),
    filter: z.string().optional(),
    batchSize: z.number().int().positive().optional(),
    validation: z.array(ValidationRuleSchema).optional(),
  })
  .strict();

export const ExpectedChangesSchema = z
  .object({
    rows: z.number().int().nonnegative().optional(),
    tables: z.number().int().optional(),
    indexes: z.number().int().optional(),
  })
  .strict();

export const StepSchema = z
  .object({
    id: id('step id'),
    type: z
      .string()
      .min(1)
      .transform((v) => v.toLowerCase())
      .default('sql'),
    name: z.string().min(1),
    description: z.string().optional(),
    sql: StepSqlSchema.optional(),
    transform: TransformSchema.optional(),
    transactional: z.boolean().default(true),
    rollbackSupported: z.boolean().default(true),
    skipOnError: z.boolean().default(false),
    timeout: z.number().positive().optional().meta({ description: 'seconds' }),
    dependencies: z.array(id('step dependency')).default([]),
    preValidation: z.string().optional(),
    postValidation: z.string().optional(),
    expectedChanges: ExpectedChangesSchema.optional(),
  })
  .strict()
  .refine((s) => s.sql !== undefined || s.transform !== undefined, {
    message: 'a step needs "sql" or "transform"',
    path: ['sql'],
  });

export const MigrationSchema = z
  .object({
    id: id('migration id'),
    pluginId: id('plugin id').optional(),
    version: semverString,
    name: z.string().min(1),
    description: z.string().optional(),
    type: ciEnum(MIGRATION_TYPES).default('schema'),
    category: ciEnum(MIGRATION_CATEGORIES).default('install'),
    dependencies: z.array(dependencyRef).default([]),
    conflicts: z.array(dependencyRef).default([]),
    riskLevel: RiskLevelSchema.default('low'),
    performanceImpact: RiskLevelSchema.optional().meta({
      description: 'expected load on the database while it runs',
    }),
    requiresBackup: z.boolean().default(false),
    estimatedDuration: z.number().nonnegative().default(0).meta({ description: 'seconds' }),
    databaseEngines: z
      .array(EngineSchema)
      .min(1)
      .default([...ENGINES]),
    steps: z
      .object({
        up: z.array(StepSchema).min(1),
        down: z.array(StepSchema).default([]),
      })
      .strict(),
    createdAt: isoDate.optional(),
    updatedAt: isoDate.optional(),
  })
  .strict();

export const PortableMigrationDocumentSchema = z
  .object({
    $schema: z.string().optional(),
    format: z.literal('portable-migration-v1'),
    migration: MigrationSchema,
  })
  .strict()
  .meta({
    title: 'portable-migration-v1',
    description: 'A cmpkg portable migration (JSON). See DESIGN.md §2.1.',
  });

export type Engine = z.output<typeof EngineSchema>;
export type RiskLevel = z.output<typeof RiskLevelSchema>;
export type MigrationType = (typeof MIGRATION_TYPES)[number];
export type MigrationCategory = (typeof MIGRATION_CATEGORIES)[number];
export type StepSql = z.output<typeof StepSqlSchema>;
export type FieldMapping = z.output<typeof FieldMappingSchema>;
export type ValidationRule = z.output<typeof ValidationRuleSchema>;
export type Transform = z.output<typeof TransformSchema>;
export type ExpectedChanges = z.output<typeof ExpectedChangesSchema>;
/** A step as written in JSON (defaults applied). */
export type StepData = z.output<typeof StepSchema>;
/** A migration as written in JSON (defaults applied). */
export type MigrationData = z.output<typeof MigrationSchema>;
/** What an author writes: the input side of the schema (defaults optional, enums any case). */
export type MigrationInput = z.input<typeof MigrationSchema>;
export type StepInput = z.input<typeof StepSchema>;

/** The JSON Schema of portable-migration-v1, generated from the zod schema. */
export function portableMigrationJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(PortableMigrationDocumentSchema, { io: 'input', unrepresentable: 'any' }) as Record<
    string,
    unknown
  >;
}
