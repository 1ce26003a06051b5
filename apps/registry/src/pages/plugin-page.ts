import semver from 'semver';
import type { MigrationSummary, Packument, VersionDocument } from '../types.js';
import { escapeHtml, safeUrl } from './escape.js';
import { formatBytes, formatCount, formatDate, plural } from './format.js';
import { indexHref } from './index-page.js';
import { renderLayout } from './layout.js';

/**
 * What {@link renderPluginPage} shows.
 *
 * @example
 * const options: PluginPageOptions = { packument, origin: 'https://registry.example.com' };
 */
export interface PluginPageOptions {
  packument: Packument;
  /** The registry's base URL, for the install command. */
  origin: string;
}

// Only these become class names; anything else the data might carry gets the neutral style, never
// a class built from user input.
const RISK_CLASSES: Record<string, string> = {
  low: 'risk-low',
  medium: 'risk-medium',
  high: 'risk-high',
  critical: 'risk-critical',
};

/** Newest first by semver; a version that is not semver (should not exist) sorts last, by text. */
function compareVersionsDescending(a: string, b: string): number {
  const va = semver.valid(a);
  const vb = semver.valid(b);
  if (va !== null && vb !== null) return semver.rcompare(va, vb);
  if (va !== null) return -1;
  if (vb !== null) return 1;
  return b.localeCompare(a);
}

/**
 * The version the page describes: `dist-tags.latest`, else (only prereleases published) the newest
 * published version that is not yanked, else the newest published one.
 *
 * @example
 * pageVersion(packument)?.version // '1.1.0'
 */
export function pageVersion(packument: Packument): VersionDocument | undefined {
  const tagged = packument['dist-tags'].latest;
  if (tagged !== undefined && packument.versions[tagged] !== undefined) return packument.versions[tagged];
  const docs = Object.values(packument.versions).sort(
    (a, b) =>
      Date.parse(b.publishedAt) - Date.parse(a.publishedAt) ||
      compareVersionsDescending(a.version, b.version),
  );
  return docs.find((d) => d.yanked !== true) ?? docs[0];
}

/**
 * The command that installs the plugin from this registry at the version's caret range; `<url>` is
 * left for the reader to fill in with their database URL.
 *
 * @example
 * installCommand('sample', '1.1.0', 'https://r.example') // 'cmpkg install sample@^1.1.0 --registry https://r.example --db <url>'
 */
export function installCommand(id: string, version: string, origin: string): string {
  return `cmpkg install ${id}@^${version} --registry ${origin} --db <url>`;
}

function riskBadge(risk: string): string {
  return `<span class="risk ${RISK_CLASSES[risk] ?? 'risk-unknown'}">${escapeHtml(risk)}</span>`;
}

function list(values: string[], empty: string): string {
  if (values.length === 0) return `<span class="muted">${empty}</span>`;
  return values.map((v) => `<code>${escapeHtml(v)}</code>`).join(', ');
}

function renderDistTags(tags: Record<string, string>): string {
  const entries = Object.entries(tags).sort(([a], [b]) =>
    a === 'latest' ? -1 : b === 'latest' ? 1 : a.localeCompare(b),
  );
  if (entries.length === 0) return '<span class="muted">none</span>';
  return entries
    .map(
      ([tag, version]) =>
        `<span class="badge tag">${escapeHtml(tag)}</span> <code>${escapeHtml(version)}</code>`,
    )
    .join(' &nbsp; ');
}

function renderRequires(requires: Record<string, string>): string {
  const entries = Object.entries(requires);
  if (entries.length === 0) return '<span class="muted">nothing</span>';
  return entries.map(([id, range]) => `<code>${escapeHtml(id)}@${escapeHtml(range)}</code>`).join(', ');
}

