import { ID_PATTERN } from '@cmpkg/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { RegistryReader } from '../types.js';
import { PAGE_SIZE, renderIndexPage } from './index-page.js';
import { renderNotFoundPage, renderPluginPage } from './plugin-page.js';

/**
 * What the browse pages need from the server.
 *
 * @example
 * registerPages(app, { reader: store, origin: (request) => `${request.protocol}://${request.host}` });
 */
export interface PagesContext {
  reader: RegistryReader;
  /** The registry's base URL as seen by this request (REGISTRY_PUBLIC_URL or protocol://host). */
  origin(request: FastifyRequest): string;
}

/**
 * The headers of every HTML page: no script may run, nothing may be loaded from elsewhere, the page
 * may not be framed, and the browser must not guess another content type.
 *
 * @example
 * reply.headers(PAGE_HEADERS);
 */
export const PAGE_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'content-security-policy':
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  // The list changes with every publish; a browser must ask again rather than show a stale page.
  'cache-control': 'no-cache',
} as const;

/** Longest search text passed on; the search box says the same (maxlength). */
export const MAX_QUERY_LENGTH = 200;
/** Highest page number honoured, so `(page - 1) * PAGE_SIZE` stays a small safe integer. */
export const MAX_PAGE = 999_999;

/** A repeated parameter (`?q=a&q=b`) arrives as an array; the first one counts. */
function firstString(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (Array.isArray(value) && typeof value[0] === 'string') return value[0];
  return undefined;
}

function queryParam(request: FastifyRequest, name: string): unknown {
  const query = request.query;
  return typeof query === 'object' && query !== null ? (query as Record<string, unknown>)[name] : undefined;
}

/**
 * The `?page=` value as a page number: anything that is not a whole number from 1 to
 * {@link MAX_PAGE} (`abc`, `-1`, `0`, `1.5`, `1e3`) means page 1, never an error.
 *
 * @example
 * parsePage('3') // 3
 * parsePage('abc') // 1
 */
export function parsePage(value: unknown): number {
  const raw = firstString(value);
  if (raw === undefined || !/^\d{1,7}$/.test(raw)) return 1;
  const page = Number(raw);
  return page >= 1 && page <= MAX_PAGE ? page : 1;
}

/**
 * The `?q=` value: trimmed and cut to {@link MAX_QUERY_LENGTH}; missing or not a string means ''.
 *
 * @example
 * parseQuery('  sample ') // 'sample'
 */
export function parseQuery(value: unknown): string {
  return (firstString(value) ?? '').trim().slice(0, MAX_QUERY_LENGTH);
}

function sendHtml(reply: FastifyReply, status: number, html: string): FastifyReply {
  return reply.code(status).headers(PAGE_HEADERS).type(PAGE_HEADERS['content-type']).send(html);
}

/**
 * Registers the server-rendered browse pages: `GET /` (list, `?q=` search, `?page=` 25 per page)
 * and `GET /plugins/:id` (a 404 page for an unknown or invalid id). Reader failures are thrown on,
 * so the server's error handler answers them like any other.
 *
 * @example
 * registerPages(app, { reader: store, origin: (request) => config.publicUrl ?? `${request.protocol}://${request.host}` });
 */
export function registerPages(app: FastifyInstance, ctx: PagesContext): void {
  app.get('/', async (request, reply) => {
    const query = parseQuery(queryParam(request, 'q'));
    const page = parsePage(queryParam(request, 'page'));
    const result = await ctx.reader.search({
      ...(query === '' ? {} : { text: query }),
      size: PAGE_SIZE,
      from: (page - 1) * PAGE_SIZE,
    });
    return sendHtml(reply, 200, renderIndexPage({ query, page, result }));
  });

  app.get('/plugins/:id', async (request, reply) => {
    const params = request.params as Record<string, unknown>;
    const id = typeof params.id === 'string' ? params.id : '';
    // An id that can never exist is not worth a database query.
    if (!ID_PATTERN.test(id)) return sendHtml(reply, 404, renderNotFoundPage(id));
    const packument = await ctx.reader.packument(id, ctx.origin(request));
    if (packument === undefined) return sendHtml(reply, 404, renderNotFoundPage(id));
    return sendHtml(reply, 200, renderPluginPage({ packument, origin: ctx.origin(request) }));
  });
}
