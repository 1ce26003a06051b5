import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CmpkgError, PackageError, RegistryError } from '@cmpkg/core';
import {
  type InstallOptions,
  type InstallResult,
  installPackage,
  openPackage,
  type PublicKey,
  parseRotations,
  type RotationStatement,
  type VerifiedPackage,
} from '@cmpkg/packager';
import { type CommandContext, loadSettings, openDatabase, type Settings } from '../context.js';
import { dialectFor } from '../dialects.js';
import { ExitCode, exitCodeFor } from '../exit-codes.js';
import { type Colors, formatDuration, type Output, plural, toJsonError } from '../output.js';
import { installProgress } from '../progress.js';
import { looksLikeRegistrySpec, parsePluginSpec, registryClientFor } from '../registry-args.js';
import { renderPlan, renderResults } from '../render.js';
import { askOnTerminal } from './down.js';
import { closeQuietly, pathExists, readOptionFile } from './transfer.js';
import { packageArguments, publicKeyOption } from './verify.js';

/**
 * Options of `cmpkg install`, as commander parses them.
 *
 * @example
 * const opts: InstallCommandOptions = { trustKey: 'publisher.pub', dryRun: true };
 */
export interface InstallCommandOptions {
  /** The publisher's public key: pinned on a first install, required to match afterwards. */
  trustKey?: string;
  /** Rotation statements (`keygen --rotate-from`) for a package signed by a new key. */
  rotation?: string;
  /** Install an older version than the installed one (its newer migrations are rolled back). */
  allowDowngrade?: boolean;
  /** Import the package's data on an upgrade too (a fresh install always imports it). */
  importData?: boolean;
  skipBackup?: boolean;
  dryRun?: boolean;
  reason?: string;
}

/** The answer to "downgrade?" was not yes (exit 1: nothing was done, nothing was refused). */
export class InstallCancelledError extends CmpkgError {
  constructor() {
    super('E_CANCELLED', 'failure', 'install cancelled: nothing was changed');
  }
}

const ACTION_DONE: Record<Exclude<InstallResult['action'], 'none'>, string> = {
  install: 'Installed',
  upgrade: 'Upgraded',
  downgrade: 'Downgraded',
};

/** `1.0.0 → 2.0.0`, `(none) → 1.0.0`. */
function move(r: Pick<InstallResult, 'fromVersion' | 'toVersion'>): string {
  return `${r.fromVersion ?? '(none)'} → ${r.toVersion}`;
}

/** What happens to the signer's key: already pinned, pinned by this install, or a verified rotation. */
function keyText(c: Colors, r: InstallResult, done: boolean): string {
  if (r.rotated)
    return `${c.bold(r.keyId)} ${c.yellow(`(${done ? 'now pinned' : 'will be pinned'}: rotation signed by the pinned key)`)}`;
  if (r.pinned)
    return `${c.bold(r.keyId)} ${c.dim(`(${done ? 'pinned' : 'will be pinned'}: first install)`)}`;
  return `${c.bold(r.keyId)} ${c.dim('(the pinned key)')}`;
}

/** The `--json` document of `install`; `extra` is the `registry` facts of a registry install. */
function installJson(result: InstallResult, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const { error, ...rest } = result;
  return { ok: error === undefined, ...rest, ...extra, ...(error ? { error: toJsonError(error) } : {}) };
}

