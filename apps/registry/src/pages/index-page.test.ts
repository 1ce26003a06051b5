import { describe, expect, it } from 'vitest';
import { indexHref, PAGE_SIZE, pluginHref, renderIndexPage } from './index-page.js';
import { ALL_PAYLOADS, foreignMarkup, PAYLOADS, searchPage, summary } from './test-data.js';

/** The hrefs of `<a>` elements with `rel` (the pagination links), by rel. */
function relLinks(html: string): Record<string, string> {
  return Object.fromEntries(
    [...html.matchAll(/<a rel="(prev|next)" href="([^"]*)"/g)].map((m) => [m[1]!, m[2]!] as const),
  );
}

describe('indexHref / pluginHref', () => {
  it('keeps the search text and leaves page 1 out', () => {
    expect(indexHref('', 1)).toBe('/');
    expect(indexHref('', 2)).toBe('/?page=2');
    expect(indexHref('kb', 1)).toBe('/?q=kb');
    expect(indexHref('a b&c=d', 3)).toBe('/?q=a+b%26c%3Dd&page=3');
  });

  it('encodes the id', () => {
    expect(pluginHref('sample')).toBe('/plugins/sample');
    expect(pluginHref('a/b?c')).toBe('/plugins/a%2Fb%3Fc');
  });
});

