import { type Engine, RISK_LEVELS, type RiskLevel } from '@cmpkg/core';
import { type OpenPackageOptions, openPackage } from './archive-reader.js';
import type { PackageManifest } from './manifest.js';

/**
 * What {@link inspectPackage} reports about a verified package.
 *
 * @example
 * const report: PackageInspection = await inspectPackage('sample-1.0.0.cmpkg');
 * console.log(report.plugin.id, report.maxRisk);
 */
export interface PackageInspection {
  file: string;
  /** Archive bytes. */
  size: number;
  /** `sha256:<hex>` of the archive. */
  digest: string;
  /** `sha512-<base64>` of the archive. */
  integrity: string;
  plugin: PackageManifest['plugin'];
  engines: Engine[];
  requires: Record<string, string>;
  /** `trusted`: true/false against `trustedKeys` (false is never returned: an untrusted signer is refused), null when none were given. */
  signer: { keyId: string; publicKey: string; trusted: boolean | null };
  createdAt: string;
  createdBy: string;
  /** In the packed (planner) order. `reversible`: it has down steps and no up step is marked rollbackSupported: false. */
  migrations: Array<{
    id: string;
    version: string;
    name: string;
    type: string;
    riskLevel: RiskLevel;
    requiresBackup: boolean;
    steps: { up: number; down: number };
    reversible: boolean;
    path: string;
  }>;
  /** The highest riskLevel of the migrations; null for a package without migrations. */
  maxRisk: RiskLevel | null;
  /** Row counts and columns from the signed manifest; `size` in bytes. */
  data: Array<{ table: string; rows: number; columns: string[]; path: string; size: number }>;
  files: PackageManifest['files'];
}

/**
 * Opens a package with full verification (exactly as {@link openPackage}, same errors), loads its
 * migrations (checksums checked: E_PKG_CHECKSUM), reports what it holds, and removes the extracted
 * files again. What `cmpkg inspect` prints.
 *
 * @example
 * const report = await inspectPackage('sample-1.0.0.cmpkg', { trustedKeys: [key] });
 * for (const m of report.migrations) console.log(m.id, m.riskLevel);
 */
export async function inspectPackage(
  source: string,
  options: OpenPackageOptions = {},
): Promise<PackageInspection> {
  const pkg = await openPackage(source, options);
  try {
    const plugin = await pkg.loadPlugin();
    const { manifest } = pkg;
    const sizes = new Map(manifest.files.map((f) => [f.path, f.size]));
    const migrations = plugin.migrations.map((m, i) => ({
      id: m.id,
      version: m.version,
      name: m.name,
      type: m.type,
      riskLevel: m.riskLevel,
      requiresBackup: m.requiresBackup,
      steps: { up: m.steps.up.length, down: m.steps.down.length },
      reversible: m.steps.down.length > 0 && m.steps.up.every((s) => s.rollbackSupported !== false),
      path: manifest.migrations[i]?.path ?? '',
    }));
    let maxRisk: RiskLevel | null = null;
    for (const m of migrations) {
      if (maxRisk === null || RISK_LEVELS.indexOf(m.riskLevel) > RISK_LEVELS.indexOf(maxRisk))
        maxRisk = m.riskLevel;
    }
    return {
      file: pkg.file,
      size: pkg.size,
      digest: pkg.digest,
      integrity: pkg.integrity,
      plugin: manifest.plugin,
      engines: manifest.engines,
      requires: manifest.requires,
      signer: {
        keyId: manifest.signer.keyId,
        publicKey: manifest.signer.publicKey,
        trusted: options.trustedKeys === undefined ? null : pkg.trusted,
      },
      createdAt: manifest.createdAt,
      createdBy: manifest.createdBy,
      migrations,
      maxRisk,
      data: manifest.data.map((d) => ({
        table: d.table,
        rows: d.rows,
        columns: d.columns.map((c) => c.name),
        path: d.path,
        size: sizes.get(d.path) ?? 0,
      })),
      files: manifest.files,
    };
  } finally {
    await pkg.dispose();
  }
}
