import type { PluginSummary, SearchPage } from '../types.js';
import { escapeHtml, safeUrl } from './escape.js';
import { formatCount, formatDate, plural } from './format.js';
import { renderLayout } from './layout.js';

/**
 * Plugins per page on `/`.
 *
 * @example
 * const from = (page - 1) * PAGE_SIZE;
 */
export const PAGE_SIZE = 25;

/**
 * What {@link renderIndexPage} shows.
 *
 * @example
 * const options: IndexPageOptions = { query: 'sample', page: 1, result: await reader.search({ text: 'sample', size: 25, from: 0 }) };
 */
export interface IndexPageOptions {
  /** The search text ('' lists everything). */
  query: string;
  /** 1-based page number. */
  page: number;
  /** The reader's answer for this page. */
  result: SearchPage;
  /** Default {@link PAGE_SIZE}. */
  pageSize?: number;
}

/**
 * The URL of a page of `/`, keeping the search text; page 1 has no `page` parameter so the
 * canonical list URL stays `/`.
 *
 * @example
 * indexHref('a&b', 2) // '/?q=a%26b&page=2'
 */
export function indexHref(query: string, page: number): string {
  const params = new URLSearchParams();
  if (query !== '') params.set('q', query);
  if (page > 1) params.set('page', String(page));
  const search = params.toString();
  return search === '' ? '/' : `/?${search}`;
}

/**
 * The URL of a plugin's page.
 *
 * @example
 * pluginHref('sample') // '/plugins/sample'
 */
export function pluginHref(id: string): string {
  return `/plugins/${encodeURIComponent(id)}`;
}

function renderRow(summary: PluginSummary): string {
  const engines =
    summary.engines.length === 0
      ? '<span class="muted">any</span>'
      : summary.engines.map((e) => escapeHtml(e)).join(', ');
  const version =
    summary.version === null
      ? '<span class="muted">no stable release</span>'
      : `<code>${escapeHtml(summary.version)}</code>`;
  const display =
    summary.displayName !== '' && summary.displayName !== summary.name
      ? `<span class="display-name">${escapeHtml(summary.displayName)}</span>`
      : '';
  const description =
    summary.description === ''
      ? '<p class="description muted">No description</p>'
      : `<p class="description">${escapeHtml(summary.description)}</p>`;
  return `<li class="plugin">
<div class="title"><a class="name" href="${safeUrl(pluginHref(summary.name))}">${escapeHtml(summary.name)}</a>${display}</div>
${description}
<div class="meta"><span>latest ${version}</span><span>engines: ${engines}</span><span>updated ${formatDate(summary.date)}</span></div>
</li>`;
}

function renderPagination(query: string, page: number, pageSize: number, total: number): string {
  const lastPage = Math.max(1, Math.ceil(total / pageSize));
  if (lastPage === 1 && page === 1) return '';
  // A page past the end links back to the real last page, not to the non-existent page before it.
  const previous =
    page > 1
      ? `<a rel="prev" href="${safeUrl(indexHref(query, Math.min(page - 1, lastPage)))}">← Previous</a>`
      : '<span></span>';
  const next =
    page < lastPage
      ? `<a rel="next" href="${safeUrl(indexHref(query, page + 1))}">Next →</a>`
      : '<span></span>';
  return `<nav class="pagination" aria-label="Pages">${previous}<span class="muted">Page ${formatCount(page)} of ${formatCount(lastPage)}</span>${next}</nav>`;
}

/**
 * `/`: the plugin list or the search results for `query`, one page of them, with the total and
 * previous/next links that keep the search.
 *
 * @example
 * reply.type('text/html; charset=utf-8').send(renderIndexPage({ query: '', page: 1, result }));
 */
export function renderIndexPage(options: IndexPageOptions): string {
  const { query, page, result } = options;
  const pageSize = options.pageSize ?? PAGE_SIZE;
  const quoted = `“${escapeHtml(query)}”`;
  const heading = query === '' ? 'Plugins' : `Search results for ${quoted}`;
  let content: string;
  if (result.total === 0) {
    content =
      query === ''
        ? '<p class="empty">No plugins yet</p>'
        : `<p class="empty">No plugins match ${quoted}</p>`;
  } else if (result.objects.length === 0) {
    content = `<p class="empty">Page ${formatCount(page)} is past the end of the results. <a href="${safeUrl(indexHref(query, 1))}">Back to the first page</a></p>`;
  } else {
    const first = (page - 1) * pageSize + 1;
    const last = first + result.objects.length - 1;
    const count =
      query === ''
        ? plural(result.total, 'plugin')
        : `${plural(result.total, 'plugin')} ${result.total === 1 ? 'matches' : 'match'} ${quoted}`;
    const range =
      result.total > result.objects.length ? ` (showing ${formatCount(first)}–${formatCount(last)})` : '';
    content = `<p class="count muted">${count}${range}</p>
<ol class="plugins" start="${first}">
${result.objects.map((o) => renderRow(o.package)).join('\n')}
</ol>`;
  }
  const body = `<h1>${heading}</h1>
${content}
${renderPagination(query, page, pageSize, result.total)}`;
  return renderLayout({
    title: query === '' ? 'Plugins' : `Search: ${query}`,
    body,
    query,
  });
}
