import path from 'node:path';
import { UsageError } from '@cmpkg/core';
import { type PackOptions, type PackResult, packPlugin, parseRotations } from '@cmpkg/packager';
import { type CommandContext, loadPluginFor, loadSettings, type OpenDatabase } from '../context.js';
import { ExitCode } from '../exit-codes.js';
import { formatBytes, formatTable, plural } from '../output.js';
import { readSecretKeyFor } from '../passphrase.js';
import { shownPath } from './keygen.js';
import { closeQuietly, openSettingsDatabase, readOptionFile } from './transfer.js';

/**
 * Options of `cmpkg pack`, as commander parses them.
 *
 * @example
 * const opts: PackCommandOptions = { key: 'publisher.key', version: '1.0.0', outDir: 'dist', requires: ['auth@^2.0.0'] };
 */
export interface PackCommandOptions {
  /** The secret key file (`cmpkg keygen`); encrypted keys take `CMPKG_KEY_PASSPHRASE` or a prompt. */
  key: string;
  /** Pack as this version: only the migrations up to it (default: the config's plugin.version). */
  version?: string;
  /** The archive file (default `<out-dir>/<id>-<version>.cmpkg`). */
  out?: string;
  /** The directory of the archive (default: the working directory). */
  outDir?: string;
  /** Include rows of `tables`, exported from `--db`. */
  withData?: boolean;
  tables?: string[];
  /** A README.md to include. */
  readme?: string;
  /** `id@range`, repeatable: plugins that must be installed first. */
  requires?: string[];
  /** A rotation statement file (`keygen --rotate-from`), included as rotation.json. */
  rotation?: string;
}

/** The `--json` document of `pack`. */
export interface PackJson {
  ok: true;
  file: string;
  size: number;
  digest: string;
  integrity: string;
  keyId: string;
  plugin: PackResult['manifest']['plugin'];
  engines: PackResult['manifest']['engines'];
  requires: PackResult['manifest']['requires'];
  createdAt: string;
  migrations: PackResult['manifest']['migrations'];
  data: Array<{ table: string; rows: number }>;
  files: number;
}

/** `auth@^2.0.0` → `['auth', '^2.0.0']`; plugin ids have no `@`, so the first one splits. */
export function parseRequires(values: readonly string[]): Record<string, string> {
  const requires: Record<string, string> = {};
  for (const value of values) {
    const at = value.indexOf('@');
    const id = at > 0 ? value.slice(0, at).trim() : '';
    const range = at > 0 ? value.slice(at + 1).trim() : '';
    if (id === '' || range === '') {
      throw new UsageError(`--requires takes <plugin-id>@<semver range>, e.g. auth@^2.0.0 (got "${value}")`, {
        details: { option: '--requires', value },
      });
    }
    if (requires[id] !== undefined && requires[id] !== range) {
      throw new UsageError(`--requires names ${id} twice (${requires[id]} and ${range})`, {
        details: { option: '--requires', value },
      });
    }
    requires[id] = range;
  }
  return requires;
}

/** The option combinations commander cannot check by itself. */
function checkOptions(o: PackCommandOptions): void {
  if (o.withData && (o.tables === undefined || o.tables.length === 0)) {
    throw new UsageError('--with-data needs --tables a,b: the tables whose rows go into the package', {
      details: { option: '--with-data' },
    });
  }
  if (!o.withData && o.tables !== undefined) {
    throw new UsageError('--tables only applies with --with-data (packing rows is opt-in)', {
      details: { option: '--tables' },
    });
  }
}

/**
 * `cmpkg pack --key FILE`: builds a signed `.cmpkg` of the configured plugin (`--config`) with
 * `packPlugin`: its migrations up to `--version` as portable JSON, optionally rows of `--tables`
 * exported from `--db` (`--with-data`), a README, `requires` and a rotation statement. The same
 * inputs always give the same bytes. Everything given on the command line (key, rotation file,
 * README, requires) is read and checked before the database is opened; the archive appears only
 * when it is complete.
 *
 * @example
 * await runPack(ctx, { key: 'publisher.key', version: '1.0.0', outDir: 'dist' });
 */
export async function runPack(ctx: CommandContext, options: PackCommandOptions): Promise<number> {
  const { out } = ctx;
  checkOptions(options);
  const settings = await loadSettings(ctx);
  const plugin = await loadPluginFor(settings);
  const requires = parseRequires(options.requires ?? []);
  const keyFile = path.resolve(ctx.cwd, options.key);
  const key = await readSecretKeyFor(ctx, '--key', keyFile, options.key);

  const packOptions: PackOptions = { plugin, key };
  if (options.version !== undefined) packOptions.version = options.version;
  if (options.out !== undefined) packOptions.out = path.resolve(ctx.cwd, options.out);
  packOptions.outDir = path.resolve(ctx.cwd, options.outDir ?? '.');
  if (Object.keys(requires).length > 0) packOptions.requires = requires;
  if (options.readme !== undefined) {
    const readme = path.resolve(ctx.cwd, options.readme);
    // Read here only to give the one "cannot read the file" error (exit 2) naming the option.
    await readOptionFile('--readme', readme, options.readme);
    packOptions.readme = readme;
  }
  if (options.rotation !== undefined) {
    const file = path.resolve(ctx.cwd, options.rotation);
    packOptions.rotation = parseRotations(
      await readOptionFile('--rotation', file, options.rotation),
      options.rotation,
    );
  }

  let db: OpenDatabase | undefined;
  let result: PackResult;
  try {
    if (options.withData && options.tables) {
      db = (await openSettingsDatabase(ctx, { readOnly: true })).db;
      packOptions.data = { db, tables: options.tables };
    }
    result = await packPlugin(packOptions);
  } finally {
    await closeQuietly(db);
  }

  const { manifest } = result;
  const json: PackJson = {
    ok: true,
    file: result.file,
    size: result.size,
    digest: result.digest,
    integrity: result.integrity,
    keyId: result.keyId,
    plugin: manifest.plugin,
    engines: manifest.engines,
    requires: manifest.requires,
    createdAt: manifest.createdAt,
    migrations: manifest.migrations,
    data: manifest.data.map((d) => ({ table: d.table, rows: d.rows })),
    files: manifest.files.length,
  };
  out.emitJson(json);

  const { c } = out;
  out.line(
    `Packed ${c.bold(`${manifest.plugin.id}@${manifest.plugin.version}`)} → ${c.bold(shownPath(ctx.cwd, result.file))} ` +
      c.dim(`(${formatBytes(result.size)}, ${manifest.files.length + 2} entries)`),
  );
  out.line(`  signed by ${c.bold(result.keyId)}  ${c.dim(result.digest)}`);
  out.line(`  engines: ${manifest.engines.join(', ') || c.dim('(any)')}`);
  const requiresText = Object.entries(manifest.requires).map(([id, range]) => `${id}@${range}`);
  if (requiresText.length > 0) out.line(`  requires: ${requiresText.join(', ')}`);
  out.line(`  ${plural(manifest.migrations.length, 'migration')}:`);
  out.lines(
    formatTable(
      manifest.migrations.map((m) => [m.id, m.version]),
      { indent: 4 },
    ),
  );
  if (manifest.data.length > 0) {
    out.line(`  data: ${manifest.data.map((d) => `${d.table} (${plural(d.rows, 'row')})`).join(', ')}`);
  }
  if (packOptions.rotation) out.line(`  rotation: ${plural(packOptions.rotation.length, 'statement')}`);
  return ExitCode.Ok;
}
