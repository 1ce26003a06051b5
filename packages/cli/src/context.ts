import path from 'node:path';
import {
  type Connection,
  ConnectionError,
  type Dialect,
  isCmpkgError,
  loadConfig,
  loadPlugin,
  Migrator,
  type MigratorOptions,
  type Plugin,
  UsageError,
} from '@cmpkg/core';
import { createTransformRunner } from '@cmpkg/transform';
import { dialectFor, redactUrl, resolveDatabaseUrl } from './dialects.js';
import type { CliIo, Output } from './output.js';

/** The global options, as commander parses them (before or after the command name). */
export interface GlobalOptions {
  db?: string;
  dir?: string;
  plugin?: string;
  config?: string;
  json?: boolean;
  yes?: boolean;
  /** Seconds. */
  lockTimeout?: number;
  user?: string;
  verbose?: boolean;
  /** Only `up` and `plan` take it; part of the settings because the config file can set it too. */
  allowOutOfOrder?: boolean;
  /** Only the registry commands take it (`--registry URL`). */
  registry?: string;
}

/** Where a setting's value came from, for messages and tests. */
export type SettingSource = 'flag' | 'env' | 'config' | 'default';

/** The settings of one run, resolved as in the README table. */
export interface Settings {
  database: string;
  migrationsDir: string;
  pluginId: string;
  /** Undefined: the loader takes the highest migration version. */
  pluginVersion?: string;
  pluginName?: string;
  pluginDescription?: string;
  lockTimeoutMs: number;
  allowOutOfOrder: boolean;
  /** The config file that was read, if any. */
  configFile?: string;
  /** Recorded as applied_by; undefined lets the engine take the OS user. */
  user?: string;
  /**
   * The registry URL as given (`--registry` > `CMPKG_REGISTRY` > config `registry`); undefined when
   * none is. Checked only by the commands that use it ({@link registryUrl}), so a stray
   * `CMPKG_REGISTRY` never breaks `cmpkg up`.
   */
  registry?: string;
  sources: Record<
    'database' | 'migrationsDir' | 'pluginId' | 'lockTimeout' | 'allowOutOfOrder' | 'registry',
    SettingSource
  >;
}

/** The part of `loadConfig`'s result the CLI reads (paths already absolute). */
export interface LoadedConfig {
  file?: string;
  config: {
    plugin?: { id: string; version?: string; name?: string; description?: string };
    migrationsDir?: string;
    database?: string;
    lockTimeout?: number;
    allowOutOfOrder?: boolean;
    registry?: string;
  };
}

export const DEFAULT_DATABASE = 'sqlite:./cmpkg.db';
export const DEFAULT_MIGRATIONS_DIR = 'migrations';
export const DEFAULT_PLUGIN_ID = 'default';
export const DEFAULT_LOCK_TIMEOUT_SECONDS = 60;

/**
 * Resolves the settings: flags win over the environment, the environment over the config file,
 * the config file over the defaults. Pure, so the precedence is tested without touching disk.
 *
 * @example
 * resolveSettings({ db: 'sqlite:./a.db' }, { DATABASE_URL: 'sqlite:./b.db' }, '/p', { config: {} }).database;
 * // 'sqlite:/p/a.db' when /p is not the process's own cwd, else 'sqlite:./a.db'
 */