/** The plan as `up --dry-run` shows it, preceded by what is installed where and who signed it. */
function printPlan(
  out: Output,
  preview: InstallResult,
  pkg: VerifiedPackage,
  database: string,
  importData: boolean,
): void {
  const { c } = out;
  out.line(
    `${c.bold(`${preview.action[0]?.toUpperCase()}${preview.action.slice(1)}`)} ${c.bold(preview.pluginId)} ${move(preview)} on ${database}`,
  );
  out.line(`  package: ${path.basename(pkg.file)} ${c.dim(pkg.digest)}`);
  out.line(`  signer:  ${keyText(c, preview, false)}`);
  const data = pkg.manifest.data;
  if (data.length > 0) {
    const imported = preview.action === 'install' || importData;
    out.line(
      `  data:    ${data.map((d) => `${d.table} (${plural(d.rows, 'row')})`).join(', ')}` +
        c.dim(
          imported
            ? ''
            : ` — not imported on ${preview.action === 'upgrade' ? 'an upgrade' : 'a downgrade'} without --import-data`,
        ),
    );
  }
  out.line();
  const plans = preview.plans ?? (preview.plan ? [preview.plan] : []);
  for (const plan of plans) {
    out.lines(renderPlan(c, plan, { sql: false }));
    out.line();
  }
}

/** Everything an install needs besides the archive, read and checked before anything is opened. */
interface InstallSetup {
  settings: Settings;
  dialect: Awaited<ReturnType<typeof dialectFor>>;
  trustKey: PublicKey | undefined;
  rotation: RotationStatement[] | undefined;
}

/** What a registry install adds to the file flow: what to expect of the archive, and the JSON facts. */
interface RegistryExpectations {
  expect: { pluginId: string; version: string };
  /** The signer the registry published for the version (`dist.keyId`). */
  keyId: string;
  /** Where the archive was downloaded: the extraction goes there too, so one removal cleans up. */
  tempRoot: string;
  registry: { url: string; spec: string; resolved: string; integrity: string };
}

/**
 * `cmpkg install FILE | NAME[@SPEC]`: installs, upgrades or (with `--allow-downgrade`) downgrades a
 * plugin in `--db` with `installPackage`. An argument that is an existing file, ends in `.cmpkg`, is
 * a path, or is neither a plugin id nor has an `@` is an archive (a missing one exits 2 naming it);
 * anything else is `NAME[@SPEC]` in the registry ({@link runRegistryInstall}), installed exactly as
 * a file would be once downloaded.
 * The archive is verified once (a damaged one exits 2 before any connection is opened); a dry run
 * on a read-only connection then decides trust, requires and direction and plans the migrations —
 * refusals (untrusted key, downgrade, version conflict, unmet requires, engine) exit 3 with the
 * database untouched — and the plan is printed. `--dry-run` stops there. A downgrade asks for
 * confirmation on a terminal unless `--yes`. Then the install runs on a writable connection; a
 * failure puts the database back as it was and exits 1 saying so. The same version from the same
 * archive again is "already installed", exit 0.
 *
 * @example
 * await runInstall(ctx, 'sample-2.0.0.cmpkg', { trustKey: 'publisher.pub' });
 * await runInstall(ctx, 'sample@^1', {}); // with --registry / CMPKG_REGISTRY
 */
export async function runInstall(
  ctx: CommandContext,
  given: string,
  options: InstallCommandOptions,
): Promise<number> {
  if (looksLikeRegistrySpec(given) && !(await pathExists(path.resolve(ctx.cwd, given)))) {
    return runRegistryInstall(ctx, given, options);
  }
  // Not `trust`: installPackage decides trust itself (the pinned key, --trust-key, rotations).
  const { file, key: trustKey } = await packageArguments(ctx, given, '--trust-key', options.trustKey);
  const setup = await installSetup(ctx, options, trustKey);
  return installArchive(ctx, file, setup, options);
}

/** The settings, the dialect of `--db` (an unknown URL exits 2) and the `--rotation` file. */
async function installSetup(
  ctx: CommandContext,
  options: InstallCommandOptions,
  trustKey: PublicKey | undefined,
): Promise<InstallSetup> {
  const settings = await loadSettings(ctx);
  const dialect = await dialectFor(settings.database);
  const rotation =
    options.rotation === undefined
      ? undefined
      : parseRotations(
          await readOptionFile('--rotation', path.resolve(ctx.cwd, options.rotation), options.rotation),
          options.rotation,
        );
  return { settings, dialect, trustKey, rotation };
}

