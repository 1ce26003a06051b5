import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import {
  type BulkColumn,
  type Connection,
  type Dialect,
  ENGINES,
  type Engine,
  ID_PATTERN,
  isCmpkgError,
  type Migration,
  orderMigrations,
  PackageError,
  type Plugin,
  parseDependency,
  sha256Hex,
} from '@cmpkg/core';
import { exportTables } from '@cmpkg/transform';
import semver from 'semver';
import { type ArchiveEntry, writeArchive } from './archive-writer.js';
import type { KeyPair } from './keys.js';
import {
  CREATED_BY,
  compareEntryPaths,
  dataEntryPath,
  MANIFEST_ENTRY,
  migrationEntryPath,
  PACKAGE_FORMAT,
  type PackageManifest,
  packageFileName,
  README_ENTRY,
  ROTATION_ENTRY,
  SIGNATURE_ENTRY,
  serializeManifest,
  TABLE_NAME_PATTERN,
  trustedCommentFor,
} from './manifest.js';
import { toPortableDocument } from './migration-document.js';
import type { RotationStatement } from './rotation.js';
import { signMessage } from './signature.js';

/**
 * Options of {@link packPlugin}.
 *
 * @example
 * const options: PackOptions = { plugin, key, outDir: 'dist', data: { db: { dialect, connection }, tables: ['categories'] } };
 */
export interface PackOptions {
  /** From core loadPlugin (the CLI loads it from cmpkg.config.json). */
  plugin: Plugin;
  key: KeyPair;
  /** Pack as this version (default plugin.version): only migrations whose version <= it; a higher one is left out. */
  version?: string;
  /** Output file (default `<outDir>/<id>-<version>.cmpkg`, outDir default cwd). Written atomically (temp + rename). */
  out?: string;
  outDir?: string;
  /** Export these tables from `db` into data/<table>.ndjson (rows in key order so output is reproducible). */
  data?: { db: { dialect: Dialect; connection: Connection }; tables: string[] };
  /** Path of a README.md to include. */
  readme?: string;
  requires?: Record<string, string>;
  /** Default: the engines every packed migration supports ([] in a migration = all). */
  engines?: Engine[];
  /** Included as rotation.json. */
  rotation?: RotationStatement[];
  /** Default: SOURCE_DATE_EPOCH, else the newest createdAt/updatedAt/timestamp of the packed migrations, else 1970-01-01T00:00:00.000Z. */
  createdAt?: string;
}

/**
 * What {@link packPlugin} wrote.
 *
 * @example
 * const { file, digest } = await packPlugin({ plugin, key });
 */
export interface PackResult {
  file: string;
  manifest: PackageManifest;
  size: number;
  /** `sha256:<hex>` of the archive. */
  digest: string;
  /** `sha512-<base64>` of the archive. */
  integrity: string;
  keyId: string;
}

function inputError(message: string, details: Record<string, unknown> = {}, cause?: unknown): PackageError {
  return new PackageError('E_PACK_INPUT', message, { details, ...(cause !== undefined ? { cause } : {}) });
}

/** The migrations a package of `version` carries, in the planner's order (dependencies first). */
function migrationsToPack(plugin: Plugin, version: string): Migration[] {
  for (const m of plugin.migrations) {
    if (m.pluginId !== '' && m.pluginId !== plugin.id) {
      throw inputError(`migration "${m.id}" belongs to plugin "${m.pluginId}", not "${plugin.id}"`, {
        migration: m.id,
      });
    }
  }
  const included = plugin.migrations.filter((m) => semver.lte(m.version, version));
  const ids = new Set(included.map((m) => m.id));
  const all = new Set(plugin.migrations.map((m) => m.id));
  for (const m of included) {
    for (const ref of m.dependencies) {
      const dep = parseDependency(ref, plugin.id);
      if (dep.pluginId !== plugin.id || ids.has(dep.migrationId)) continue;
      throw inputError(
        all.has(dep.migrationId)
          ? `migration "${m.id}" depends on "${dep.migrationId}", whose version is above ${version} and so is not packed`
          : `migration "${m.id}" depends on "${dep.migrationId}", which plugin "${plugin.id}" does not have`,
        { migration: m.id, dependency: ref },
      );
    }
  }
  // The planner's order, so NNNN in migrations/NNNN-<id>.json is the order they run in on a fresh install.
  try {
    return orderMigrations(included.map((m) => (m.pluginId === '' ? { ...m, pluginId: plugin.id } : m)));
  } catch (err) {
    throw inputError(
      `cannot order the migrations: ${err instanceof Error ? err.message : String(err)}`,
      {},
      err,
    );
  }
}

