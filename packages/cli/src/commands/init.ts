import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { CmpkgError, ID_PATTERN, UsageError } from '@cmpkg/core';
import { type CommandContext, DEFAULT_DATABASE, DEFAULT_MIGRATIONS_DIR } from '../context.js';
import { ExitCode } from '../exit-codes.js';
import { pathExists } from './transfer.js';

/** Options of `cmpkg init`. */
export interface InitCommandOptions {
  force?: boolean;
}

/** The file `init` writes unless `--config` names another. */
export const CONFIG_FILE_NAME = 'cmpkg.config.json';

/** A file `init` or `new` would overwrite. Bad input (exit 2): the user picks another name or `--force`. */
export class FileExistsError extends CmpkgError {
  constructor(file: string, message: string) {
    super('E_EXISTS', 'input', message, { details: { file } });
  }
}

/**
 * A plugin id from a folder name: lower-case, runs of anything outside `[a-z0-9._-]` become `-`.
 *
 * @example
 * pluginIdFromFolder('My Knowledge Base'); // 'my-knowledge-base'
 */
export function pluginIdFromFolder(folder: string): string {
  const id = folder
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/^[^a-z0-9]+/, '')
    .replace(/[-_.]+$/, '');
  return id === '' ? 'default' : id;
}

/**
 * `cmpkg init [--force]`: writes `cmpkg.config.json` (or the `--config` path) and creates the
 * migrations directory. The plugin id comes from `--plugin` or the folder name. An existing config
 * is never overwritten without `--force` (exit 2). It does not read the existing config, so
 * `--force` also repairs a config that no longer parses.
 *
 * @example
 * await runInit(ctx, { force: false }); // { plugin: { id: 'my-app' }, migrationsDir: 'migrations', ... }
 */
export async function runInit(ctx: CommandContext, options: InitCommandOptions): Promise<number> {
  const { out, flags, cwd } = ctx;
  const configFile = path.resolve(cwd, flags.config ?? CONFIG_FILE_NAME);
  const configDir = path.dirname(configFile);
  const shown = path.relative(cwd, configFile) || configFile;

  const pluginId = flags.plugin ?? pluginIdFromFolder(path.basename(configDir));
  if (!ID_PATTERN.test(pluginId)) {
    throw new UsageError(
      `--plugin "${pluginId}": a plugin id is lower-case [a-z0-9._-], starting with a letter or digit`,
    );
  }
  if (!options.force && (await pathExists(configFile))) {
    throw new FileExistsError(shown, `${shown} already exists; use --force to overwrite it`);
  }

  // Written relative to the config file, which is how the config loader reads it back.
  const migrationsDir = path.resolve(
    cwd,
    flags.dir ?? path.join(path.relative(cwd, configDir), DEFAULT_MIGRATIONS_DIR),
  );
  const relativeDir = toPosix(path.relative(configDir, migrationsDir)) || '.';
  const config = {
    // No version: it defaults to the highest migration version, so the files stay the one truth.
    plugin: { id: pluginId },
    migrationsDir: relativeDir,
    database: flags.db ?? DEFAULT_DATABASE,
  };
  await mkdir(configDir, { recursive: true });
  await writeFile(configFile, `${JSON.stringify(config, null, 2)}\n`, options.force ? {} : { flag: 'wx' });
  const createdDir = !(await pathExists(migrationsDir));
  await mkdir(migrationsDir, { recursive: true });

  out.emitJson({ ok: true, files: [configFile, migrationsDir] });
  const { c } = out;
  out.line(`${c.green('✔')} wrote ${shown} (plugin ${c.bold(pluginId)}, database ${config.database})`);
  const dirShown = `${path.relative(cwd, migrationsDir) || '.'}${path.sep}`;
  out.line(`${c.green('✔')} ${createdDir ? 'created' : 'using existing'} ${dirShown}`);
  out.line();
  out.line(`Next: ${c.bold('cmpkg new create_tables')}, edit the file, then ${c.bold('cmpkg up')}`);
  return ExitCode.Ok;
}

/** Config files use `/` on every OS so they can be committed and shared. */
function toPosix(p: string): string {
  return p.split(path.sep).join('/');
}