function renderVersions(packument: Packument): string {
  const tagsByVersion = new Map<string, string[]>();
  for (const [tag, version] of Object.entries(packument['dist-tags'])) {
    tagsByVersion.set(version, [...(tagsByVersion.get(version) ?? []), tag]);
  }
  const rows = Object.keys(packument.versions)
    .sort(compareVersionsDescending)
    .map((version) => {
      const doc = packument.versions[version]!;
      const badges = [
        ...(tagsByVersion.get(version) ?? []).map(
          (tag) => `<span class="badge tag">${escapeHtml(tag)}</span>`,
        ),
        ...(doc.deprecated !== undefined ? ['<span class="badge deprecated">deprecated</span>'] : []),
        ...(doc.yanked === true ? ['<span class="badge yanked">yanked</span>'] : []),
      ].join(' ');
      const note =
        doc.deprecated !== undefined && doc.deprecated !== ''
          ? `<div class="muted deprecation">${escapeHtml(doc.deprecated)}</div>`
          : '';
      return `<tr${doc.yanked === true ? ' class="yanked"' : ''}>
<td><code>${escapeHtml(version)}</code> ${badges}${note}</td>
<td>${formatDate(packument.time[version] ?? doc.publishedAt)}</td>
<td class="num">${formatBytes(doc.dist.size)}</td>
<td><code>${escapeHtml(doc.dist.keyId)}</code></td>
<td>${escapeHtml(doc.publishedBy)}</td>
<td><a href="${safeUrl(doc.dist.tarball)}" rel="nofollow">download</a></td>
</tr>`;
    });
  if (rows.length === 0) return '<p class="muted">No versions published.</p>';
  return `<div class="table-wrap"><table class="versions">
<thead><tr><th scope="col">Version</th><th scope="col">Published</th><th scope="col">Size</th><th scope="col">Signer key</th><th scope="col">Published by</th><th scope="col">Archive</th></tr></thead>
<tbody>
${rows.join('\n')}
</tbody>
</table></div>`;
}

function renderMigrations(migrations: MigrationSummary[]): string {
  if (migrations.length === 0) return '<p class="muted">This version has no migrations.</p>';
  const rows = migrations.map(
    (m) => `<tr>
<td><code>${escapeHtml(m.id)}</code></td>
<td><code>${escapeHtml(m.version)}</code></td>
<td>${escapeHtml(m.name)}${m.description !== '' ? `<div class="muted">${escapeHtml(m.description)}</div>` : ''}</td>
<td>${riskBadge(m.risk)}</td>
<td>${m.reversible ? 'yes' : 'no'}</td>
</tr>`,
  );
  return `<div class="table-wrap"><table class="migrations">
<thead><tr><th scope="col">Migration</th><th scope="col">Version</th><th scope="col">Name</th><th scope="col">Risk</th><th scope="col">Reversible</th></tr></thead>
<tbody>
${rows.join('\n')}
</tbody>
</table></div>`;
}

function renderData(data: VersionDocument['data']): string {
  if (data.length === 0) return '<p class="muted">This version carries no data.</p>';
  const rows = data.map(
    (d) => `<tr><td><code>${escapeHtml(d.table)}</code></td><td class="num">${formatCount(d.rows)}</td></tr>`,
  );
  return `<div class="table-wrap"><table class="data">
<thead><tr><th scope="col">Table</th><th scope="col">Rows</th></tr></thead>
<tbody>
${rows.join('\n')}
</tbody>
</table></div>`;
}

function renderKeys(keys: Packument['keys']): string {
  if (keys.length === 0) return '<p class="muted">No signing keys registered.</p>';
  const rows = keys.map(
    (k) => `<tr>
<td><code>${escapeHtml(k.keyId)}</code></td>
<td><code class="public-key">${escapeHtml(k.publicKey)}</code></td>
<td>${escapeHtml(k.addedBy)}</td>
<td>${formatDate(k.addedAt)}</td>
</tr>`,
  );
  return `<div class="table-wrap"><table class="keys">
<thead><tr><th scope="col">Key id</th><th scope="col">Public key</th><th scope="col">Added by</th><th scope="col">Added</th></tr></thead>
<tbody>
${rows.join('\n')}
</tbody>
</table></div>`;
}

/**
 * `/plugins/:id`: everything the registry knows about a plugin — metadata, dist-tags, every
 * version, the page version's engines, requirements, migrations (with risk) and data, the signing
 * keys, the README as plain preformatted text, and the install command.
 *
 * @example
 * reply.type('text/html; charset=utf-8').send(renderPluginPage({ packument, origin: 'http://127.0.0.1:4880' }));
 */
