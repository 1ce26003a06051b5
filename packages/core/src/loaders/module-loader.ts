import { extname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Jiti } from 'jiti';
import { checksumMigration } from '../checksum.js';
import { isCmpkgError, MigrationParseError, type SourceLocation } from '../errors.js';
import { type DefineMigrationInput, defineMigration, isMigration } from '../model/define-migration.js';
import type { Migration } from '../model/types.js';

const TYPESCRIPT = new Set(['.ts', '.mts', '.cts']);

let jiti: Jiti | undefined;

async function typescriptLoader(): Promise<Jiti> {
  // Imported on first use: most projects have no TypeScript migrations, and jiti is a noticeable
  // share of a CLI command's start-up time.
  // One instance for every file: the parent id only matters for relative ids, and we pass absolute
  // paths. No module cache, so a long-running process sees edits and every load is a fresh one.
  // `interopDefault` stays on: migrations may default-import CommonJS packages (`import x from 'pg'`).
  if (!jiti) {
    const { createJiti } = await import('jiti');
    jiti = createJiti(resolve('cmpkg-module-loader.cjs'), { moduleCache: false });
  }
  return jiti;
}

/**
 * Loads the migrations a TypeScript or JavaScript module exports: `.ts/.mts/.cts` through jiti,
 * `.js/.mjs/.cjs` with the native `import()`. A default export (one migration or an array) and
 * named exports that are migrations count; plain objects shaped like `defineMigration` input are
 * validated through it. A module that exports no migration is an `E_PARSE` error.
 *
 * @example
 * const [m] = await loadModuleMigrations('/app/migrations/0003_backfill.ts');
 */
export async function loadModuleMigrations(file: string): Promise<Migration[]> {
  const path = resolve(file);
  const format = TYPESCRIPT.has(extname(path).toLowerCase()) ? 'typescript' : 'javascript';
  let mod: unknown;
  try {
    mod =
      format === 'typescript'
        ? await (await typescriptLoader()).import(path)
        : await import(pathToFileURL(path).href);
  } catch (err) {
    throw withFile(err, file);
  }

  const found: Migration[] = [];
  const seen = new Set<unknown>();
  const takeOne = (item: unknown, where: string): void => {
    if (seen.has(item) || !(isMigration(item) || isCandidate(item))) return;
    seen.add(item);
    found.push(materialize(item, file, where));
  };
  const take = (value: unknown, exportName: string): void => {
    if (!Array.isArray(value)) takeOne(value, exportName);
    else for (const [index, item] of value.entries()) takeOne(item, `${exportName}[${index}]`);
  };

  // ES modules come as a namespace; jiti hands CommonJS modules back as `module.exports` itself.
  // The namespace test goes first: jiti's interop proxy also answers the default export's fields.
  const namespace = typeof mod === 'object' && mod !== null && Object.keys(mod).includes('default');
  if (!namespace && (isMigration(mod) || isCandidate(mod) || Array.isArray(mod))) take(mod, 'module.exports');
  else if (typeof mod === 'object' && mod !== null) {
    for (const [name, value] of Object.entries(mod)) take(value, name);
  }
  if (found.length === 0) {
    throw new MigrationParseError(
      'E_PARSE',
      'the module exports no migration; export defineMigration({...}) as default or as a named export',
      { file },
    );
  }
  return found;
}

/** Plain objects that look like `defineMigration` input: an id plus steps or an up function. */
function isCandidate(value: unknown): value is DefineMigrationInput {
  if (typeof value !== 'object' || value === null || isMigration(value)) return false;
  const v = value as { id?: unknown; steps?: unknown; up?: unknown };
  return (
    typeof v.id === 'string' &&
    ((typeof v.steps === 'object' && v.steps !== null) || typeof v.up === 'function')
  );
}

function materialize(item: unknown, file: string, where: string): Migration {
  const migration = isMigration(item) ? item : validateCandidate(item as DefineMigrationInput, file, where);
  // A copy: the module's own object may be shared with other loads of the same module. The checksum
  // is computed here again: the module may have imported another copy (or version) of @cmpkg/core,
  // and the history must only ever hold checksums of this loader's one checksum function.
  return { ...migration, checksum: checksumMigration(migration), source: { file, format: 'module' } };
}

function validateCandidate(input: DefineMigrationInput, file: string, where: string): Migration {
  try {
    return defineMigration(input);
  } catch (err) {
    throw withFile(err, file, where);
  }
}

/** Re-anchors an error from a module (or `defineMigration` inside it) on the module's file. */
function withFile(err: unknown, file: string, exportName?: string): MigrationParseError {
  if (isCmpkgError(err) && err.name === 'MigrationParseError') {
    const location = (err as { location?: SourceLocation }).location ?? {};
    if (location.file) return err as MigrationParseError;
    const reason = typeof err.details.reason === 'string' ? err.details.reason : err.message;
    const code = err.code as ConstructorParameters<typeof MigrationParseError>[0];
    const prefix = exportName ? `export "${exportName}": ` : '';
    return new MigrationParseError(
      code,
      prefix + reason,
      { ...location, file },
      { cause: err, details: { ...err.details } },
    );
  }
  const message = err instanceof Error ? err.message : String(err);
  return new MigrationParseError('E_PARSE', `cannot load the module: ${message}`, { file }, { cause: err });
}
