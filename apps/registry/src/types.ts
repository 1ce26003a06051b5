/**
 * One published version as the registry serves it (`GET /:plugin/:rangeOrTag`, and each entry of a
 * packument's `versions`).
 *
 * @example
 * const doc: VersionDocument = await (await fetch(`${url}/sample/%5E1`)).json();
 * console.log(doc.version, doc.dist.tarball, doc.deprecated ?? '');
 */
export interface VersionDocument {
  name: string;
  version: string;
  displayName: string;
  description: string;
  engines: string[];
  requires: Record<string, string>;
  migrations: MigrationSummary[];
  data: { table: string; rows: number }[];
  dist: { tarball: string; integrity: string; digest: string; size: number; keyId: string };
  publishedAt: string;
  publishedBy: string;
  /** Present only when deprecated. */
  deprecated?: string;
  /** Present only when yanked. */
  yanked?: true;
}

/**
 * A packed migration as a version document lists it: `risk` is its riskLevel, `reversible` whether it
 * has down steps.
 *
 * @example
 * const m: MigrationSummary = { id: '0001_init', version: '1.0.0', name: 'Init', description: '', risk: 'low', reversible: true };
 */
export interface MigrationSummary {
  id: string;
  version: string;
  name: string;
  description: string;
  risk: 'low' | 'medium' | 'high' | 'critical';
  reversible: boolean;
}

/**
 * Everything the registry knows about a plugin (`GET /:plugin`), npm-packument shaped.
 *
 * @example
 * const p: Packument = await (await fetch(`${url}/sample`)).json();
 * console.log(p['dist-tags'].latest, Object.keys(p.versions));
 */
export interface Packument {
  name: string;
  displayName: string;
  description: string;
  owner: string;
  'dist-tags': Record<string, string>;
  /** Every published version, yanked ones included (and marked). */
  versions: Record<string, VersionDocument>;
  /** `created`, `modified`, and one entry per version. */
  time: Record<string, string>;
  keys: PluginKey[];
  /** The latest version's README.md, at most 64 KiB. */
  readme?: string;
}

/**
 * A publisher key registered for a plugin.
 *
 * @example
 * const key: PluginKey = { keyId: '7D39ED2DB81BB22A', publicKey: 'RWQq…', addedAt: '2025-01-01T00:00:00.000Z', addedBy: 'alice' };
 */
export interface PluginKey {
  keyId: string;
  publicKey: string;
  addedAt: string;
  addedBy: string;
}

/**
 * A plugin in search results.
 *
 * @example
 * const s: PluginSummary = page.objects[0].package;
 * console.log(s.name, s.version ?? '(no latest)');
 */
export interface PluginSummary {
  name: string;
  displayName: string;
  description: string;
  /** The `latest` dist-tag, null when there is none. */
  version: string | null;
  /** When the plugin last changed. */
  date: string;
  owner: string;
  engines: string[];
}

/**
 * One search hit and its score.
 *
 * @example
 * const hit: SearchObject = { package: summary, score: { final: 1 } };
 */
export interface SearchObject {
  package: PluginSummary;
  score: { final: number };
}

/**
 * A page of search results (`GET /-/v1/search`).
 *
 * @example
 * const page: SearchPage = await store.search({ text: 'kb', size: 20, from: 0 });
 * console.log(`${page.objects.length} of ${page.total}`);
 */
export interface SearchPage {
  objects: SearchObject[];
  total: number;
  time: string;
}

/**
 * What the browse pages read (`RegistryStore` implements it).
 *
 * @example
 * const page = await reader.search({ text: 'sample', size: 25, from: 0 });
 * const doc = await reader.packument('sample', 'https://registry.example.com');
 */
export interface RegistryReader {
  search(query: { text?: string; size: number; from: number }): Promise<SearchPage>;
  packument(id: string, origin: string): Promise<Packument | undefined>;
}
