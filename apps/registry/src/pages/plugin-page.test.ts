import { describe, expect, it } from 'vitest';
import type { MigrationSummary, Packument, VersionDocument } from '../types.js';
import { installCommand, pageVersion, renderNotFoundPage, renderPluginPage } from './plugin-page.js';
import { ALL_PAYLOADS, foreignMarkup, PAYLOADS, packument, versionDoc } from './test-data.js';

const ORIGIN = 'http://127.0.0.1:4880';

/** The text of the table row whose first cell starts with `<code>version</code>`. */
function versionRow(html: string, version: string): string {
  const row = html.match(
    new RegExp(`<tr[^>]*>\\s*<td><code>${version.replace(/\./g, '\\.')}</code>[\\s\\S]*?</tr>`),
  );
  expect(row, `row of ${version}`).not.toBeNull();
  return row![0];
}

function sample(): Packument {
  const v1 = versionDoc('sample', '1.0.0', {
    publishedAt: '2025-01-01T10:00:00.000Z',
    deprecated: 'use 1.1 or later',
    dist: {
      tarball: `${ORIGIN}/sample/-/sample-1.0.0.cmpkg`,
      integrity: 'sha512-x',
      digest: 'sha256:x',
      size: 512,
      keyId: 'AAAAAAAAAAAAAAAA',
    },
  });
  const v11 = versionDoc('sample', '1.1.0', {
    publishedAt: '2025-02-01T10:00:00.000Z',
    engines: ['sqlite', 'postgresql', 'mysql'],
    requires: { core: '^2.0.0' },
    migrations: [
      {
        id: '0001_create',
        version: '1.0.0',
        name: 'Create',
        description: 'Tables',
        risk: 'low',
        reversible: true,
      },
      { id: '0002_tags', version: '1.1.0', name: 'Tags', description: '', risk: 'medium', reversible: true },
      {
        id: '0003_drop',
        version: '1.1.0',
        name: 'Drop old',
        description: 'Drops',
        risk: 'high',
        reversible: false,
      },
      {
        id: '0004_rewrite',
        version: '1.1.0',
        name: 'Rewrite',
        description: '',
        risk: 'critical',
        reversible: false,
      },
    ],
    data: [
      { table: 'categories', rows: 12 },
      { table: 'entries', rows: 123456 },
    ],
    dist: {
      tarball: `${ORIGIN}/sample/-/sample-1.1.0.cmpkg`,
      integrity: 'sha512-y',
      digest: 'sha256:y',
      size: 1536,
      keyId: 'BBBBBBBBBBBBBBBB',
    },
  });
  const v12 = versionDoc('sample', '1.2.0', { publishedAt: '2025-03-01T10:00:00.000Z', yanked: true });
  const beta = versionDoc('sample', '2.0.0-beta.1', { publishedAt: '2025-04-01T10:00:00.000Z' });
  const doc = packument('sample', [v1, v11, v12, beta], { latest: '1.1.0' });
  doc['dist-tags'].next = '2.0.0-beta.1';
  doc.readme = '# Sample\n\nUse <b>it</b> & enjoy.\n';
  return doc;
}

