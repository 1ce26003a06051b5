import { readFile, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { Connection, Dialect, PackageMigrationDocument } from '@cmpkg/core';
import { PackageError } from '@cmpkg/core';
import {
  EXPORT_FORMAT,
  EXPORT_MANIFEST,
  type ExportManifest,
  type ImportReport,
  importTables,
  type ProgressEvent,
} from '@cmpkg/transform';
import type { PackageManifest } from './manifest.js';

/**
 * Imports a verified package's `data/*.ndjson` into the connected database with `importTables` in
 * `merge` mode (rows whose primary key exists are updated, so re-importing is idempotent). The
 * package's signed manifest becomes the `export.json` `importTables` reads (written into the
 * package's temp directory): columns, row counts and SHA-256 are checked again as the rows are read.
 * Runs inside the caller's transaction when there is one. Resolves `undefined` for a package without data.
 *
 * @example
 * const report = await importPackageData({ dir: pkg.dir, file: pkg.file, manifest: pkg.manifest, dialect, connection });
 */
export async function importPackageData(options: {
  dir: string;
  file: string;
  manifest: PackageManifest;
  dialect: Dialect;
  connection: Connection;
  onProgress?: (event: ProgressEvent) => void;
}): Promise<ImportReport | undefined> {
  const { manifest, dir, file } = options;
  if (manifest.data.length === 0) return undefined;
  const digests = new Map(manifest.files.map((f) => [f.path, f.sha256]));
  const exportManifest: ExportManifest = {
    format: EXPORT_FORMAT,
    createdAt: manifest.createdAt,
    source: basename(file),
    tables: manifest.data.map((d) => {
      const sha256 = digests.get(d.path);
      if (sha256 === undefined) {
        // The manifest schema already requires it; a second line of defence costs nothing.
        throw new PackageError(
          'E_PKG_MANIFEST',
          `${file}: cmpkg.json data entry ${d.path} is not listed in files`,
          {
            details: { file, entry: d.path },
          },
        );
      }
      return { table: d.table, file: basename(d.path), rows: d.rows, columns: d.columns, sha256 };
    }),
  };
  const dataDir = join(dir, 'data');
  await writeFile(join(dataDir, EXPORT_MANIFEST), `${JSON.stringify(exportManifest, null, 2)}\n`);
  return importTables({
    db: { dialect: options.dialect, connection: options.connection },
    input: dataDir,
    mode: 'merge',
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
  });
}

/**
 * The portable documents of a package's migrations, as `cmpkg_package_migrations` stores them: the
 * exact JSON text of each `migrations/NNNN-<id>.json` entry (already verified against the signed
 * manifest), keyed by migration id.
 *
 * @example
 * const docs = await packageDocuments({ dir: pkg.dir, manifest: pkg.manifest });
 * docs.get('0001_init')?.document;
 */
export async function packageDocuments(options: {
  dir: string;
  manifest: PackageManifest;
}): Promise<Map<string, PackageMigrationDocument>> {
  const { dir, manifest } = options;
  const out = new Map<string, PackageMigrationDocument>();
  for (const m of manifest.migrations) {
    out.set(m.id, {
      pluginId: manifest.plugin.id,
      migrationId: m.id,
      version: m.version,
      checksum: m.checksum,
      document: await readFile(join(dir, m.path), 'utf8'),
    });
  }
  return out;
}
