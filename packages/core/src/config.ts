import { readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import semver from 'semver';
import { z } from 'zod';
import { ConfigError } from './errors.js';
import { parseJsonDocument } from './loaders/json-document.js';
import { ID_PATTERN } from './model/schema.js';

/**
 * The file `loadConfig` looks for in the working directory.
 *
 * @example
 * existsSync(join(cwd, CONFIG_FILE_NAME));
 */
export const CONFIG_FILE_NAME = 'cmpkg.config.json';

/**
 * The shape of `cmpkg.config.json`. Unknown keys are errors, so a typo never silently does nothing.
 *
 * @example
 * CmpkgConfigSchema.parse({ plugin: { id: 'knowledge-base' }, database: 'sqlite:./app.db' });
 */
export const CmpkgConfigSchema = z
  .object({
    $schema: z.string().optional(),
    plugin: z
      .object({
        id: z
          .string()
          .regex(ID_PATTERN, { message: 'plugin id must match [a-z0-9][a-z0-9._-]* (lower-case)' }),
        version: z
          .string()
          .refine((v) => semver.valid(v) !== null, { message: 'must be a semver version' })
          .optional(),
        name: z.string().optional(),
        description: z.string().optional(),
      })
      .strict()
      .optional(),
    migrationsDir: z.string().min(1).default('migrations'),
    database: z.string().min(1).optional(),
    lockTimeout: z.number().positive().optional().meta({ description: 'seconds' }),
    allowOutOfOrder: z.boolean().optional(),
    registry: z
      .url({ protocol: /^https?$/, message: 'registry must be an http:// or https:// URL' })
      .optional()
      .meta({ description: 'the registry `publish`, `install NAME@RANGE`, `search` and `info` talk to' }),
  })
  .strict();

/**
 * A config as written (every key optional).
 *
 * @example
 * const written: CmpkgConfigInput = { plugin: { id: 'kb' }, database: 'sqlite:./app.db' };
 */
export type CmpkgConfigInput = z.input<typeof CmpkgConfigSchema>;
/**
 * A loaded config: defaults applied, `migrationsDir` absolute.
 *
 * @example
 * const { config }: { config: CmpkgConfig } = await loadConfig({});
 */
export type CmpkgConfig = z.output<typeof CmpkgConfigSchema>;

/**
 * The outcome of `loadConfig`: the file it came from (none when defaults were used) and the config.
 *
 * @example
 * const loaded: LoadedConfig = await loadConfig({ cwd: '/app' });
 * if (!loaded.file) console.log('using defaults');
 */
export interface LoadedConfig {
  file: string | undefined;
  config: CmpkgConfig;
}

/**
 * Where `loadConfig` looks.
 *
 * @example
 * await loadConfig({ cwd: '/app', file: 'config/cmpkg.json' });
 */
export interface LoadConfigOptions {
  /** Where to look for `cmpkg.config.json`, and the base for relative paths without one. */
  cwd?: string;
  /** An explicit config file (relative to `cwd`); it must exist. */
  file?: string;
}

/**
 * Loads `cmpkg.config.json`: the explicit `file`, else `<cwd>/cmpkg.config.json`, else defaults.
 * Relative paths (`migrationsDir`, a `sqlite:` database file) resolve against the config file's
 * directory, so the CLI behaves the same from any subfolder. Errors are `ConfigError`s naming the
 * file, the field and its line.
 *
 * @example
 * const { file, config } = await loadConfig({ cwd: process.cwd() });
 * const plugin = await loadPlugin({ dir: config.migrationsDir, id: config.plugin?.id ?? 'app' });
 */
export async function loadConfig(options: LoadConfigOptions = {}): Promise<LoadedConfig> {
  const cwd = resolve(options.cwd ?? process.cwd());
  const explicit = options.file !== undefined;
  const file = resolve(cwd, options.file ?? CONFIG_FILE_NAME);
  const stat = statSync(file, { throwIfNoEntry: false });
  if (!stat?.isFile()) {
    if (explicit)
      throw new ConfigError(stat ? 'config path is not a file' : 'config file not found', { file });
    return { file: undefined, config: resolvePaths(CmpkgConfigSchema.parse({}), cwd) };
  }

  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(
      `cannot read the config file: ${err instanceof Error ? err.message : String(err)}`,
      { file },
      { cause: err },
    );
  }
  const result = parseJsonDocument(text, CmpkgConfigSchema);
  if (!result.ok) {
    const p = result.problem;
    throw p.kind === 'syntax'
      ? new ConfigError(p.message, { file, line: p.line }, { cause: p.cause })
      : new ConfigError(p.message, { file, line: p.line, field: p.field }, { details: { issues: p.issues } });
  }
  return { file, config: resolvePaths(result.data, dirname(file)) };
}

function resolvePaths(config: CmpkgConfig, base: string): CmpkgConfig {
  const out: CmpkgConfig = { ...config, migrationsDir: resolve(base, config.migrationsDir) };
  if (config.database !== undefined) out.database = resolveSqliteUrl(config.database, base);
  return out;
}

/**
 * Makes the file path of a relative `sqlite:` URL absolute against `base` (the config file's folder,
 * or a command's working directory). Other URLs, `sqlite::memory:`, `sqlite://...` (left to the
 * dialect) and absolute paths come back unchanged.
 *
 * @example
 * resolveSqliteUrl('sqlite:./app.db', '/srv/project'); // 'sqlite:/srv/project/app.db'
 * resolveSqliteUrl('postgres://db/app', '/srv/project'); // unchanged
 */
export function resolveSqliteUrl(url: string, base: string): string {
  const match = /^sqlite:(?!\/\/)(.+)$/i.exec(url);
  const path = match?.[1];
  if (path === undefined || path === ':memory:' || isAbsolute(path)) return url;
  return `sqlite:${resolve(base, path)}`;
}
