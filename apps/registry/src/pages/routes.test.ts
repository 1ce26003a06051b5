import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Packument, RegistryReader, SearchPage } from '../types.js';
import { PAGE_SIZE } from './index-page.js';
import { MAX_PAGE, MAX_QUERY_LENGTH, PAGE_HEADERS, parsePage, parseQuery, registerPages } from './routes.js';
import { foreignMarkup, packument, searchPage, summary, versionDoc } from './test-data.js';

const CSP =
  "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/**
 * A RegistryReader over fixed documents that records what the pages asked for. The real store is
 * exercised by test/registry/pages-browser.test.ts; here the routes' own logic is the subject.
 */
class RecordingReader implements RegistryReader {
  searches: { text?: string; size: number; from: number }[] = [];
  lookups: { id: string; origin: string }[] = [];
  failure: Error | undefined;

  constructor(
    private readonly plugins: Packument[],
    private readonly total = plugins.length,
  ) {}

  async search(query: { text?: string; size: number; from: number }): Promise<SearchPage> {
    this.searches.push(query);
    if (this.failure) throw this.failure;
    const matching = this.plugins.filter((p) => query.text === undefined || p.name.includes(query.text));
    const rows = matching.slice(query.from, query.from + query.size).map((p) => summary(p.name));
    return searchPage(rows, query.text === undefined ? this.total : matching.length);
  }

  async packument(id: string, origin: string): Promise<Packument | undefined> {
    this.lookups.push({ id, origin });
    if (this.failure) throw this.failure;
    return this.plugins.find((p) => p.name === id);
  }
}

describe('parsePage / parseQuery', () => {
  it.each([
    [undefined, 1],
    ['1', 1],
    ['2', 2],
    ['0002', 2],
    [String(MAX_PAGE), MAX_PAGE],
    [String(MAX_PAGE + 1), 1],
    ['abc', 1],
    ['-1', 1],
    ['0', 1],
    ['1.5', 1],
    ['1e3', 1],
    [' 2', 1],
    ['', 1],
    ['99999999999999999999', 1],
    [['3', '4'], 3],
    [[], 1],
    [{ a: '1' }, 1],
    [7, 1],
  ])('page %j → %i', (value, page) => {
    expect(parsePage(value)).toBe(page);
  });

  it('trims the search text, cuts it to the limit and ignores non-strings', () => {
    expect(parseQuery('  kb  ')).toBe('kb');
    expect(parseQuery(undefined)).toBe('');
    expect(parseQuery(['a', 'b'])).toBe('a');
    expect(parseQuery({ x: 'y' })).toBe('');
    expect(parseQuery('x'.repeat(MAX_QUERY_LENGTH + 50))).toHaveLength(MAX_QUERY_LENGTH);
  });
});