export function resolveSettings(
  flags: GlobalOptions,
  env: Record<string, string | undefined>,
  cwd: string,
  loaded: LoadedConfig,
): Settings {
  // loadConfig has made the config's paths absolute (against the config file's folder); flags and
  // the environment are relative to the working directory.
  const config = loaded.config;
  const sources = {} as Settings['sources'];

  let database: string;
  if (flags.db !== undefined) {
    database = resolveDatabaseUrl(flags.db, cwd);
    sources.database = 'flag';
  } else if (env.DATABASE_URL) {
    database = resolveDatabaseUrl(env.DATABASE_URL, cwd);
    sources.database = 'env';
  } else if (config.database !== undefined) {
    // loadConfig already resolved a relative SQLite path against the config file's folder.
    database = config.database;
    sources.database = 'config';
  } else {
    database = resolveDatabaseUrl(DEFAULT_DATABASE, cwd);
    sources.database = 'default';
  }

  let migrationsDir: string;
  if (flags.dir !== undefined) {
    migrationsDir = path.resolve(cwd, flags.dir);
    sources.migrationsDir = 'flag';
  } else if (loaded.file !== undefined && config.migrationsDir !== undefined) {
    migrationsDir = config.migrationsDir;
    sources.migrationsDir = 'config';
  } else {
    migrationsDir = path.resolve(cwd, DEFAULT_MIGRATIONS_DIR);
    sources.migrationsDir = 'default';
  }

  const pluginId = flags.plugin ?? config.plugin?.id ?? DEFAULT_PLUGIN_ID;
  sources.pluginId =
    flags.plugin !== undefined ? 'flag' : config.plugin?.id !== undefined ? 'config' : 'default';

  const lockSeconds = flags.lockTimeout ?? config.lockTimeout ?? DEFAULT_LOCK_TIMEOUT_SECONDS;
  sources.lockTimeout =
    flags.lockTimeout !== undefined ? 'flag' : config.lockTimeout !== undefined ? 'config' : 'default';

  const allowOutOfOrder = flags.allowOutOfOrder ?? config.allowOutOfOrder ?? false;
  sources.allowOutOfOrder =
    flags.allowOutOfOrder !== undefined
      ? 'flag'
      : config.allowOutOfOrder !== undefined
        ? 'config'
        : 'default';

  let registry: string | undefined;
  if (flags.registry !== undefined) {
    registry = flags.registry;
    sources.registry = 'flag';
  } else if (env.CMPKG_REGISTRY) {
    registry = env.CMPKG_REGISTRY;
    sources.registry = 'env';
  } else if (config.registry !== undefined) {
    registry = config.registry;
    sources.registry = 'config';
  } else sources.registry = 'default';

  // A plugin chosen with --plugin is a different plugin: the config's version and name are not its.
  const samePlugin = flags.plugin === undefined || flags.plugin === config.plugin?.id;
  const settings: Settings = {
    database,
    migrationsDir,
    pluginId,
    lockTimeoutMs: Math.round(lockSeconds * 1000),
    allowOutOfOrder,
    sources,
  };
  if (samePlugin && config.plugin?.version !== undefined) settings.pluginVersion = config.plugin.version;
  if (samePlugin && config.plugin?.name !== undefined) settings.pluginName = config.plugin.name;
  if (samePlugin && config.plugin?.description !== undefined)
    settings.pluginDescription = config.plugin.description;
  if (loaded.file !== undefined) settings.configFile = loaded.file;
  if (flags.user !== undefined) settings.user = flags.user;
  if (registry !== undefined) settings.registry = registry;
  return settings;
}

/** Where each source of the registry URL is named in messages. */
const REGISTRY_SOURCE_NAMES: Record<SettingSource, string> = {
  flag: '--registry',
  env: 'CMPKG_REGISTRY',
  config: 'cmpkg.config.json "registry"',
  default: 'the registry URL',
};

/**
 * The registry URL of a registry command, checked: none at all, or one that is not an http(s) URL,
 * is a usage error (exit 2) naming where it came from. A trailing slash is dropped.
 *
 * @param command what needs it, for the message (`cmpkg publish`).
 *
 * @example
 * registryUrl(resolveSettings({ registry: 'http://127.0.0.1:4880/' }, {}, cwd, { config: {} }), 'cmpkg search');
 * // 'http://127.0.0.1:4880'
 */
export function registryUrl(settings: Pick<Settings, 'registry' | 'sources'>, command: string): string {
  const given = settings.registry;
  if (given === undefined || given.trim() === '') {
    throw new UsageError(
      `${command} needs --registry URL (or CMPKG_REGISTRY, or "registry" in cmpkg.config.json)`,
      { details: { setting: 'registry' } },
    );
  }
  const source = REGISTRY_SOURCE_NAMES[settings.sources.registry];
  let url: URL;
  try {
    url = new URL(given.trim());
  } catch {
    throw new UsageError(`${source} "${given}" is not a URL: expected http://host:port or https://host`, {
      details: { setting: 'registry', source: settings.sources.registry },
    });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UsageError(`${source} "${given}" must be an http:// or https:// URL`, {
      details: { setting: 'registry', source: settings.sources.registry },
    });
  }
  if (url.search !== '' || url.hash !== '') {
    throw new UsageError(`${source} "${given}" must not have a query or a fragment`, {
      details: { setting: 'registry', source: settings.sources.registry },
    });
  }
  return url.toString().replace(/\/+$/, '');
}