function packEngines(migrations: readonly Migration[], given: readonly Engine[] | undefined): Engine[] {
  if (given !== undefined) {
    for (const e of given) {
      if (!(ENGINES as readonly string[]).includes(e)) {
        throw inputError(`unknown engine "${e}"; engines are ${ENGINES.join(', ')}`, { engine: e });
      }
    }
    const engines = ENGINES.filter((e) => given.includes(e));
    if (engines.length === 0) throw inputError('engines: name at least one engine the package supports');
    return engines;
  }
  const engines = ENGINES.filter((e) =>
    migrations.every((m) => m.databaseEngines.length === 0 || m.databaseEngines.includes(e)),
  );
  if (engines.length === 0) {
    throw inputError('the packed migrations have no database engine in common; give the engines explicitly');
  }
  return engines;
}

function packCreatedAt(migrations: readonly Migration[], given: string | undefined): string {
  if (given !== undefined) {
    const time = Date.parse(given);
    if (Number.isNaN(time))
      throw inputError(`createdAt "${given}" is not an ISO-8601 date`, { createdAt: given });
    return new Date(time).toISOString();
  }
  const epoch = process.env.SOURCE_DATE_EPOCH;
  if (epoch !== undefined && epoch !== '') {
    if (!/^\d+$/.test(epoch)) {
      throw inputError(`SOURCE_DATE_EPOCH "${epoch}" is not a number of seconds`, {
        SOURCE_DATE_EPOCH: epoch,
      });
    }
    return new Date(Number(epoch) * 1000).toISOString();
  }
  let newest: number | undefined;
  for (const m of migrations) {
    for (const value of [m.createdAt, m.updatedAt]) {
      const time = value === undefined ? Number.NaN : Date.parse(value);
      if (!Number.isNaN(time) && (newest === undefined || time > newest)) newest = time;
    }
  }
  return new Date(newest ?? 0).toISOString();
}

function checkRequires(requires: Record<string, string>): Record<string, string> {
  for (const [id, range] of Object.entries(requires)) {
    if (!ID_PATTERN.test(id)) throw inputError(`requires: "${id}" is not a plugin id`, { plugin: id });
    if (semver.validRange(range) === null) {
      throw inputError(`requires: "${range}" (for ${id}) is not a semver range`, { plugin: id, range });
    }
  }
  return requires;
}

function rotationText(statements: readonly RotationStatement[], pluginId: string, key: KeyPair): string {
  statements.forEach((s, i) => {
    if (s.plugin !== pluginId) {
      throw inputError(`rotation[${i}] is for plugin "${s.plugin}", not "${pluginId}"`, { index: i });
    }
  });
  const last = statements[statements.length - 1];
  if (last !== undefined && last.to !== key.encoded) {
    throw inputError(
      `the rotation chain ends at another key than the signing key ${key.keyId}; a package carries the statements that lead to its signer`,
    );
  }
  const ordered = statements.map(({ format, plugin, from, to, createdAt, signature }) => ({
    format,
    plugin,
    from,
    to,
    createdAt,
    signature,
  }));
  return `${JSON.stringify(ordered, null, 2)}\n`;
}

interface DataEntry {
  manifest: PackageManifest['data'][number];
  /** The exported file; its size and sha256 are exportTables' (the writer fails an entry whose size differs). */
  file: { path: string; size: number; sha256: string; source: string };
}

async function exportData(options: NonNullable<PackOptions['data']>, dir: string): Promise<DataEntry[]> {
  const seen = new Set<string>();
  for (const table of options.tables) {
    if (!TABLE_NAME_PATTERN.test(table)) {
      throw inputError(
        `data table "${table}": a packed table name is letters, digits, "_", "-" and "." (it becomes data/<table>.ndjson)`,
        { table },
      );
    }
    if (seen.has(table.toLowerCase())) throw inputError(`data table "${table}" is named twice`, { table });
    seen.add(table.toLowerCase());
  }
  const out = join(dir, 'data');
  // exportTables reads every table in key order, so the same rows export to the same bytes.
  const report = await exportTables({ db: options.db, tables: [...options.tables], out });
  const entries: DataEntry[] = [];
  for (const t of report.tables) {
    const path = dataEntryPath(t.table);
    const columns: BulkColumn[] = t.columns.map((c) => ({ name: c.name, type: c.type }));
    entries.push({
      manifest: { table: t.table, path, format: 'ndjson', rows: t.rows, columns },
      file: { path, size: t.bytes, sha256: t.sha256, source: join(out, t.file) },
    });
  }
  return entries;
}

/**
 * Packs a plugin into a signed, reproducible `.cmpkg`: its migrations with version ≤ `version`
 * (default the plugin's) as `migrations/NNNN-<id>.json` in the planner's order (dependencies first,
 * then version, then id — not file order), the exported `data` tables as `data/<table>.ndjson`
 * (rows in key order), an optional README and rotation statements; the manifest lists every file
 * with its size and sha256 and is signed with `key` (trusted comment
 * `cmpkg/1 <id>@<version> sha256:<hex of cmpkg.json>`). The archive is written to
 * `<out>.tmp-<random>` and renamed into place; on any failure neither it nor the temporary export is
 * left behind. Same inputs (and SOURCE_DATE_EPOCH / createdAt) → byte-identical archives.
 *
 * Throws `E_PACK_INPUT` for code steps, an invalid version, a packed migration depending on one that
 * is left out, unreadable inputs, unusable table names, rotation statements of another plugin.
 *
 * @example
 * const plugin = await loadPlugin({ dir: 'migrations', id: 'sample', version: '1.0.0' });
 * const result = await packPlugin({ plugin, key: await readSecretKey('publisher.key'), outDir: 'dist' });
 * console.log(result.file, result.digest);
 */
