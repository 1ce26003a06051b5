import { RegistryError } from '@cmpkg/core';
import semver, { type SemVer } from 'semver';
import type { Packument, VersionDocument } from './types.js';

/**
 * Dist-tag names: a letter, then letters, digits, `.`, `_`, `-` (and never a valid range, see {@link isDistTagName}).
 *
 * @example
 * DIST_TAG_PATTERN.test('next'); // true
 */
export const DIST_TAG_PATTERN = /^[A-Za-z][A-Za-z0-9._-]*$/;

/**
 * Whether `spec` names a dist-tag rather than a range: `latest`, `next`, `beta` are tags; `x`, `X`
 * and `v1` are ranges (semver reads them as such), so they can never be tags.
 *
 * @example
 * isDistTagName('next'); // true
 * isDistTagName('x'); // false (a range)
 */
export function isDistTagName(spec: string): boolean {
  return spec.length <= 100 && DIST_TAG_PATTERN.test(spec) && semver.validRange(spec) === null;
}

/**
 * The outcome of {@link resolveVersion}: which version, its document, and which rule chose it.
 *
 * @example
 * const { version, by } = resolveVersion(packument, '^1'); // '1.1.0', 'range'
 */
export interface ResolveResult {
  version: string;
  document: VersionDocument;
  by: 'version' | 'tag' | 'range';
}

interface Candidate {
  version: string;
  parsed: SemVer;
  yanked: boolean;
  deprecated: boolean;
}

/**
 * A packument with its versions parsed and sorted once, for resolving many specs against it (the
 * registry keeps one per cached packument).
 *
 * @example
 * const prepared = new PreparedVersions(packument);
 * prepared.resolve('^1').version;
 */
export class PreparedVersions {
  readonly doc: Packument;
  /** Highest first. */
  readonly #sorted: Candidate[];

  constructor(doc: Packument) {
    this.doc = doc;
    const list: Candidate[] = [];
    for (const [version, document] of Object.entries(doc.versions)) {
      const parsed = semver.parse(version);
      if (parsed === null) continue;
      list.push({
        version,
        parsed,
        yanked: document.yanked === true,
        deprecated: document.deprecated !== undefined,
      });
    }
    this.#sorted = list.sort((a, b) => semver.rcompare(a.parsed, b.parsed));
  }

  /** Resolves `spec` by npm's rules (see {@link resolveVersion}). */
  resolve(spec: string): ResolveResult {
    const { doc } = this;
    const exact = Object.hasOwn(doc.versions, spec) ? doc.versions[spec] : undefined;
    if (exact !== undefined) return { version: spec, document: exact, by: 'version' };

    if (isDistTagName(spec)) {
      const tagged = Object.hasOwn(doc['dist-tags'], spec) ? doc['dist-tags'][spec] : undefined;
      const document = tagged === undefined ? undefined : doc.versions[tagged];
      if (tagged === undefined || document === undefined) {
        throw new RegistryError('E_REGISTRY_NOT_FOUND', `no dist-tag "${spec}" for ${doc.name}`, {
          details: { plugin: doc.name, tag: spec },
        });
      }
      return { version: tagged, document, by: 'tag' };
    }

    let range: semver.Range;
    try {
      range = new semver.Range(spec);
    } catch {
      throw new RegistryError(
        'E_REGISTRY_INVALID_RANGE',
        `"${spec}" is neither a version, a dist-tag name nor a valid semver range`,
        { details: { plugin: doc.name, spec } },
      );
    }
    const candidates = this.#sorted.filter((c) => !c.yanked && range.test(c.parsed));
    const latest = doc['dist-tags'].latest;
    const chosen =
      candidates.find((c) => c.version === latest && !c.deprecated) ??
      candidates.find((c) => !c.deprecated) ??
      candidates[0];
    if (chosen === undefined) {
      throw new RegistryError(
        'E_REGISTRY_NO_MATCH',
        `no version of ${doc.name} satisfies "${spec}" (published: ${this.#published()})`,
        { details: { plugin: doc.name, spec } },
      );
    }
    return { version: chosen.version, document: doc.versions[chosen.version]!, by: 'range' };
  }

  #published(): string {
    const shown = this.#sorted
      .filter((c) => !c.yanked)
      .slice(0, 10)
      .map((c) => c.version);
    if (shown.length === 0) return 'none that are not yanked';
    return shown.join(', ') + (this.#sorted.length > 10 ? ', …' : '');
  }
}

/**
 * Resolves a version spec against a packument with npm's rules:
 * 1. an exact published version → it (even yanked or deprecated);
 * 2. a dist-tag name → the version it points to (absent tag → E_REGISTRY_NOT_FOUND);
 * 3. not a valid range → E_REGISTRY_INVALID_RANGE;
 * 4. among the non-yanked versions that satisfy the range (prereleases only when the range names one
 *    on the same major.minor.patch): `latest` when it is one and not deprecated, else the highest
 *    non-deprecated, else the highest (deprecated) one; none → E_REGISTRY_NO_MATCH.
 *
 * @example
 * resolveVersion(packument, 'latest').version; // '2.0.0'
 * resolveVersion(packument, '>=1.0.0 <2').version; // '1.1.0'
 */
export function resolveVersion(doc: Packument, spec: string): ResolveResult {
  return new PreparedVersions(doc).resolve(spec);
}
