import { readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join, resolve } from 'node:path';
import semver from 'semver';
import { ConfigError, MigrationParseError } from '../errors.js';
import { ID_PATTERN } from '../model/schema.js';
import type { Migration, Plugin } from '../model/types.js';
import { parseJsonMigration } from './json-loader.js';
import { loadModuleMigrations } from './module-loader.js';
import { parseSqlMigration } from './sql-loader.js';

const MIGRATION_EXTENSIONS = new Set(['.json', '.sql', '.ts', '.mts', '.cts', '.js', '.mjs', '.cjs']);
/** Type declarations, tests and specs live next to migrations in TypeScript projects. */
const NOT_MIGRATIONS = /\.d\.[cm]?ts$|\.(?:test|spec)\.[^.]+$/i;

/**
 * Orders `2_x` before `10_x` (digit runs compare as numbers) without depending on the locale, so
 * every machine sees the same order; exact ties fall back to code-unit order.
 *
 * @example
 * ['10_b.sql', '2_a.sql'].sort(compareFileNames); // ['2_a.sql', '10_b.sql']
 */
export function compareFileNames(a: string, b: string): number {
  return compareKeys(sortKey(a), sortKey(b));
}

interface SortKey {
  name: string;
  /** Alternating text and digit runs; digit runs without leading zeros. */
  chunks: string[];
}

function sortKey(name: string): SortKey {
  const chunks = name.match(/\d+|\D+/g) ?? [];
  for (let i = 0; i < chunks.length; i++) {
    const c = chunks[i] ?? '';
    if (isDigit(c.charCodeAt(0))) chunks[i] = c.replace(/^0+(?=\d)/, '');
  }
  return { name, chunks };
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

function compareKeys(a: SortKey, b: SortKey): number {
  const n = Math.min(a.chunks.length, b.chunks.length);
  for (let i = 0; i < n; i++) {
    const x = a.chunks[i] ?? '';
    const y = b.chunks[i] ?? '';
    if (x === y) continue;
    // Two digit runs: the longer (without leading zeros) is the larger number.
    if (isDigit(x.charCodeAt(0)) && isDigit(y.charCodeAt(0)) && x.length !== y.length)
      return x.length - y.length;
    return x < y ? -1 : 1;
  }
  if (a.chunks.length !== b.chunks.length) return a.chunks.length - b.chunks.length;
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/**
 * The migration files directly in `dir` (no subfolders), as absolute paths in file-name order
 * (numeric-aware). Takes `.json .sql .ts .mts .cts .js .mjs .cjs`; skips dotfiles, `.d.ts`,
 * `*.test.*`, `*.spec.*` and everything else (README, notes). A missing directory is a `ConfigError`.
 *
 * @example
 * discoverMigrationFiles('./migrations'); // ['/app/migrations/0001_init.sql', ...]
 */
export function discoverMigrationFiles(dir: string): string[] {
  const root = resolve(dir);
  assertDirectory(root);
  const keys: SortKey[] = [];
  for (const entry of readdirSync(root, { withFileTypes: true })) {
    const name = entry.name;
    if (name.startsWith('.') || NOT_MIGRATIONS.test(name)) continue;
    if (!MIGRATION_EXTENSIONS.has(extname(name).toLowerCase())) continue;
    // Symlinks count when they point at a file; `statSync` only for them, to keep the scan cheap.
    const isFile =
      entry.isFile() ||
      (entry.isSymbolicLink() && statSync(join(root, name), { throwIfNoEntry: false })?.isFile());
    if (isFile) keys.push(sortKey(name));
  }
  // Keys are computed once per file, not once per comparison.
  return keys.sort(compareKeys).map((key) => join(root, key.name));
}

/**
 * What `loadPlugin` needs: where the migrations are and who they belong to.
 *
 * @example
 * const options: LoadPluginOptions = { dir: './migrations', id: 'knowledge-base', version: '1.2.0' };
 */
export interface LoadPluginOptions {
  dir: string;
  id: string;
  /** Defaults to the highest migration version, else `0.0.0`. */
  version?: string;
  name?: string;
  description?: string;
}

/**
 * Loads every migration file in a directory into a `Plugin`: fills `pluginId` where a file leaves it
 * out, refuses files that name another plugin (`E_PLUGIN_MISMATCH`) and duplicate ids
 * (`E_DUPLICATE_ID`, naming both files). A missing directory is a `ConfigError`.
 *
 * @example
 * const plugin = await loadPlugin({ dir: './migrations', id: 'knowledge-base' });
 * plugin.migrations.map((m) => m.id);
 */
export async function loadPlugin(options: LoadPluginOptions): Promise<Plugin> {
  const dir = resolve(options.dir);
  assertDirectory(dir);
  if (!ID_PATTERN.test(options.id)) {
    throw new ConfigError(`plugin id "${options.id}" must match [a-z0-9][a-z0-9._-]* (lower-case)`, {
      field: 'plugin.id',
    });
  }
  if (options.version !== undefined && semver.valid(options.version) === null) {
    throw new ConfigError(`plugin version "${options.version}" is not a semver version`, {
      field: 'plugin.version',
    });
  }

  const migrations: Migration[] = [];
  const fileOfId = new Map<string, string>();
  // Parsed once and compared against each version string: one SemVer parse per file, not two.
  let highest: semver.SemVer | undefined;
  let highestText: string | undefined;
  for (const file of discoverMigrationFiles(dir)) {
    const ext = extname(file).toLowerCase();
    const loaded =
      ext === '.json'
        ? [parseJsonMigration(readFileSync(file, 'utf8'), file)]
        : ext === '.sql'
          ? [parseSqlMigration(readFileSync(file, 'utf8'), file)]
          : await loadModuleMigrations(file);
    for (const m of loaded) {
      if (m.pluginId !== '' && m.pluginId !== options.id) {
        throw new MigrationParseError(
          'E_PLUGIN_MISMATCH',
          `migration "${m.id}" belongs to plugin "${m.pluginId}", but this directory is plugin "${options.id}"`,
          { file, field: 'migration.pluginId' },
        );
      }
      const other = fileOfId.get(m.id);
      if (other !== undefined) {
        throw new MigrationParseError(
          'E_DUPLICATE_ID',
          `duplicate migration id "${m.id}": also defined in ${other}`,
          { file, field: 'migration.id' },
          { details: { files: [other, file] } },
        );
      }
      fileOfId.set(m.id, file);
      if (highest === undefined || (m.version !== highestText && highest.compare(m.version) < 0)) {
        highest = new semver.SemVer(m.version);
        highestText = m.version;
      }
      m.pluginId = options.id;
      migrations.push(m);
    }
  }

  const plugin: Plugin = {
    id: options.id,
    version: options.version ?? highestText ?? '0.0.0',
    migrations,
    dir,
  };
  if (options.name !== undefined) plugin.name = options.name;
  if (options.description !== undefined) plugin.description = options.description;
  return plugin;
}

function assertDirectory(dir: string): void {
  const stat = statSync(dir, { throwIfNoEntry: false });
  if (!stat) throw new ConfigError(`migrations directory not found: ${dir}`, { file: dir });
  if (!stat.isDirectory()) throw new ConfigError(`migrations path is not a directory: ${dir}`, { file: dir });
}