describe('renderPluginPage', () => {
  const html = renderPluginPage({ packument: sample(), origin: ORIGIN });

  it('shows name, display name, description, owner and latest', () => {
    expect(html).toContain('<title>sample · cmpkg registry</title>');
    expect(html).toContain('<h1>sample</h1>');
    expect(html).toContain('<p class="display-name lead">Sample knowledge base</p>');
    expect(html).toContain('<p class="description">Entries, tags and categories</p>');
    expect(html).toContain('<dt>Owner</dt><dd>alice</dd>');
    expect(html).toContain('<dt>Latest</dt><dd><code>1.1.0</code></dd>');
    expect(html).toContain('<dt>Versions</dt><dd>4 versions</dd>');
  });

  it('lists the dist-tags, latest first', () => {
    expect(html).toMatch(
      /<dt>Dist-tags<\/dt><dd><span class="badge tag">latest<\/span> <code>1\.1\.0<\/code>.*<span class="badge tag">next<\/span> <code>2\.0\.0-beta\.1<\/code><\/dd>/,
    );
  });

  it('shows the versions newest first with date, size, signer and badges', () => {
    const order = ['2.0.0-beta.1', '1.2.0', '1.1.0', '1.0.0'].map((v) =>
      html.indexOf(`<td><code>${v}</code>`),
    );
    expect(order.every((at) => at > 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);

    const v1 = versionRow(html, '1.0.0');
    expect(v1).toContain('<span class="badge deprecated">deprecated</span>');
    expect(v1).toContain('use 1.1 or later');
    expect(v1).toContain('>2025-01-01</time>');
    expect(v1).toContain('512 B');
    expect(v1).toContain('<code>AAAAAAAAAAAAAAAA</code>');
    expect(v1).not.toContain('yanked');
    expect(v1).toContain(`href="${ORIGIN}/sample/-/sample-1.0.0.cmpkg"`);

    const v11 = versionRow(html, '1.1.0');
    expect(v11).toContain('<span class="badge tag">latest</span>');
    expect(v11).toContain('1.5 KiB');
    expect(v11).toContain('<code>BBBBBBBBBBBBBBBB</code>');
    expect(v11).not.toContain('deprecated');

    const v12 = versionRow(html, '1.2.0');
    expect(v12).toMatch(/^<tr class="yanked">/);
    expect(v12).toContain('<span class="badge yanked">yanked</span>');
    expect(versionRow(html, '2.0.0-beta.1')).toContain('<span class="badge tag">next</span>');
  });

  it("shows the latest version's engines and requirements", () => {
    expect(html).toContain(
      '<dt>Engines</dt><dd><code>sqlite</code>, <code>postgresql</code>, <code>mysql</code></dd>',
    );
    expect(html).toContain('<dt>Requires</dt><dd><code>core@^2.0.0</code></dd>');
  });

  it("shows the latest version's migrations with coloured risk (and its word) and reversibility", () => {
    expect(html).toContain('<h2 id="migrations">Migrations in 1.1.0</h2>');
    for (const risk of ['low', 'medium', 'high', 'critical']) {
      expect(html).toContain(`<span class="risk risk-${risk}">${risk}</span>`);
    }
    expect(html).toMatch(
      /<code>0003_drop<\/code>[\s\S]*?Drop old<div class="muted">Drops<\/div>[\s\S]*?<td>no<\/td>/,
    );
    expect(html).toMatch(/<code>0001_create<\/code>[\s\S]*?<td>yes<\/td>/);
    expect(html).toMatch(/\.risk-low\{background:#1a7f37\}/);
    expect(html).toMatch(/\.risk-critical\{background:#7d0a12\}/);
  });

  it('shows the data tables with row counts', () => {
    expect(html).toContain('<td><code>categories</code></td><td class="num">12</td>');
    expect(html).toContain('<td><code>entries</code></td><td class="num">123,456</td>');
  });

  it('shows the README as escaped preformatted text', () => {
    expect(html).toContain('<pre class="readme"># Sample\n\nUse &lt;b&gt;it&lt;/b&gt; &amp; enjoy.\n</pre>');
  });

  it('shows the signing keys', () => {
    expect(html).toContain('<dt>Signer keys</dt><dd><code>0123456789ABCDEF</code></dd>');
    expect(html).toContain('<code class="public-key">RWQBI0VniavN7w');
  });

  it('shows the install command with the caret range of latest and the origin', () => {
    expect(installCommand('sample', '1.1.0', ORIGIN)).toBe(
      `cmpkg install sample@^1.1.0 --registry ${ORIGIN} --db <url>`,
    );
    expect(html).toContain(
      `<pre class="install"><code>cmpkg install sample@^1.1.0 --registry ${ORIGIN} --db &lt;url&gt;</code></pre>`,
    );
  });

  it('is free of script and foreign markup', () => {
    expect(html).not.toMatch(/<script|\son[a-z]+=/i);
    expect(foreignMarkup(html)).toEqual([]);
  });

  it('warns when the latest version is deprecated', () => {
    const doc = packument('old', [versionDoc('old', '1.0.0', { deprecated: 'unmaintained' })]);
    const page = renderPluginPage({ packument: doc, origin: ORIGIN });
    expect(page).toContain('<span class="badge deprecated">deprecated</span> 1.0.0: unmaintained');
  });

  it('describes the newest unyanked version when only prereleases exist (no latest)', () => {
    const doc = packument(
      'pre',
      [
        versionDoc('pre', '1.0.0-beta.1', { publishedAt: '2025-01-01T00:00:00.000Z' }),
        versionDoc('pre', '1.0.0-beta.2', { publishedAt: '2025-02-01T00:00:00.000Z', engines: ['mysql'] }),
        versionDoc('pre', '1.0.0-beta.3', { publishedAt: '2025-03-01T00:00:00.000Z', yanked: true }),
      ],
      { latest: null },
    );
    expect(pageVersion(doc)?.version).toBe('1.0.0-beta.2');
    const page = renderPluginPage({ packument: doc, origin: ORIGIN });
    expect(page).toContain('<dt>Latest</dt><dd><span class="muted">none</span></dd>');
    expect(page).toContain(
      'No stable release yet; this page shows the newest published version, 1.0.0-beta.2.',
    );
    expect(page).toContain('cmpkg install pre@^1.0.0-beta.2 --registry');
    expect(page).toContain('<dt>Engines</dt><dd><code>mysql</code></dd>');
  });

  it('says what is missing instead of showing empty sections', () => {
    const doc = packument(
      'bare',
      [versionDoc('bare', '1.0.0', { migrations: [], engines: [], description: '' })],
      {
        overrides: { keys: [], description: '', displayName: 'bare' },
      },
    );
    const page = renderPluginPage({ packument: doc, origin: ORIGIN });
    expect(page).toContain('This version has no migrations.');
    expect(page).toContain('This version carries no data.');
    expect(page).toContain('No README.');
    expect(page).toContain('No signing keys registered.');
    expect(page).toContain('<dt>Engines</dt><dd><span class="muted">any</span></dd>');
    expect(page).toContain('<dt>Requires</dt><dd><span class="muted">nothing</span></dd>');
    expect(page).toContain('No description');
    expect(page).not.toContain('display-name');
  });

  it('survives a packument without versions', () => {
    const page = renderPluginPage({ packument: packument('empty', [], { latest: null }), origin: ORIGIN });
    expect(page).toContain('Nothing to install: no version is published.');
    expect(page).toContain('No versions published.');
    expect(foreignMarkup(page)).toEqual([]);
  });

  it('gives an unknown risk level the neutral style, never a class made of its value', () => {
    const odd = versionDoc('odd', '1.0.0');
    odd.migrations = [
      { ...odd.migrations[0]!, risk: `x" onmouseover="alert(1)` as string as MigrationSummary['risk'] },
    ];
    const page = renderPluginPage({ packument: packument('odd', [odd]), origin: ORIGIN });
    expect(page).toContain('<span class="risk risk-unknown">x&quot; onmouseover=&quot;alert(1)</span>');
    expect(foreignMarkup(page)).toEqual([]);
  });
});

describe('renderPluginPage with hostile data', () => {
  const hostileVersion = (version: string): VersionDocument =>
    versionDoc('evil', version, {
      displayName: ALL_PAYLOADS,
      description: ALL_PAYLOADS,
      engines: [PAYLOADS.script, PAYLOADS.attribute],
      requires: { [PAYLOADS.script]: PAYLOADS.attribute },
      migrations: [
        {
          id: PAYLOADS.attribute,
          version: PAYLOADS.script,
          name: ALL_PAYLOADS,
          description: ALL_PAYLOADS,
          risk: 'high',
          reversible: false,
        },
      ],
      data: [{ table: PAYLOADS.script, rows: 3 }],
      dist: {
        tarball: PAYLOADS.javascript,
        integrity: PAYLOADS.attribute,
        digest: PAYLOADS.script,
        size: 10,
        keyId: PAYLOADS.attribute,
      },
      publishedAt: PAYLOADS.attribute,
      publishedBy: ALL_PAYLOADS,
      deprecated: ALL_PAYLOADS,
    });
  const doc = packument('evil', [hostileVersion('1.0.0')], {
    overrides: {
      displayName: ALL_PAYLOADS,
      description: ALL_PAYLOADS,
      owner: ALL_PAYLOADS,
      readme: `${ALL_PAYLOADS}\n</pre><script>alert(2)</script>`,
      keys: [
        {
          keyId: PAYLOADS.attribute,
          publicKey: ALL_PAYLOADS,
          addedAt: PAYLOADS.script,
          addedBy: ALL_PAYLOADS,
        },
      ],
    },
  });
  doc['dist-tags'][PAYLOADS.attribute] = '1.0.0';
  doc['dist-tags'][PAYLOADS.script] = '1.0.0';
  doc.time.created = PAYLOADS.attribute;
  const html = renderPluginPage({ packument: doc, origin: `http://"><script>alert(3)</script>` });

  it('never contains a payload unescaped', () => {
    for (const payload of [PAYLOADS.script, PAYLOADS.attribute, PAYLOADS.single, PAYLOADS.backtick]) {
      expect(html).not.toContain(payload);
    }
    expect(html).not.toContain('</pre><script>');
    // Payload words like onerror= remain as escaped text; foreignMarkup checks none became an attribute.
    expect(html).not.toMatch(/<script|<img|<svg/i);
  });

  it('shows the payloads as text', () => {
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).toContain('&quot;&gt;&lt;img src=x onerror=alert(1)&gt;');
    expect(html).toContain('&#39;&gt;&lt;svg onload=alert(1)&gt;');
    expect(html).toContain('&#96;onmouseover=alert(1)&#96;');
    expect(html).toContain('&lt;/pre&gt;&lt;script&gt;alert(2)&lt;/script&gt;');
    expect(html).toContain('--registry http://&quot;&gt;&lt;script&gt;alert(3)&lt;/script&gt; --db');
  });

  it('turns a javascript: tarball URL into #', () => {
    expect(html).not.toMatch(/href="\s*javascript:/i);
    expect(html).toContain('<a href="#" rel="nofollow">download</a>');
  });

  it('emits no markup but its own', () => {
    expect(foreignMarkup(html)).toEqual([]);
  });
});

describe('renderNotFoundPage', () => {
  it('says the plugin does not exist, with the id escaped', () => {
    const html = renderNotFoundPage('nope');
    expect(html).toContain('<title>Plugin not found · cmpkg registry</title>');
    expect(html).toContain('There is no plugin “nope” in this registry.');
    expect(html).toContain('<a href="/">Browse all plugins</a>');
    const hostile = renderNotFoundPage(ALL_PAYLOADS);
    expect(hostile).not.toContain(PAYLOADS.script);
    expect(hostile).not.toContain(PAYLOADS.attribute);
    expect(foreignMarkup(hostile)).toEqual([]);
  });
});