describe('renderIndexPage', () => {
  it('is a complete HTML5 document with the search form and no script', () => {
    const html = renderIndexPage({ query: '', page: 1, result: searchPage([]) });
    expect(html.startsWith('<!doctype html>\n<html lang="en">')).toBe(true);
    expect(html).toContain('<meta charset="utf-8">');
    expect(html).toContain('<meta name="viewport" content="width=device-width, initial-scale=1">');
    expect(html).toContain('<title>Plugins · cmpkg registry</title>');
    expect(html).toContain('<a class="brand" href="/">cmpkg registry</a>');
    expect(html).toMatch(/<form class="search" method="get" action="\/" role="search">/);
    expect(html).toContain('<label for="q">Search plugins</label>');
    expect(html).toMatch(/<input id="q" name="q" type="search" value=""/);
    expect(html).not.toMatch(/<script|<link|\son[a-z]+=/i);
    expect(foreignMarkup(html)).toEqual([]);
  });

  it('says "No plugins yet" when the registry is empty', () => {
    const html = renderIndexPage({ query: '', page: 1, result: searchPage([]) });
    expect(html).toContain('<p class="empty">No plugins yet</p>');
    expect(html).not.toContain('<ol class="plugins"');
    expect(html).not.toContain('<nav class="pagination"');
  });

  it('says which search found nothing, escaped, and keeps it in the search box', () => {
    const html = renderIndexPage({ query: 'nothing<here>', page: 1, result: searchPage([]) });
    expect(html).toContain('<p class="empty">No plugins match “nothing&lt;here&gt;”</p>');
    expect(html).toContain('value="nothing&lt;here&gt;"');
    expect(html).toContain('<title>Search: nothing&lt;here&gt; · cmpkg registry</title>');
    expect(html).not.toContain('No plugins yet');
  });

  it('lists each plugin with link, display name, latest, description, engines and updated date', () => {
    const html = renderIndexPage({
      query: '',
      page: 1,
      result: searchPage([
        summary('alpha', { engines: ['sqlite', 'postgresql'], version: '2.1.0' }),
        summary('beta', { displayName: 'beta', version: null, engines: [], description: '' }),
      ]),
    });
    expect(html).toContain('<p class="count muted">2 plugins</p>');
    expect(html).toContain('<a class="name" href="/plugins/alpha">alpha</a>');
    expect(html).toContain('<span class="display-name">alpha display</span>');
    expect(html).toContain('<p class="description">About alpha</p>');
    expect(html).toContain('latest <code>2.1.0</code>');
    expect(html).toContain('engines: sqlite, postgresql');
    expect(html).toContain('updated <time datetime="2025-02-03T04:05:06.000Z"');
    expect(html).toContain('>2025-02-03</time>');
    // A display name equal to the id is not repeated; missing values say so instead of showing nothing.
    expect(html).toContain('<a class="name" href="/plugins/beta">beta</a></div>');
    expect(html).toContain('no stable release');
    expect(html).toContain('engines: <span class="muted">any</span>');
    expect(html).toContain('No description');
    expect(html.indexOf('/plugins/alpha')).toBeLessThan(html.indexOf('/plugins/beta'));
  });

  it('counts search matches in the singular and plural', () => {
    const one = renderIndexPage({ query: 'al', page: 1, result: searchPage([summary('alpha')]) });
    expect(one).toContain('1 plugin matches “al”');
    const two = renderIndexPage({
      query: 'a',
      page: 1,
      result: searchPage([summary('alpha'), summary('gamma')]),
    });
    expect(two).toContain('2 plugins match “a”');
  });

  it('shows the total, the range and previous/next links that keep the search', () => {
    const rows = (from: number, n: number) => Array.from({ length: n }, (_, i) => summary(`p${from + i}`));
    const first = renderIndexPage({ query: 'p', page: 1, result: searchPage(rows(0, PAGE_SIZE), 60) });
    expect(first).toContain('60 plugins match “p” (showing 1–25)');
    expect(first).toContain('<ol class="plugins" start="1">');
    expect(relLinks(first)).toEqual({ next: '/?q=p&amp;page=2' });
    expect(first).toContain('Page 1 of 3');

    const second = renderIndexPage({ query: 'p', page: 2, result: searchPage(rows(25, PAGE_SIZE), 60) });
    expect(second).toContain('(showing 26–50)');
    expect(second).toContain('<ol class="plugins" start="26">');
    expect(relLinks(second)).toEqual({ prev: '/?q=p', next: '/?q=p&amp;page=3' });

    const last = renderIndexPage({ query: 'p', page: 3, result: searchPage(rows(50, 10), 60) });
    expect(last).toContain('(showing 51–60)');
    expect(relLinks(last)).toEqual({ prev: '/?q=p&amp;page=2' });
    expect(last).toContain('Page 3 of 3');
  });

  it('paginates the unfiltered list without a q parameter', () => {
    const html = renderIndexPage({ query: '', page: 2, result: searchPage([summary('z')], 26) });
    expect(relLinks(html)).toEqual({ prev: '/' });
    const first = renderIndexPage({ query: '', page: 1, result: searchPage([summary('a')], 26) });
    expect(relLinks(first)).toEqual({ next: '/?page=2' });
  });

  it('escapes the search text inside pagination links', () => {
    const html = renderIndexPage({ query: '"><x', page: 1, result: searchPage([summary('a')], 30) });
    expect(relLinks(html)).toEqual({ next: '/?q=%22%3E%3Cx&amp;page=2' });
    expect(foreignMarkup(html)).toEqual([]);
  });

  it('explains a page past the end and links back to the real pages', () => {
    const html = renderIndexPage({ query: 'p', page: 9, result: searchPage([], 30) });
    expect(html).toContain('Page 9 is past the end of the results.');
    expect(html).toContain('<a href="/?q=p">Back to the first page</a>');
    expect(relLinks(html)).toEqual({ prev: '/?q=p&amp;page=2' });
    expect(html).not.toContain('No plugins match');
  });

  it('escapes every field of a hostile summary and of the search text', () => {
    const hostile = summary('evil', {
      displayName: ALL_PAYLOADS,
      description: ALL_PAYLOADS,
      version: PAYLOADS.attribute,
      owner: ALL_PAYLOADS,
      engines: [PAYLOADS.script, PAYLOADS.attribute],
      date: PAYLOADS.attribute,
    });
    const html = renderIndexPage({ query: ALL_PAYLOADS, page: 1, result: searchPage([hostile], 40) });
    for (const payload of [PAYLOADS.script, PAYLOADS.attribute, PAYLOADS.single]) {
      expect(html).not.toContain(payload);
    }
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).toContain('&quot;&gt;&lt;img src=x onerror=alert(1)&gt;');
    expect(foreignMarkup(html)).toEqual([]);
  });

  it('links to a hostile id only through the encoded /plugins/ path', () => {
    const html = renderIndexPage({
      query: '',
      page: 1,
      result: searchPage([summary(PAYLOADS.javascript), summary(PAYLOADS.attribute)]),
    });
    expect(html).toContain('href="/plugins/javascript%3Aalert(1)"');
    expect(html).toContain('href="/plugins/%22%3E%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E"');
    expect(foreignMarkup(html)).toEqual([]);
  });
});