describe('registerPages', () => {
  const plugins = Array.from({ length: 30 }, (_, i) => {
    const id = `plugin-${String(i).padStart(2, '0')}`;
    return packument(id, [versionDoc(id, '1.0.0')]);
  });
  let reader: RecordingReader;
  let app: FastifyInstance;

  beforeAll(async () => {
    app = Fastify({ logger: false });
    registerPages(app, {
      reader: { search: (q) => reader.search(q), packument: (id, o) => reader.packument(id, o) },
      origin: (request) => `http://${request.host}`,
    });
    await app.ready();
  });
  afterAll(() => app.close());
  beforeEach(() => {
    reader = new RecordingReader(plugins);
  });

  function expectPageHeaders(headers: Record<string, unknown>): void {
    expect(headers['content-type']).toBe('text/html; charset=utf-8');
    expect(headers['content-security-policy']).toBe(CSP);
    expect(headers['x-content-type-options']).toBe('nosniff');
    expect(PAGE_HEADERS['content-security-policy']).toBe(CSP);
  }

  it('GET / lists the first 25 with the page headers', async () => {
    const res = await app.inject({ method: 'GET', url: '/' });
    expect(res.statusCode).toBe(200);
    expectPageHeaders(res.headers);
    expect(reader.searches).toEqual([{ size: PAGE_SIZE, from: 0 }]);
    expect(res.body).toContain('30 plugins (showing 1–25)');
    expect(res.body).toContain('href="/plugins/plugin-00"');
    expect(res.body).not.toContain('href="/plugins/plugin-25"');
    expect(res.body).toContain('<a rel="next" href="/?page=2">');
    expect(foreignMarkup(res.body)).toEqual([]);
  });

  it('GET /?page=2 asks for the second page', async () => {
    const res = await app.inject({ method: 'GET', url: '/?page=2' });
    expect(res.statusCode).toBe(200);
    expect(reader.searches).toEqual([{ size: PAGE_SIZE, from: PAGE_SIZE }]);
    expect(res.body).toContain('href="/plugins/plugin-29"');
    expect(res.body).toContain('<a rel="prev" href="/">');
  });

  it.each(['abc', '-1', '0', '1.5', '%00', '99999999999999999999', '2&page=3'])(
    'GET /?page=%s falls back to page 1 (or the first value), never an error',
    async (value) => {
      const res = await app.inject({ method: 'GET', url: `/?page=${value}` });
      expect(res.statusCode).toBe(200);
      expectPageHeaders(res.headers);
      expect(reader.searches[0]!.from).toBe(value === '2&page=3' ? PAGE_SIZE : 0);
    },
  );

  it('GET /?q= passes the search text on and keeps it in the form and links', async () => {
    const res = await app.inject({ method: 'GET', url: '/?q=%20plugin-1%20' });
    expect(res.statusCode).toBe(200);
    expect(reader.searches).toEqual([{ text: 'plugin-1', size: PAGE_SIZE, from: 0 }]);
    expect(res.body).toContain('value="plugin-1"');
    expect(res.body).toContain('10 plugins match “plugin-1”');
  });

  it('GET /?q= with no match shows the empty state', async () => {
    const res = await app.inject({ method: 'GET', url: '/?q=%3Cnone%3E' });
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('No plugins match “&lt;none&gt;”');
  });

  it('GET /?q= (empty) lists everything without a text filter', async () => {
    await app.inject({ method: 'GET', url: '/?q=%20%20' });
    expect(reader.searches).toEqual([{ size: PAGE_SIZE, from: 0 }]);
  });

  it('GET /plugins/:id renders the plugin with the request origin', async () => {
    const res = await app.inject({
      method: 'GET',
      url: '/plugins/plugin-03',
      headers: { host: 'reg.test:8080' },
    });
    expect(res.statusCode).toBe(200);
    expectPageHeaders(res.headers);
    expect(reader.lookups).toEqual([{ id: 'plugin-03', origin: 'http://reg.test:8080' }]);
    expect(res.body).toContain('<h1>plugin-03</h1>');
    expect(res.body).toContain(
      'cmpkg install plugin-03@^1.0.0 --registry http://reg.test:8080 --db &lt;url&gt;',
    );
  });

  it('GET /plugins/:id of an unknown plugin is a 404 page', async () => {
    const res = await app.inject({ method: 'GET', url: '/plugins/nope' });
    expect(res.statusCode).toBe(404);
    expectPageHeaders(res.headers);
    expect(res.body).toContain('There is no plugin “nope” in this registry.');
    expect(reader.lookups).toHaveLength(1);
  });

  it.each(['Upper', '-dash', '%3Cscript%3E', 'a%20b', '.hidden', '%C3%A9'])(
    'GET /plugins/%s (an invalid id) is a 404 page without asking the reader',
    async (id) => {
      const res = await app.inject({ method: 'GET', url: `/plugins/${id}` });
      expect(res.statusCode).toBe(404);
      expectPageHeaders(res.headers);
      expect(res.body).toContain('Plugin not found');
      expect(foreignMarkup(res.body)).toEqual([]);
      expect(reader.lookups).toEqual([]);
    },
  );

  it('lets a reader failure reach the error handler instead of rendering a page', async () => {
    reader.failure = new Error('database is gone');
    const list = await app.inject({ method: 'GET', url: '/' });
    const plugin = await app.inject({ method: 'GET', url: '/plugins/plugin-01' });
    expect(list.statusCode).toBe(500);
    expect(plugin.statusCode).toBe(500);
    expect(list.headers['content-type']).not.toContain('text/html');
  });

  it('answers HEAD like GET, without a body', async () => {
    const res = await app.inject({ method: 'HEAD', url: '/' });
    expect(res.statusCode).toBe(200);
    expectPageHeaders(res.headers);
    expect(res.body).toBe('');
  });
});
