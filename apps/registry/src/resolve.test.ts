import { isCmpkgError } from '@cmpkg/core';
import semver from 'semver';
import { describe, expect, it } from 'vitest';
import { isDistTagName, PreparedVersions, resolveVersion } from './resolve.js';
import type { Packument, VersionDocument } from './types.js';

/** A version document with only what resolution reads (deprecated/yanked); the rest is filler. */
function doc(version: string, marks: { deprecated?: string; yanked?: true } = {}): VersionDocument {
  return {
    name: 'sample',
    version,
    displayName: 'Sample',
    description: '',
    engines: ['sqlite'],
    requires: {},
    migrations: [],
    data: [],
    dist: {
      tarball: `http://r/sample/-/sample-${version}.cmpkg`,
      integrity: 'sha512-x',
      digest: 'sha256:x',
      size: 1,
      keyId: 'K',
    },
    publishedAt: '2025-01-01T00:00:00.000Z',
    publishedBy: 'alice',
    ...marks,
  };
}

function packument(versions: VersionDocument[], tags: Record<string, string>): Packument {
  return {
    name: 'sample',
    displayName: 'Sample',
    description: '',
    owner: 'alice',
    'dist-tags': tags,
    versions: Object.fromEntries(versions.map((v) => [v.version, v])),
    time: {},
    keys: [],
  };
}

const VERSIONS = [
  doc('1.0.0'),
  doc('1.0.1', { deprecated: 'broken, use 1.1.0' }),
  doc('1.1.0'),
  doc('1.2.0', { yanked: true }),
  doc('1.3.0-beta.1'),
  doc('2.0.0-beta.1'),
  doc('2.0.0-beta.2'),
  doc('2.0.0-rc.1'),
  doc('2.0.0'),
  doc('2.1.0', { deprecated: 'use 2.0.0' }),
  doc('3.0.0', { yanked: true }),
];
const TAGS = { latest: '2.0.0', next: '2.0.0-rc.1', beta: '2.0.0-beta.2' };
const PACKUMENT = packument(VERSIONS, TAGS);

type Outcome = string | 'E_REGISTRY_NOT_FOUND' | 'E_REGISTRY_INVALID_RANGE' | 'E_REGISTRY_NO_MATCH';

/**
 * The contract's rules spelled with the semver package's own functions (maxSatisfying over filtered
 * lists), independently of resolve.ts's implementation.
 */
function reference(p: Packument, spec: string): Outcome {
  const all = Object.values(p.versions);
  if (all.some((v) => v.version === spec)) return spec;
  if (/^[A-Za-z][A-Za-z0-9._-]*$/.test(spec) && semver.validRange(spec) === null) {
    return p['dist-tags'][spec] ?? 'E_REGISTRY_NOT_FOUND';
  }
  if (semver.validRange(spec) === null) return 'E_REGISTRY_INVALID_RANGE';
  const live = all.filter((v) => !v.yanked);
  const fresh = live.filter((v) => v.deprecated === undefined).map((v) => v.version);
  const latest = p['dist-tags'].latest;
  if (latest !== undefined && fresh.includes(latest) && semver.satisfies(latest, spec)) return latest;
  return (
    semver.maxSatisfying(fresh, spec) ??
    semver.maxSatisfying(
      live.map((v) => v.version),
      spec,
    ) ??
    'E_REGISTRY_NO_MATCH'
  );
}

function outcome(p: Packument, spec: string): Outcome {
  try {
    return resolveVersion(p, spec).version;
  } catch (err) {
    if (isCmpkgError(err)) return err.code as Outcome;
    throw err;
  }
}

