/**
 * The browse pages in a real browser against a real registry: headless Chromium (Debian's
 * /usr/bin/chromium, driven by playwright-core) loads `/` and `/plugins/:id` from a registry started
 * with test/helpers/registry.ts, holding packages built with the packager and published over HTTP.
 * One plugin carries script payloads in its name, description, migrations and README; the browser
 * must show them as text and never run them.
 */
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadPlugin } from '@cmpkg/core';
import { generateKeyPair, type KeyPair, packPlugin } from '@cmpkg/packager';
import {
  type BrowserContext,
  chromium,
  type Locator,
  type Page,
  type Response as PageResponse,
} from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningRegistry, startRegistry } from '../helpers/registry.js';

const CHROMIUM = '/usr/bin/chromium';
const NO_CHROMIUM =
  "chromium not found at /usr/bin/chromium; install Debian's chromium to run the browser tests";
const HAVE_CHROMIUM = existsSync(CHROMIUM);
// On CI a missing browser must fail the run (below, in beforeAll); locally it only skips, loudly.
const IN_CI = process.env.CI === 'true';
if (!HAVE_CHROMIUM && !IN_CI) console.log(NO_CHROMIUM);
const suite = HAVE_CHROMIUM || IN_CI ? describe : describe.skip;

const SAMPLE_PLUGIN = fileURLToPath(new URL('../../examples/sample-plugin', import.meta.url));
const CSP =
  "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/** Each payload sets window.__xss (or opens a dialog) if it ever runs. */
const XSS = {
  name: '<script>window.__xss=1</script> Probe',
  description: '<img src=x onerror="window.__xss=2"> probes the pages',
  migrationName: '<script>window.__xss=3;alert(3)</script>',
  migrationDescription: '"><img src=x onerror="window.__xss=4">',
  readme: '# Probe\n\n</pre><script>window.__xss=5</script><svg onload="window.__xss=6">\n',
};

/**
 * Evaluated in the page after loading it: whether a payload ran (window.__xss), and whether any
 * script, event-handler attribute or image element made it into the DOM. Source text, because the
 * test project compiles without the DOM types.
 */
const BROWSER_STATE = `({
  xss: typeof window.__xss,
  scripts: document.querySelectorAll('script').length,
  handlers: [...document.querySelectorAll('*')]
    .filter((el) => el.getAttributeNames().some((name) => name.toLowerCase().startsWith('on'))).length,
  images: document.querySelectorAll('img, svg').length,
})`;

interface PluginSpec {
  id: string;
  name: string;
  description: string;
  /** Versions to pack and publish, in order. */
  versions: string[];
  /** Replaces the name/description of the JSON migration 0002_add_tags. */
  migration?: { name: string; description: string };
  readme?: string;
}

const PLUGINS: PluginSpec[] = [
  {
    id: 'field-notes',
    name: 'Field notes',
    description: 'Notes taken in the field, with tags',
    versions: ['1.0.0', '1.1.0', '2.0.0'],
    readme: '# Field notes\n\nKeeps <b>notes</b> & tags.\n',
  },
  {
    id: 'inventory',
    name: 'Inventory tracker',
    description: 'Stock levels and suppliers',
    versions: ['1.0.0'],
  },
  {
    id: 'xss-probe',
    name: XSS.name,
    description: XSS.description,
    versions: ['1.0.0'],
    migration: { name: XSS.migrationName, description: XSS.migrationDescription },
    readme: XSS.readme,
  },
];

/**
 * A copy of examples/sample-plugin turned into plugin `spec.id` (config and the JSON migrations'
 * pluginId rewritten), packed at `version` with packPlugin.
 */
async function buildPackage(work: string, spec: PluginSpec, version: string, key: KeyPair): Promise<string> {
  const dir = join(work, `${spec.id}-${version}`);
  cpSync(SAMPLE_PLUGIN, dir, { recursive: true });
  const configFile = join(dir, 'cmpkg.config.json');
  const config = JSON.parse(readFileSync(configFile, 'utf8')) as {
    plugin: { id: string; version: string; name: string; description: string };
    migrationsDir: string;
  };
  config.plugin = { id: spec.id, version, name: spec.name, description: spec.description };
  writeFileSync(configFile, `${JSON.stringify(config, null, 2)}\n`);
  const migrations = join(dir, config.migrationsDir);
  for (const file of readdirSync(migrations).filter((f) => f.endsWith('.json'))) {
    const path = join(migrations, file);
    const doc = JSON.parse(readFileSync(path, 'utf8')) as {
      migration: { id: string; pluginId?: string; name: string; description: string };
    };
    doc.migration.pluginId = spec.id;
    if (spec.migration && doc.migration.id === '0002_add_tags') {
      doc.migration.name = spec.migration.name;
      doc.migration.description = spec.migration.description;
    }
    writeFileSync(path, JSON.stringify(doc, null, 2));
  }
  let readme: string | undefined;
  if (spec.readme !== undefined) {
    readme = join(dir, 'README.md');
    writeFileSync(readme, spec.readme);
  }
  const plugin = await loadPlugin({
    dir: migrations,
    id: config.plugin.id,
    version: config.plugin.version,
    name: config.plugin.name,
    description: config.plugin.description,
  });
  const result = await packPlugin({
    plugin,
    key,
    version,
    outDir: work,
    ...(readme !== undefined ? { readme } : {}),
  });
  return result.file;
}