/**
 * The registry flow of `cmpkg install NAME[@SPEC]`: every local input (key, `--db`, rotation,
 * registry URL) is checked first; then the registry resolves the spec (`Resolved sample@^1 → 1.1.0
 * from URL`, and a warning for a deprecated or yanked version), the archive is streamed into a fresh
 * temporary directory while its sha512 is compared with `dist.integrity` (a mismatch is
 * `E_REGISTRY_INTEGRITY`, exit 3), and the file flow runs on it, expecting that plugin and version
 * and the signer the registry names. The temporary directory is removed whatever happens.
 *
 * @example
 * await runRegistryInstall(ctx, 'sample@^1', { dryRun: true });
 */
async function runRegistryInstall(
  ctx: CommandContext,
  given: string,
  options: InstallCommandOptions,
): Promise<number> {
  const { out } = ctx;
  const wanted = parsePluginSpec(given);
  const trustKey = await publicKeyOption(ctx, '--trust-key', options.trustKey);
  const setup = await installSetup(ctx, options, trustKey);
  const client = await registryClientFor(ctx, 'cmpkg install NAME@SPEC', {
    write: false,
    settings: setup.settings,
  });
  const doc = await client.resolve(wanted.id, wanted.spec);
  if (doc.name !== wanted.id) {
    throw new RegistryError(
      'E_REGISTRY_RESPONSE',
      `${client.shownUrl} answered ${doc.name}@${doc.version} when asked for ${wanted.id}@${wanted.spec}`,
    );
  }
  const { c } = out;
  out.line(
    `Resolved ${c.bold(`${wanted.id}@${wanted.spec}`)} → ${c.bold(doc.version)} from ${client.shownUrl}`,
  );
  if (doc.deprecated !== undefined) out.warn(`${doc.name}@${doc.version} is deprecated: ${doc.deprecated}`);
  if (doc.yanked)
    out.warn(`${doc.name}@${doc.version} was yanked: installed only because it was asked for exactly`);

  // os.tmpdir() follows TMPDIR, so hosts choose where downloads go.
  const dir = await mkdtemp(path.join(os.tmpdir(), 'cmpkg-registry-'));
  try {
    const file = await client.download(doc.dist, dir);
    return await installArchive(ctx, file, setup, options, {
      expect: { pluginId: wanted.id, version: doc.version },
      keyId: doc.dist.keyId,
      tempRoot: dir,
      registry: {
        url: client.shownUrl,
        spec: wanted.spec,
        resolved: doc.version,
        integrity: doc.dist.integrity,
      },
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * The file flow: verify the archive, preview on a read-only connection, print the plan, ask for a
 * downgrade, install. `registry` adds the expectations of a registry download.
 */
async function installArchive(
  ctx: CommandContext,
  file: string,
  setup: InstallSetup,
  options: InstallCommandOptions,
  registry?: RegistryExpectations,
): Promise<number> {
  const { out } = ctx;
  const { settings, dialect, trustKey, rotation } = setup;
  const pkg = await openPackage(
    file,
    registry ? { expect: registry.expect, tempRoot: registry.tempRoot } : {},
  );
  const extra = registry ? { registry: registry.registry } : {};
  try {
    if (registry && pkg.signer.keyId !== registry.keyId) {
      throw new PackageError(
        'E_UNTRUSTED_KEY',
        `${path.basename(file)} is signed by ${pkg.signer.keyId}, but the registry published ${registry.keyId} as its signer: refusing it`,
        { details: { file: path.basename(file), keyId: pkg.signer.keyId, expected: registry.keyId } },
      );
    }
    const base: Omit<InstallOptions, 'connection'> = {
      package: pkg,
      dialect,
      lockTimeoutMs: settings.lockTimeoutMs,
      backup: options.skipBackup ? 'skip' : 'auto',
      ...(trustKey ? { trustKey } : {}),
      ...(rotation ? { rotation } : {}),
      ...(options.allowDowngrade ? { allowDowngrade: true } : {}),
      ...(options.importData ? { importData: true } : {}),
      ...(settings.user !== undefined ? { user: settings.user } : {}),
      ...(options.reason !== undefined ? { reason: options.reason } : {}),
    };

    // The preview reads only: refusals and plan errors surface here with nothing written.
    const { preview, database } = await withConnection(settings, dialect, true, async (connection) => ({
      preview: await installPackage({ ...base, connection, dryRun: true }),
      database: connection.displayUrl,
    }));
    if (preview.action === 'none') {
      out.emitJson(installJson(preview, extra));
      out.line(
        `Nothing to do: ${preview.pluginId} ${preview.toVersion} is already installed on ${database} (same package, ${pkg.digest.slice(0, 19)}…)`,
      );
      return ExitCode.Ok;
    }
    printPlan(out, preview, pkg, database, options.importData === true);
    if (options.dryRun) {
      out.emitJson(installJson(preview, extra));
      out.line(out.c.dim('Dry run: nothing was changed.'));
      return ExitCode.Ok;
    }
    if (preview.action === 'downgrade' && !ctx.flags.yes && ctx.io.stdin?.isTTY === true) {
      const question = `Downgrade ${preview.pluginId} ${move(preview)} on ${database}? Its newer migrations are rolled back. [y/N] `;
      const confirmed = await (ctx.io.confirm ?? ((q: string) => askOnTerminal(ctx, q)))(question);
      if (!confirmed) throw new InstallCancelledError();
    }

    const progress = installProgress(out);
    let result: InstallResult;
    try {
      result = await withConnection(settings, dialect, false, (connection) =>
        installPackage({ ...base, connection, onEvent: progress.onEvent }),
      );
    } finally {
      progress.stop();
    }
    return reportInstall(ctx, result, database, extra);
  } finally {
    await pkg.dispose();
  }
}

async function withConnection<T>(
  settings: Settings,
  dialect: Awaited<ReturnType<typeof dialectFor>>,
  readOnly: boolean,
  fn: (connection: InstallOptions['connection']) => Promise<T>,
): Promise<T> {
  const db = await openDatabase(dialect, settings, { readOnly });
  try {
    return await fn(db.connection);
  } finally {
    await closeQuietly(db);
  }
}

/** Prints a finished install: a line per migration, the data, and the outcome; returns the exit code. */
function reportInstall(
  ctx: CommandContext,
  result: InstallResult,
  database: string,
  extra: Record<string, unknown>,
): number {
  const { out } = ctx;
  const { c } = out;
  out.emitJson(installJson(result, extra));
  if (result.backup) out.line(c.dim(`backup: ${result.backup.location}`));
  out.lines(renderResults(c, result.migrations));
  if (result.data) {
    out.line(
      `data: ${plural(result.data.written, 'row')} imported into ${plural(result.data.tables.length, 'table')}`,
    );
  }
  out.line();
  const total = result.migrations.reduce((sum, r) => sum + r.durationMs, 0) + (result.data?.durationMs ?? 0);
  if (result.error === undefined) {
    const verb = result.action === 'none' ? 'Installed' : ACTION_DONE[result.action];
    out.line(
      `${c.green(verb)} ${c.bold(result.pluginId)} ${move(result)} on ${database} in ${formatDuration(total)}`,
    );
    out.line(`  signer: ${keyText(c, result, true)}`);
    return ExitCode.Ok;
  }
  if (result.restored) {
    out.line(
      `${c.red('Install failed')}: the database was restored (${result.pluginId} is still at ${result.fromVersion ?? 'nothing installed'} on ${database})`,
    );
  } else {
    out.line(
      `${c.red('Install failed')}, and undoing it failed too: ${database} is not as it was (see the error details)`,
    );
  }
  out.error(result.error);
  return exitCodeFor(result.error);
}
