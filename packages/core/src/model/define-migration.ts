import { z } from 'zod';
import { MigrationParseError } from '../errors.js';
import { type FieldIssue, summarizeIssues, toFieldIssues } from './issues.js';
import { type MigrationInput, MigrationSchema, type StepInput, StepSchema } from './schema.js';
import { toMigration } from './to-migration.js';
import type { Migration, Step, StepFunction } from './types.js';

/**
 * A step whose body is a function: same options as a JSON step, `run` instead of `sql`/`transform`.
 *
 * @example
 * const step: CodeStepInput = { id: 'backfill', name: 'Backfill', run: async ({ execute }) => { await execute('SELECT 1'); } };
 */
export type CodeStepInput = Omit<StepInput, 'sql' | 'transform' | 'type'> & {
  type?: 'code';
  run: StepFunction;
};

/**
 * Steps as a TypeScript author writes them: JSON steps and code steps, freely mixed.
 *
 * @example
 * const steps: DefineStepsInput = { up: [{ id: 'a', name: 'A', sql: { universal: 'SELECT 1' } }] };
 */
export interface DefineStepsInput {
  up: Array<StepInput | CodeStepInput>;
  down?: Array<StepInput | CodeStepInput>;
}

type MigrationFields = Omit<MigrationInput, 'steps'>;

/**
 * What `defineMigration` accepts: the fields of a portable migration with either `steps`, or `up`
 * (and optionally `down`) functions that become one code step each.
 *
 * @example
 * const input: DefineMigrationInput = { id: 'a', version: '1.0.0', name: 'A', up: async () => {} };
 */
export type DefineMigrationInput =
  | (MigrationFields & { steps: DefineStepsInput; up?: never; down?: never })
  | (MigrationFields & { steps?: never; up: StepFunction; down?: StepFunction });

/** Marks values made by `defineMigration`; `Symbol.for` so it survives duplicated module copies. */
const MIGRATION_BRAND = Symbol.for('cmpkg.migration');

const MigrationFieldsSchema = MigrationSchema.omit({ steps: true });
// The step options without the step's refinement ("needs sql or transform"), which code steps skip.
const CodeStepSchema = z
  .object(StepSchema.shape)
  .omit({ sql: true, transform: true })
  .extend({
    type: z.literal('code').default('code'),
    run: z.custom<StepFunction>((v) => typeof v === 'function', { message: 'run must be a function' }),
  })
  .strict();

/**
 * Defines a migration in TypeScript and returns the normalised, validated model (checksum
 * included). `pluginId` may be left out: `loadPlugin` fills it from the plugin.
 * Code steps run on the migration's pinned connection; they are for local projects and are never
 * packed into a `.cmpkg`.
 *
 * Throws `MigrationParseError` (`E_SCHEMA`, with the field path) when the input does not validate.
 *
 * @example
 * export default defineMigration({
 *   id: '0003_backfill',
 *   version: '1.2.0',
 *   name: 'Backfill slugs',
 *   async up({ execute }) {
 *     await execute("UPDATE entries SET slug = lower(title) WHERE slug IS NULL");
 *   },
 * });
 */
export function defineMigration(input: DefineMigrationInput): Migration {
  const { steps, up, down, ...fields } = input;
  const issues: FieldIssue[] = [];

  const meta = MigrationFieldsSchema.safeParse(fields);
  if (!meta.success) issues.push(...toFieldIssues(meta.error.issues));

  let stepsInput: DefineStepsInput | undefined = steps;
  if (stepsInput === undefined && typeof up === 'function') {
    const name = typeof fields.name === 'string' && fields.name !== '' ? fields.name : 'up';
    stepsInput = { up: [{ id: 'up', type: 'code', name, run: up }] };
    if (typeof down === 'function') stepsInput.down = [{ id: 'down', type: 'code', name, run: down }];
  } else if (steps !== undefined && (up !== undefined || down !== undefined)) {
    issues.push({
      path: ['up'],
      field: 'up',
      message: 'give either "steps" or "up"/"down" functions, not both',
    });
  }

  const parsedSteps: { up: Step[]; down: Step[] } = { up: [], down: [] };
  if (stepsInput === undefined || !Array.isArray(stepsInput.up) || stepsInput.up.length === 0) {
    issues.push({
      path: ['steps', 'up'],
      field: 'steps.up',
      message: 'a migration needs "steps.up" or an "up" function',
    });
  } else {
    for (const direction of ['up', 'down'] as const) {
      const list: ReadonlyArray<StepInput | CodeStepInput> = stepsInput[direction] ?? [];
      list.forEach((step, index) => {
        const code = typeof step === 'object' && step !== null && 'run' in step;
        const result = code ? CodeStepSchema.safeParse(step) : StepSchema.safeParse(step);
        if (result.success) parsedSteps[direction].push(result.data);
        else issues.push(...toFieldIssues(result.error.issues, ['steps', direction, index]));
      });
    }
  }

  if (!meta.success || issues.length > 0) {
    // `reason` is the message without a location, so the module loader can add the file.
    const first = issues[0];
    throw new MigrationParseError(
      'E_SCHEMA',
      summarizeIssues(issues),
      { field: first?.field },
      {
        details: {
          reason: summarizeIssues(issues),
          issues: issues.map(({ field, message }) => ({ field, message })),
        },
      },
    );
  }
  const migration = toMigration({ ...meta.data, steps: parsedSteps });
  Object.defineProperty(migration, MIGRATION_BRAND, { value: true, enumerable: false });
  return migration;
}

/**
 * True for a value made by `defineMigration` (or returned by a loader with the same shape).
 *
 * @example
 * const found = Object.values(await import(file)).filter(isMigration);
 */
export function isMigration(value: unknown): value is Migration {
  if (typeof value !== 'object' || value === null) return false;
  if ((value as Record<symbol, unknown>)[MIGRATION_BRAND] === true) return true;
  const m = value as Partial<Record<keyof Migration, unknown>>;
  return (
    typeof m.id === 'string' &&
    typeof m.version === 'string' &&
    typeof m.checksum === 'string' &&
    typeof m.steps === 'object' &&
    m.steps !== null &&
    Array.isArray((m.steps as { up?: unknown }).up)
  );
}