// [spec, expected, why]
const TABLE: [string, Outcome, string][] = [
  ['^1', '1.1.0', '1.2.0 is yanked, 1.3.0-beta.1 a prerelease, latest is 2.x'],
  ['~1.1', '1.1.0', 'tilde'],
  ['1.x', '1.1.0', 'x-range'],
  ['>=1.0.0 <2', '1.1.0', 'comparator set'],
  ['*', '2.0.0', 'latest satisfies and is not deprecated, though 2.1.0 is higher'],
  ['x', '2.0.0', '"x" is a range, not a tag'],
  ['X', '2.0.0', '"X" is a range, not a tag'],
  ['^2.0.0-beta', '2.0.0', 'latest satisfies'],
  ['>=2.0.0-rc.1', '2.0.0', 'latest satisfies; 3.0.0 is yanked'],
  ['2.0.0-beta.1 - 2.0.0-beta.2', '2.0.0-beta.2', 'prereleases named on the same tuple'],
  ['>2.0.0-beta.1 <2.0.0', '2.0.0-rc.1', 'prereleases between'],
  ['1.0.0 - 1.2', '1.1.0', 'hyphen range; 1.2.0 is yanked'],
  ['^1.0.1', '1.1.0', 'skips the deprecated 1.0.1'],
  ['~1.0.1', '1.0.1', 'only a deprecated version matches: npm falls back to it'],
  ['~2.1', '2.1.0', 'deprecated fallback'],
  ['1.0.1', '1.0.1', 'exact version, even deprecated'],
  ['1.2.0', '1.2.0', 'exact version, even yanked'],
  ['3.0.0', '3.0.0', 'exact version, even yanked'],
  ['=1.2.0', 'E_REGISTRY_NO_MATCH', 'a range never picks a yanked version'],
  ['^3', 'E_REGISTRY_NO_MATCH', 'the only 3.x is yanked'],
  ['>=4', 'E_REGISTRY_NO_MATCH', 'nothing that high'],
  ['^1.2', 'E_REGISTRY_NO_MATCH', '1.2.0 yanked, 1.3.0-beta.1 excluded (prerelease of another tuple)'],
  ['^1.3.0-beta.1', '1.3.0-beta.1', 'the range names that prerelease'],
  ['1.0.0 || 2.1.0', '1.0.0', 'union; 2.1.0 is deprecated'],
  ['^1 || ^2', '2.0.0', 'union containing latest'],
  ['<2.0.0', '1.1.0', 'prereleases of 2.0.0 are not included'],
  ['2', '2.0.0', 'partial version'],
  ['2.x.x', '2.0.0', 'x-range'],
  ['v1', '1.1.0', 'a "v" range, not a tag'],
  ['~>1', '1.1.0', 'loose tilde'],
  ['>1.0.0 <=1.1.0', '1.1.0', 'closed range'],
  ['=2.0.0', '2.0.0', 'range spelled as an equality'],
  ['latest', '2.0.0', 'dist-tag'],
  ['next', '2.0.0-rc.1', 'dist-tag'],
  ['beta', '2.0.0-beta.2', 'dist-tag'],
  ['canary', 'E_REGISTRY_NOT_FOUND', 'absent dist-tag'],
  ['latest-1', 'E_REGISTRY_NOT_FOUND', 'tag-shaped, absent'],
  ['1.2.3.4', 'E_REGISTRY_INVALID_RANGE', 'four parts'],
  ['^^1', 'E_REGISTRY_INVALID_RANGE', 'double caret'],
  ['>=1.0.0 <', 'E_REGISTRY_INVALID_RANGE', 'dangling comparator'],
  ['not a range!', 'E_REGISTRY_INVALID_RANGE', 'words'],
  ['>=a', 'E_REGISTRY_INVALID_RANGE', 'comparator without a version'],
];

describe('resolveVersion', () => {
  it('has a table of at least 30 specs', () => {
    expect(TABLE.length).toBeGreaterThanOrEqual(30);
  });

  it.each(TABLE)('%s → %s (%s)', (spec, expected) => {
    expect(reference(PACKUMENT, spec)).toBe(expected);
    expect(outcome(PACKUMENT, spec)).toBe(expected);
  });

  it('says how each version was chosen', () => {
    expect(resolveVersion(PACKUMENT, '1.0.0').by).toBe('version');
    expect(resolveVersion(PACKUMENT, 'next').by).toBe('tag');
    expect(resolveVersion(PACKUMENT, '^1').by).toBe('range');
    const hit = resolveVersion(PACKUMENT, '~1.0.1');
    expect(hit.document.deprecated).toBe('broken, use 1.1.0');
  });

  it('does not prefer a deprecated latest', () => {
    const p = packument(VERSIONS, { latest: '2.1.0' });
    expect(outcome(p, '^2')).toBe('2.0.0');
    expect(reference(p, '^2')).toBe('2.0.0');
  });

  it('resolves without a latest tag (only prereleases published)', () => {
    const p = packument([doc('1.0.0-alpha.1'), doc('1.0.0-alpha.2')], {});
    expect(outcome(p, 'latest')).toBe('E_REGISTRY_NOT_FOUND');
    expect(outcome(p, '^1.0.0-alpha.1')).toBe('1.0.0-alpha.2');
    expect(outcome(p, '*')).toBe('E_REGISTRY_NO_MATCH');
  });

  it('names the plugin, the spec and what is published in its errors', () => {
    expect(() => resolveVersion(PACKUMENT, 'canary')).toThrow('no dist-tag "canary" for sample');
    expect(() => resolveVersion(PACKUMENT, '>=4')).toThrow(
      /no version of sample satisfies ">=4" \(published: 2\.1\.0, 2\.0\.0/,
    );
    expect(() => resolveVersion(PACKUMENT, '^^1')).toThrow(
      /"\^\^1" is neither a version, a dist-tag name nor a valid semver range/,
    );
  });

  it('gives the same answers from a prepared packument, many times over', () => {
    const prepared = new PreparedVersions(PACKUMENT);
    for (const [spec, expected] of TABLE) {
      if (expected.startsWith('E_')) continue;
      expect(prepared.resolve(spec).version).toBe(expected);
      expect(prepared.resolve(spec).version).toBe(expected);
    }
  });
});

describe('isDistTagName', () => {
  it.each([
    ['latest', true],
    ['next', true],
    ['beta', true],
    ['release-1.x', true],
    ['x', false],
    ['X', false],
    ['v1', false],
    ['1.0.0', false],
    ['-dash', false],
    ['', false],
    ['a'.repeat(101), false],
  ])('%s → %s', (name, expected) => {
    expect(isDistTagName(name)).toBe(expected);
  });
});