export async function packPlugin(options: PackOptions): Promise<PackResult> {
  const { plugin, key } = options;
  if (!ID_PATTERN.test(plugin.id)) {
    throw inputError(`plugin id "${plugin.id}" must match [a-z0-9][a-z0-9._-]* (lower-case)`, {
      plugin: plugin.id,
    });
  }
  const version = options.version ?? plugin.version;
  if (semver.valid(version) === null) {
    throw inputError(`version "${version}" is not a semver version`, { version });
  }
  const migrations = migrationsToPack(plugin, version);
  if (migrations.length === 0 && (options.data?.tables.length ?? 0) === 0) {
    throw inputError(`nothing to pack: plugin "${plugin.id}" has no migration with a version <= ${version}`, {
      version,
    });
  }
  const engines = packEngines(migrations, options.engines);
  const createdAt = packCreatedAt(migrations, options.createdAt);
  const requires = checkRequires(options.requires ?? {});

  const entries: ArchiveEntry[] = [];
  const files: PackageManifest['files'] = [];
  const add = (entry: ArchiveEntry, size: number, sha256: string) => {
    entries.push(entry);
    files.push({ path: entry.path, size, sha256 });
  };
  const addBytes = (path: string, data: Uint8Array) => add({ path, data }, data.byteLength, sha256Hex(data));

  const packedMigrations: PackageManifest['migrations'] = migrations.map((m, i) => {
    const path = migrationEntryPath(i + 1, m.id);
    addBytes(path, new TextEncoder().encode(toPortableDocument(m)));
    return { id: m.id, version: m.version, path, checksum: m.checksum };
  });

  if (options.readme !== undefined) {
    let readme: Uint8Array;
    try {
      readme = await readFile(options.readme);
    } catch (err) {
      throw inputError(
        `cannot read the README ${options.readme}: ${err instanceof Error ? err.message : String(err)}`,
        { file: options.readme },
        err,
      );
    }
    addBytes(README_ENTRY, readme);
  }
  if (options.rotation !== undefined && options.rotation.length > 0) {
    addBytes(ROTATION_ENTRY, new TextEncoder().encode(rotationText(options.rotation, plugin.id, key)));
  }

  const out = resolve(
    options.out ??
      join(options.outDir ?? process.cwd(), packageFileName({ plugin: { id: plugin.id, version } })),
  );
  let work: string | undefined;
  try {
    const data: PackageManifest['data'] = [];
    if (options.data !== undefined && options.data.tables.length > 0) {
      work = await mkdtemp(join(tmpdir(), 'cmpkg-pack-'));
      for (const entry of await exportData(options.data, work)) {
        data.push(entry.manifest);
        add(
          { path: entry.file.path, file: entry.file.source, size: entry.file.size },
          entry.file.size,
          entry.file.sha256,
        );
      }
    }
    entries.sort((a, b) => compareEntryPaths(a.path, b.path));
    files.sort((a, b) => compareEntryPaths(a.path, b.path));

    const manifest: PackageManifest = {
      format: PACKAGE_FORMAT,
      plugin: {
        id: plugin.id,
        version,
        ...(plugin.name !== undefined ? { name: plugin.name } : {}),
        ...(plugin.description !== undefined ? { description: plugin.description } : {}),
      },
      engines,
      requires,
      migrations: packedMigrations,
      data,
      files,
      signer: { keyId: key.keyId, publicKey: key.encoded },
      createdAt,
      createdBy: CREATED_BY,
    };
    const manifestBytes = serializeManifest(manifest);
    const signature = signMessage(manifestBytes, key, {
      trustedComment: trustedCommentFor(manifest, sha256Hex(manifestBytes)),
    });
    await mkdir(dirname(out), { recursive: true });
    const written = await writeArchive(
      out,
      [
        { path: MANIFEST_ENTRY, data: manifestBytes },
        { path: SIGNATURE_ENTRY, data: new TextEncoder().encode(signature) },
        ...entries,
      ],
      { mtime: createdAt },
    );
    return {
      file: out,
      manifest,
      size: written.size,
      digest: written.digest,
      integrity: written.integrity,
      keyId: key.keyId,
    };
  } catch (err) {
    if (isCmpkgError(err)) throw err;
    throw inputError(
      `cannot pack ${out}: ${err instanceof Error ? err.message : String(err)}`,
      { file: out },
      err,
    );
  } finally {
    if (work !== undefined) await rm(work, { recursive: true, force: true });
  }
}