/** What every command gets: the streams, the printer, the parsed global options. */
export interface CommandContext {
  io: CliIo;
  out: Output;
  flags: GlobalOptions;
  cwd: string;
  env: Record<string, string | undefined>;
}

/** Reads the config file (`--config`, or `./cmpkg.config.json` if present) and resolves the settings. */
export async function loadSettings(ctx: CommandContext): Promise<Settings> {
  const loaded: LoadedConfig = await loadConfig(
    ctx.flags.config !== undefined
      ? { cwd: ctx.cwd, file: path.resolve(ctx.cwd, ctx.flags.config) }
      : { cwd: ctx.cwd },
  );
  return resolveSettings(ctx.flags, ctx.env, ctx.cwd, loaded);
}

/** What a database command works with, prepared before any connection is opened. */
export interface Prepared {
  settings: Settings;
  dialect: Dialect;
  plugin: Plugin;
}

/**
 * Resolves the settings, picks the dialect for the URL (an unknown URL exits 2), then loads and
 * validates every migration file. All of it happens before a connection is opened, so bad input
 * exits 2 with the database untouched.
 *
 * @example
 * const prepared = await prepare(ctx);
 * const report = await withMigrator(prepared, { readOnly: true }, (m) => m.status());
 */
export async function prepare(ctx: CommandContext): Promise<Prepared> {
  const settings = await loadSettings(ctx);
  const dialect = await dialectFor(settings.database);
  const plugin = await loadPluginFor(settings);
  return { settings, dialect, plugin };
}

/** Loads and validates every migration file of the configured plugin. */
export async function loadPluginFor(settings: Settings): Promise<Plugin> {
  return loadPlugin({
    dir: settings.migrationsDir,
    id: settings.pluginId,
    ...(settings.pluginVersion !== undefined ? { version: settings.pluginVersion } : {}),
    ...(settings.pluginName !== undefined ? { name: settings.pluginName } : {}),
    ...(settings.pluginDescription !== undefined ? { description: settings.pluginDescription } : {}),
  });
}

/** An open database: the dialect and one pinned connection. */
export interface OpenDatabase {
  dialect: Dialect;
  connection: Connection;
}

/**
 * Opens the database. Read-only commands pass `readOnly: true`, so they can never create or change
 * anything. Driver errors become a `ConnectionError`: one clear line and exit 1.
 */
export async function openDatabase(
  dialect: Dialect,
  settings: Settings,
  options: { readOnly: boolean },
): Promise<OpenDatabase> {
  try {
    const connection = await dialect.connect(settings.database, { readOnly: options.readOnly });
    return { dialect, connection };
  } catch (err) {
    if (isCmpkgError(err)) throw err;
    const reason = err instanceof Error ? err.message : String(err);
    throw new ConnectionError(`cannot open ${redactUrl(settings.database)}: ${reason}`, { cause: err });
  }
}

/** Options of the migrator that depend on the command rather than the settings. */
export type MigratorExtras = Partial<
  Pick<MigratorOptions, 'repair' | 'continueOnError' | 'backup' | 'allowOutOfOrder' | 'lockTimeoutMs'>
>;

/**
 * Opens the database, builds a `Migrator` on it, runs `fn`, and always closes the connection.
 *
 * @example
 * const report = await withMigrator(prepared, { readOnly: true }, (m) => m.status());
 */
export async function withMigrator<T>(
  prepared: Prepared,
  options: { readOnly: boolean } & MigratorExtras,
  fn: (migrator: Migrator, db: OpenDatabase) => Promise<T>,
): Promise<T> {
  const { settings, dialect, plugin } = prepared;
  const { readOnly, ...extras } = options;
  const db = await openDatabase(dialect, settings, { readOnly });
  try {
    const migratorOptions: MigratorOptions = {
      dialect: db.dialect,
      connection: db.connection,
      plugin,
      lockTimeoutMs: settings.lockTimeoutMs,
      allowOutOfOrder: settings.allowOutOfOrder,
      // `transform` steps run through @cmpkg/transform's built-ins; `custom` functions need a host
      // that registers them (the library API), so the CLI reports them as unknown before any row moves.
      transformRunner: createTransformRunner(),
      ...extras,
    };
    if (settings.user !== undefined) migratorOptions.user = settings.user;
    return await fn(new Migrator(migratorOptions), db);
  } finally {
    await db.connection.close().catch(() => undefined);
  }
}