async function api(
  registry: RunningRegistry,
  token: string,
  method: string,
  path: string,
  body: Uint8Array | Record<string, unknown>,
): Promise<Response> {
  const binary = body instanceof Uint8Array;
  const res = await fetch(`${registry.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      'content-type': binary ? 'application/octet-stream' : 'application/json',
    },
    body: binary ? body : JSON.stringify(body),
  });
  if (!res.ok) {
    throw new Error(
      `${method} ${path} → ${res.status}: ${await res.text()}\n--- registry stderr ---\n${registry.stderr()}`,
    );
  }
  return res;
}

suite('browse pages in Chromium against a real registry', () => {
  // Made in beforeAll, not here: a skipped suite still runs this body but never its afterAll.
  let work: string | undefined;
  let registry: RunningRegistry | undefined;
  let browser: BrowserContext | undefined;
  let url = '';

  beforeAll(async () => {
    if (!HAVE_CHROMIUM) throw new Error(`${NO_CHROMIUM} (CI=true: the browser tests must run)`);
    work = mkdtempSync(join(tmpdir(), 'cmpkg-pages-browser-'));
    registry = await startRegistry();
    url = registry.url;
    const token = await registry.createToken('alice');
    const key = generateKeyPair();
    for (const spec of PLUGINS) {
      for (const version of spec.versions) {
        const file = await buildPackage(work, spec, version, key);
        await api(registry, token, 'PUT', `/${spec.id}`, readFileSync(file));
      }
    }
    await api(registry, token, 'POST', '/-/plugins/field-notes/deprecate', {
      range: '<1.1.0',
      message: 'Use 1.1 or later',
    });
    await api(registry, token, 'POST', '/-/plugins/field-notes/yank', { version: '1.1.0', yanked: true });
    // A persistent context is how playwright takes a user data dir: a fresh one per run, removed after.
    browser = await chromium.launchPersistentContext(join(work, 'chromium-profile'), {
      headless: true,
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await registry?.stop();
    if (work !== undefined) rmSync(work, { recursive: true, force: true });
  });

  /** A fresh tab that records dialogs and every request it makes. */
  async function openTab(): Promise<{ page: Page; dialogs: string[]; requests: string[] }> {
    const page = await browser!.newPage();
    const dialogs: string[] = [];
    const requests: string[] = [];
    page.on('dialog', (dialog) => {
      dialogs.push(dialog.message());
      void dialog.dismiss();
    });
    page.on('request', (request) => requests.push(`${request.resourceType()} ${request.url()}`));
    return { page, dialogs, requests };
  }

  function expectPageHeaders(response: PageResponse | null): void {
    expect(response, 'navigation response').not.toBeNull();
    const headers = response!.headers();
    expect(headers['content-security-policy']).toBe(CSP);
    expect(headers['x-content-type-options']).toBe('nosniff');
    expect(headers['content-type']).toBe('text/html; charset=utf-8');
  }

  /** What a reader sees (rendered text, CSS applied): the point of these checks, not the DOM's text. */
  function visibleText(locator: Locator): Promise<string> {
    // biome-ignore lint/performance/useDomNodeTextContent: the rendered text is exactly what is under test
    return locator.innerText();
  }

  async function rowTexts(page: Page): Promise<string[]> {
    return page.locator('ol.plugins > li').allInnerTexts();
  }

  it('renders the list on / with every plugin, its latest version and the total', async () => {
    const { page, requests } = await openTab();
    const response = await page.goto(`${url}/`);
    expect(response?.status()).toBe(200);
    expectPageHeaders(response);
    expect(await page.title()).toBe('Plugins · cmpkg registry');
    await expect(visibleText(page.locator('p.count'))).resolves.toBe('3 plugins');
    const rows = await rowTexts(page);
    expect(rows).toHaveLength(3);
    const notes = rows.find((r) => r.includes('field-notes'));
    expect(notes).toContain('Field notes');
    expect(notes).toContain('Notes taken in the field, with tags');
    expect(notes).toContain('latest 2.0.0');
    expect(notes).toMatch(/engines: .*sqlite/);
    expect(notes).toMatch(/updated \d{4}-\d{2}-\d{2}/);
    expect(rows.find((r) => r.includes('inventory'))).toContain('Stock levels and suppliers');
    // A page with no JavaScript, stylesheets or images asks for nothing but itself.
    expect(requests).toEqual([`document ${url}/`]);
    await page.close();
  });

  it('searches with the form: ?q= in the URL, only matches listed, an empty state for no match', async () => {
    const { page } = await openTab();
    await page.goto(`${url}/`);
    await page.getByLabel('Search plugins').fill('stock');
    await Promise.all([page.waitForURL(/\?q=stock$/), page.getByLabel('Search plugins').press('Enter')]);
    const rows = await rowTexts(page);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toContain('inventory');
    await expect(visibleText(page.locator('p.count'))).resolves.toBe('1 plugin matches “stock”');
    await expect(page.getByLabel('Search plugins').inputValue()).resolves.toBe('stock');

    await page.getByLabel('Search plugins').fill('no such plugin');
    await Promise.all([
      page.waitForURL(/\?q=no\+such\+plugin$/),
      page.getByLabel('Search plugins').press('Enter'),
    ]);
    expect(await rowTexts(page)).toEqual([]);
    await expect(visibleText(page.locator('p.empty'))).resolves.toBe('No plugins match “no such plugin”');
    await page.close();
  });

  it('opens a plugin from the list and shows versions, badges, engines, migration risks and the install command', async () => {
    const { page } = await openTab();
    await page.goto(`${url}/`);
    const [response] = await Promise.all([
      page.waitForResponse(`${url}/plugins/field-notes`),
      page.getByRole('link', { name: 'field-notes', exact: true }).click(),
    ]);
    expectPageHeaders(response);
    await page.waitForURL(`${url}/plugins/field-notes`);
    expect(await visibleText(page.locator('h1'))).toBe('field-notes');

    const versions = await page.locator('table.versions tbody tr').allInnerTexts();
    expect(versions.map((v) => v.split(/\s/)[0])).toEqual(['2.0.0', '1.1.0', '1.0.0']);
    expect(versions[0]).toContain('latest');
    expect(versions[1]).toContain('yanked');
    expect(versions[2]).toContain('deprecated');
    expect(versions[2]).toContain('Use 1.1 or later');
    for (const row of versions) expect(row).toMatch(/\d{4}-\d{2}-\d{2}\s+[\d.]+ (B|KiB)\s+[0-9A-F]{16}/);

    const facts = await visibleText(page.locator('dl.facts'));
    expect(facts).toMatch(/Owner\s+alice/);
    expect(facts).toMatch(/Latest\s+2\.0\.0/);
    expect(facts).toMatch(/Engines\s+.*sqlite/);

    const risks = page.locator('table.migrations .risk');
    const riskTexts = (await risks.allInnerTexts()).map((t) => t.toLowerCase());
    expect(riskTexts.length).toBeGreaterThanOrEqual(3);
    expect(riskTexts).toContain('low');
    expect(riskTexts).toContain('medium');
    // The inline CSS is allowed by the CSP: the risk colours really apply.
    expect(
      await page.evaluate(
        "getComputedStyle(document.querySelector('table.migrations .risk-low')).backgroundColor",
      ),
    ).toBe('rgb(26, 127, 55)');

    expect(await visibleText(page.locator('pre.install code'))).toBe(
      `cmpkg install field-notes@^2.0.0 --registry ${url} --db <url>`,
    );
    expect((await visibleText(page.locator('pre.readme'))).trimEnd()).toBe(
      '# Field notes\n\nKeeps <b>notes</b> & tags.',
    );
    await page.close();
  });

  it('shows the hostile plugin’s payloads as text and runs none of them', async () => {
    const { page, dialogs } = await openTab();
    const pages = [`${url}/plugins/xss-probe`, `${url}/`, `${url}/?q=${encodeURIComponent('<script>')}`];
    for (const target of pages) {
      const response = await page.goto(target);
      expect(response?.status(), target).toBe(200);
      expectPageHeaders(response);
      const state = await page.evaluate(BROWSER_STATE);
      expect(state, target).toEqual({ xss: 'undefined', scripts: 0, handlers: 0, images: 0 });
    }

    await page.goto(`${url}/plugins/xss-probe`);
    const text = await visibleText(page.locator('body'));
    for (const payload of [
      XSS.name,
      XSS.description,
      XSS.migrationName,
      XSS.migrationDescription,
      '</pre><script>window.__xss=5</script>',
    ]) {
      expect(text).toContain(payload);
    }
    expect(await page.title()).toBe('xss-probe · cmpkg registry');

    await page.goto(`${url}/?q=probe`);
    const row = (await rowTexts(page)).join('\n');
    expect(row).toContain(XSS.name);
    expect(row).toContain(XSS.description);
    expect(dialogs).toEqual([]);
    await page.close();
  });

  it('falls back to page 1 for bad ?page= values', async () => {
    const { page } = await openTab();
    for (const value of ['abc', '-1', '0', '1.5']) {
      const response = await page.goto(`${url}/?page=${value}`);
      expect(response?.status(), `page=${value}`).toBe(200);
      expect(await rowTexts(page), `page=${value}`).toHaveLength(3);
    }
    await page.close();
  });

  it('answers an unknown or invalid plugin id with a 404 page', async () => {
    const { page } = await openTab();
    for (const id of ['no-such-plugin', 'Not%20Valid']) {
      const response = await page.goto(`${url}/plugins/${id}`);
      expect(response?.status(), id).toBe(404);
      expectPageHeaders(response);
      expect(await visibleText(page.locator('h1'))).toBe('Plugin not found');
    }
    await page.getByRole('link', { name: 'Browse all plugins' }).click();
    await page.waitForURL(`${url}/`);
    expect(await rowTexts(page)).toHaveLength(3);
    await page.close();
  });
});
