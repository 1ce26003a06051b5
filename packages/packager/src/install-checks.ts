import type { Engine, HistoryStore, InstalledPluginRecord } from '@cmpkg/core';
import { PackageError } from '@cmpkg/core';
import semver from 'semver';
import { type PublicKey, parsePublicKey, samePublicKey } from './keys.js';
import type { RotationStatement } from './rotation.js';
import { verifyKeyChange } from './rotation.js';

/**
 * What the trust check decided about the package's signer.
 *
 * @example
 * const t: TrustDecision = { pinned: true, rotated: false, chain: [] }; // a first install
 */
export interface TrustDecision {
  /** The signer becomes (or stays newly) the pinned key: a first install, or a verified rotation. */
  pinned: boolean;
  /** The signer differs from the pinned key and a rotation chain moved the pin to it. */
  rotated: boolean;
  /** The rotation statements used, pinned key first (empty when no rotation was needed). */
  chain: RotationStatement[];
}

/**
 * Decides whether the signer of a package may install it, given the key pinned for the plugin in
 * `cmpkg_plugins.key_id` (the minisign base64 line, `PublicKey.encoded`). No record, or a record
 * without a key (migrated from files): the signer is pinned (trust on first use). The pinned key:
 * accepted. Another key: only through rotation statements signed by the pinned key
 * (`verifyKeyChange`, `E_UNTRUSTED_KEY` / `E_ROTATION_INVALID`). A `trustKey` (from `--trust-key`)
 * must be the signer whatever is pinned.
 *
 * @example
 * const trust = decideTrust({ pluginId: 'kb', file: 'kb-1.1.0.cmpkg', installed, signer: pkg.signer, statements: pkg.rotation });
 * if (trust.rotated) console.log('key rotated to', pkg.signer.keyId);
 */
export function decideTrust(options: {
  pluginId: string;
  /** The archive, for messages. */
  file: string;
  installed: InstalledPluginRecord | null;
  signer: PublicKey;
  trustKey?: PublicKey;
  statements: readonly RotationStatement[];
}): TrustDecision {
  const { pluginId, file, installed, signer, trustKey } = options;
  if (trustKey && !samePublicKey(trustKey, signer)) {
    throw new PackageError(
      'E_UNTRUSTED_KEY',
      `${file}: signed by key ${signer.keyId}, but the trusted key given is ${trustKey.keyId}`,
      { details: { file, pluginId, signerKeyId: signer.keyId, trustedKeyId: trustKey.keyId } },
    );
  }
  if (!installed?.keyId) return { pinned: true, rotated: false, chain: [] };
  const pinned = parsePublicKey(installed.keyId, `cmpkg_plugins.key_id of plugin "${pluginId}"`);
  if (samePublicKey(pinned, signer)) return { pinned: false, rotated: false, chain: [] };
  const chain = verifyKeyChange({ pluginId, pinned, signer, statements: options.statements });
  return { pinned: true, rotated: true, chain };
}

/**
 * Checks a package's `requires` (plugin id → semver range) against the installed plugins; every
 * unmet requirement is named in one `E_REQUIRES_UNMET` (plugin, range, installed version or none).
 * Prereleases only satisfy a range that names one (`includePrerelease: false`, npm's rule).
 *
 * @example
 * await checkRequires({ store, file: 'kb-1.0.0.cmpkg', pluginId: 'kb', requires: { auth: '^2.0.0' } });
 */
export async function checkRequires(options: {
  store: HistoryStore;
  file: string;
  pluginId: string;
  requires: Readonly<Record<string, string>>;
}): Promise<void> {
  const { store, file, pluginId } = options;
  const unmet: Array<{ plugin: string; range: string; installed: string | null }> = [];
  for (const [plugin, range] of Object.entries(options.requires)) {
    const installed = (await store.readPlugin(plugin))?.version ?? null;
    if (installed === null || !semver.satisfies(installed, range, { includePrerelease: false })) {
      unmet.push({ plugin, range, installed });
    }
  }
  if (unmet.length === 0) return;
  const text = unmet
    .map(
      (u) =>
        `"${u.plugin}" ${u.range} (${u.installed === null ? 'not installed' : `installed: ${u.installed}`})`,
    )
    .join(', ');
  throw new PackageError('E_REQUIRES_UNMET', `${file}: plugin "${pluginId}" requires ${text}`, {
    details: { file, pluginId, unmet },
  });
}

/**
 * Refuses a package that does not list the connected engine in `engines`.
 *
 * @example
 * checkEngine({ file: 'kb-1.0.0.cmpkg', engines: ['postgresql'], engine: 'sqlite' }); // throws E_ENGINE_UNSUPPORTED
 */
export function checkEngine(options: { file: string; engines: readonly Engine[]; engine: Engine }): void {
  const { file, engines, engine } = options;
  if (engines.includes(engine)) return;
  throw new PackageError(
    'E_ENGINE_UNSUPPORTED',
    `${file}: the package supports ${engines.length > 0 ? engines.join(', ') : 'no engine'} (cmpkg.json field "engines"), not ${engine}`,
    { details: { file, field: 'engines', engines: [...engines], engine } },
  );
}

/**
 * What an install does, from the installed record and the package.
 *
 * @example
 * const a: InstallAction = 'upgrade';
 */
export type InstallAction = 'install' | 'upgrade' | 'downgrade' | 'none';

/**
 * Compares the installed version with the package's: nothing installed → `install`; newer →
 * `upgrade`; the same version from the same archive (digest) → `none` (`installPackage` still
 * applies any of its migrations rolled back since, as an `upgrade`); the same version with other
 * contents → `E_VERSION_CONFLICT`; older → `E_DOWNGRADE` unless `allowDowngrade`.
 *
 * @example
 * decideAction({ file, installed: null, version: '1.0.0', digest, allowDowngrade: false }); // 'install'
 */
export function decideAction(options: {
  file: string;
  pluginId: string;
  installed: InstalledPluginRecord | null;
  version: string;
  digest: string;
  allowDowngrade: boolean;
}): InstallAction {
  const { file, pluginId, installed, version, digest } = options;
  if (!installed) return 'install';
  const order = semver.compare(version, installed.version);
  if (order > 0) return 'upgrade';
  if (order === 0) {
    if (installed.packageDigest === digest) return 'none';
    throw new PackageError(
      'E_VERSION_CONFLICT',
      `${file}: plugin "${pluginId}" ${version} is already installed ` +
        (installed.packageDigest
          ? `from another archive (${installed.packageDigest}, this one is ${digest})`
          : 'from migration files, not from this package') +
        '; the same version number with other contents is refused',
      {
        details: { file, pluginId, version, installedDigest: installed.packageDigest, packageDigest: digest },
      },
    );
  }
  if (options.allowDowngrade) return 'downgrade';
  throw new PackageError(
    'E_DOWNGRADE',
    `${file}: plugin "${pluginId}" ${installed.version} is installed and this package is the older ${version}; ` +
      'allow the downgrade (--allow-downgrade) to roll back the newer migrations',
    { details: { file, pluginId, installed: installed.version, version } },
  );
}