export function renderPluginPage(options: PluginPageOptions): string {
  const { packument, origin } = options;
  const current = pageVersion(packument);
  const id = packument.name;
  const displayName =
    packument.displayName !== '' && packument.displayName !== id
      ? `<p class="display-name lead">${escapeHtml(packument.displayName)}</p>`
      : '';
  const description =
    packument.description === ''
      ? '<p class="description muted">No description</p>'
      : `<p class="description">${escapeHtml(packument.description)}</p>`;
  const latest = packument['dist-tags'].latest;
  const notices: string[] = [];
  if (current?.deprecated !== undefined) {
    notices.push(
      `<p class="notice"><span class="badge deprecated">deprecated</span> ${escapeHtml(current.version)}: ${escapeHtml(current.deprecated)}</p>`,
    );
  }
  if (current !== undefined && latest === undefined) {
    notices.push(
      `<p class="notice muted">No stable release yet; this page shows the newest published version, ${escapeHtml(current.version)}.</p>`,
    );
  }
  const install =
    current === undefined
      ? '<p class="muted">Nothing to install: no version is published.</p>'
      : `<pre class="install"><code>${escapeHtml(installCommand(id, current.version, origin))}</code></pre>
<p class="muted">Replace <code>&lt;url&gt;</code> with your database URL, e.g. <code>sqlite:./app.db</code> or <code>postgres://user@host/db</code>.</p>`;
  const versionSections =
    current === undefined
      ? ''
      : `<h2 id="migrations">Migrations in ${escapeHtml(current.version)}</h2>
${renderMigrations(current.migrations)}
<h2 id="data">Data tables in ${escapeHtml(current.version)}</h2>
${renderData(current.data)}`;
  const readme =
    packument.readme === undefined || packument.readme === ''
      ? '<p class="muted">No README.</p>'
      : `<pre class="readme">${escapeHtml(packument.readme)}</pre>`;
  const body = `<p class="muted"><a href="${safeUrl(indexHref('', 1))}">All plugins</a></p>
<h1>${escapeHtml(id)}</h1>
${displayName}
${description}
${notices.join('\n')}
<dl class="facts">
<dt>Owner</dt><dd>${escapeHtml(packument.owner)}</dd>
<dt>Latest</dt><dd>${latest === undefined ? '<span class="muted">none</span>' : `<code>${escapeHtml(latest)}</code>`}</dd>
<dt>Dist-tags</dt><dd>${renderDistTags(packument['dist-tags'])}</dd>
<dt>Engines</dt><dd>${current === undefined ? '—' : list(current.engines, 'any')}</dd>
<dt>Requires</dt><dd>${current === undefined ? '—' : renderRequires(current.requires)}</dd>
<dt>Signer keys</dt><dd>${list(
    packument.keys.map((k) => k.keyId),
    'none',
  )}</dd>
<dt>Versions</dt><dd>${plural(Object.keys(packument.versions).length, 'version')}</dd>
<dt>Created</dt><dd>${formatDate(packument.time.created)}</dd>
<dt>Updated</dt><dd>${formatDate(packument.time.modified)}</dd>
</dl>
<h2 id="install">Install</h2>
${install}
<h2 id="versions">Versions</h2>
${renderVersions(packument)}
${versionSections}
<h2 id="keys">Signing keys</h2>
${renderKeys(packument.keys)}
<h2 id="readme">README</h2>
${readme}`;
  return renderLayout({ title: id, body });
}

/**
 * The 404 page for an unknown (or invalid) plugin id; the id is shown escaped.
 *
 * @example
 * reply.code(404).type('text/html; charset=utf-8').send(renderNotFoundPage('nope'));
 */
export function renderNotFoundPage(id: string): string {
  return renderLayout({
    title: 'Plugin not found',
    body: `<h1>Plugin not found</h1>
<p class="empty">There is no plugin “${escapeHtml(id)}” in this registry.</p>
<p><a href="/">Browse all plugins</a></p>`,
  });
}
