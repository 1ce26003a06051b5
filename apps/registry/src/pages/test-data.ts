/**
 * Plain registry documents for the page tests, built in code so each test states the data it shows.
 * Not part of the package: only the *.test.ts files import it.
 */
import type { Packument, PluginSummary, SearchPage, VersionDocument } from '../types.js';

/**
 * Strings that break out of HTML text or attributes, or run script, when not escaped.
 *
 * @example
 * const hostile = packument({ name: 'evil', description: PAYLOADS.script });
 */
export const PAYLOADS = {
  script: '<script>alert(1)</script>',
  attribute: '"><img src=x onerror=alert(1)>',
  single: "'><svg onload=alert(1)>",
  backtick: '`onmouseover=alert(1)`',
  javascript: 'javascript:alert(1)',
} as const;

/** All payloads in one string, for fields that show text. */
export const ALL_PAYLOADS = Object.values(PAYLOADS).join(' ');

/**
 * A version document with sensible defaults.
 *
 * @example
 * const doc = versionDoc('sample', '1.0.0', { engines: ['sqlite'] });
 */
export function versionDoc(
  name: string,
  version: string,
  overrides: Partial<VersionDocument> = {},
): VersionDocument {
  return {
    name,
    version,
    displayName: 'Sample knowledge base',
    description: 'Entries, tags and categories',
    engines: ['sqlite', 'postgresql'],
    requires: {},
    migrations: [
      {
        id: '0001_create_entries',
        version: '1.0.0',
        name: 'Create entries',
        description: 'The entries table',
        risk: 'low',
        reversible: true,
      },
    ],
    data: [],
    dist: {
      tarball: `http://registry.test/${name}/-/${name}-${version}.cmpkg`,
      integrity: 'sha512-AAAA',
      digest: `sha256:${'a'.repeat(64)}`,
      size: 2048,
      keyId: '0123456789ABCDEF',
    },
    publishedAt: '2025-01-02T03:04:05.000Z',
    publishedBy: 'alice',
    ...overrides,
  };
}

/**
 * A packument made of the given versions; `latest` is the `latest` dist-tag (omit it with null).
 *
 * @example
 * const doc = packument('sample', [versionDoc('sample', '1.0.0')], { latest: '1.0.0' });
 */
export function packument(
  name: string,
  versions: VersionDocument[],
  options: { latest?: string | null; overrides?: Partial<Packument> } = {},
): Packument {
  const latest = options.latest === undefined ? versions.at(-1)?.version : options.latest;
  const time: Record<string, string> = {
    created: versions[0]?.publishedAt ?? '2025-01-01T00:00:00.000Z',
    modified: versions.at(-1)?.publishedAt ?? '2025-01-01T00:00:00.000Z',
  };
  for (const v of versions) time[v.version] = v.publishedAt;
  return {
    name,
    displayName: versions.at(-1)?.displayName ?? name,
    description: versions.at(-1)?.description ?? '',
    owner: 'alice',
    'dist-tags': latest === null || latest === undefined ? {} : { latest },
    versions: Object.fromEntries(versions.map((v) => [v.version, v])),
    time,
    keys: [
      {
        keyId: '0123456789ABCDEF',
        publicKey: 'RWQBI0VniavN7wAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
        addedAt: '2025-01-02T03:04:05.000Z',
        addedBy: 'alice',
      },
    ],
    ...options.overrides,
  };
}

/**
 * A search summary with sensible defaults.
 *
 * @example
 * const row = summary('sample', { version: '1.1.0' });
 */
export function summary(name: string, overrides: Partial<PluginSummary> = {}): PluginSummary {
  return {
    name,
    displayName: `${name} display`,
    description: `About ${name}`,
    version: '1.0.0',
    date: '2025-02-03T04:05:06.000Z',
    owner: 'alice',
    engines: ['sqlite'],
    ...overrides,
  };
}

/**
 * A search page holding `summaries`, claiming `total` matches in all.
 *
 * @example
 * const page = searchPage([summary('a')], 1);
 */
export function searchPage(summaries: PluginSummary[], total = summaries.length): SearchPage {
  return {
    objects: summaries.map((s) => ({ package: s, score: { final: 1 } })),
    total,
    time: '2025-03-01T00:00:00.000Z',
  };
}

// Every tag and attribute the pages emit; anything else in the output was injected.
const TAGS = new Set([
  '!doctype',
  'html',
  'head',
  'meta',
  'title',
  'style',
  'body',
  'header',
  'a',
  'form',
  'label',
  'input',
  'button',
  'main',
  'h1',
  'h2',
  'p',
  'ol',
  'li',
  'div',
  'span',
  'code',
  'pre',
  'time',
  'nav',
  'table',
  'thead',
  'tbody',
  'tr',
  'th',
  'td',
  'dl',
  'dt',
  'dd',
]);
const ATTRIBUTES = new Set([
  'lang',
  'charset',
  'name',
  'content',
  'class',
  'href',
  'method',
  'action',
  'role',
  'for',
  'id',
  'type',
  'value',
  'placeholder',
  'maxlength',
  'start',
  'datetime',
  'title',
  'rel',
  'scope',
  'aria-label',
]);

/**
 * Every tag, attribute and link target in `html` that the pages do not emit themselves: an empty
 * result means no payload turned into markup. Parses the way the templates write markup (attribute
 * values double-quoted, which the escaper makes safe), so a quote that escaped would show up as a
 * strange attribute or tag here.
 *
 * @example
 * expect(foreignMarkup(renderPluginPage({ packument: hostile, origin }))).toEqual([]);
 */
export function foreignMarkup(html: string): string[] {
  const found: string[] = [];
  const withoutStyle = html.replace(/<style>[^<]*<\/style>/, '<style></style>');
  for (const match of withoutStyle.matchAll(/<\/?([^\s>/]+)([^>]*)>/g)) {
    const tag = match[1]!.toLowerCase();
    if (!TAGS.has(tag)) found.push(`tag <${tag}>`);
    const rest = match[2]!;
    // Take attributes off one by one: name="value" (value without quotes) or a bare name.
    const attributes = rest.replace(/\s([a-zA-Z-]+)="([^"]*)"/g, (_all, name: string, value: string) => {
      if (!ATTRIBUTES.has(name.toLowerCase())) found.push(`attribute ${name} on <${tag}>`);
      if ((name === 'href' || name === 'action') && !/^(https?:\/\/|\/|#$)/.test(value)) {
        found.push(`link ${name}="${value}"`);
      }
      return '';
    });
    const leftover = tag === '!doctype' ? attributes.replace(/^\s*html\s*$/, '') : attributes.trim();
    if (leftover !== '') found.push(`unparsed "${leftover}" in <${tag}>`);
  }
  // Text with a raw `<`, `>` or `"` that is not part of a tag would mean something went unescaped.
  const text = withoutStyle.replace(/<\/?[^\s>/]+[^>]*>/g, '');
  if (/[<>"`]/.test(text)) found.push(`raw character in text: ${text.match(/.{0,30}[<>"`].{0,30}/)?.[0]}`);
  return found;
}
