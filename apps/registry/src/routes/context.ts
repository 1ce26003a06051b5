import { ID_PATTERN, RegistryError } from '@cmpkg/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import type { RegistryConfig } from '../config.js';
import type { RegistryStore } from '../registry-store.js';
import { bearerToken, hashToken, isTokenShaped } from '../tokens.js';

/**
 * Plugin ids the registry never hands out: they are (or may become) its own paths.
 *
 * @example
 * RESERVED_IDS.has('favicon.ico'); // true
 */
export const RESERVED_IDS: ReadonlySet<string> = new Set(['plugins', 'favicon.ico', 'robots.txt']);
/** npm's limit, and the width of `registry_plugins.id`. */
export const MAX_ID_LENGTH = 214;

/** Who a request's bearer token belongs to. */
export interface Principal {
  user: string;
  admin: boolean;
  tokenId: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
  }
}

/**
 * Counts failed authentications per IP in a fixed one-minute window: past the limit, even a good
 * token is answered 429 until the window ends, so tokens cannot be guessed at speed.
 */
export class FailureLimiter {
  readonly #limit: number;
  readonly #windowMs: number;
  readonly #hits = new Map<string, { count: number; resetAt: number }>();

  constructor(limit: number, windowMs = 60_000) {
    this.#limit = limit;
    this.#windowMs = windowMs;
  }

  /** Seconds until `key` may try again, or 0 when it may now. */
  blockedFor(key: string, now = Date.now()): number {
    const hit = this.#hits.get(key);
    if (hit === undefined || hit.resetAt <= now) return 0;
    return hit.count >= this.#limit ? Math.ceil((hit.resetAt - now) / 1000) : 0;
  }

  fail(key: string, now = Date.now()): void {
    const hit = this.#hits.get(key);
    if (hit === undefined || hit.resetAt <= now) {
      // Forget expired windows now and then, so the map stays as small as the current attackers.
      if (this.#hits.size > 10_000) {
        for (const [k, v] of this.#hits) if (v.resetAt <= now) this.#hits.delete(k);
      }
      this.#hits.set(key, { count: 1, resetAt: now + this.#windowMs });
    } else {
      hit.count++;
    }
  }
}

/** What every route module gets. */
export interface RouteContext {
  store: RegistryStore;
  config: RegistryConfig;
  /** REGISTRY_PUBLIC_URL, else the request's `protocol://host`. */
  origin(request: FastifyRequest): string;
  /** Fastify hook: sets `request.principal` from the bearer token, or answers 401 (429 when guessing). */
  authenticate(request: FastifyRequest, reply: FastifyReply): Promise<void>;
  /**
   * Hook: publishRateLimit per minute per token (else per IP), one budget shared by every write
   * route. Runs after `authenticate`, so it can key by token.
   */
  writeLimit(request: FastifyRequest, reply: FastifyReply): Promise<void>;
  /** Hook: tokenRateLimit per minute per IP, one budget shared by /-/tokens* and /-/whoami. */
  tokenLimit(request: FastifyRequest, reply: FastifyReply): Promise<void>;
}

/** A hook made by `app.rateLimit` (@fastify/rate-limit), usable in any hook slot. */
type LimitHook = (request: FastifyRequest, reply: FastifyReply) => Promise<void>;

/**
 * Builds the shared route context.
 *
 * @example
 * const ctx = routeContext(app, store, config); // after app.register(rateLimit)
 * app.get('/-/whoami', { onRequest: ctx.tokenLimit, preParsing: ctx.authenticate }, handler);
 */
export function routeContext(
  app: FastifyInstance,
  store: RegistryStore,
  config: RegistryConfig,
): RouteContext {
  const failures = new FailureLimiter(config.tokenRateLimit);
  const origin = config.publicUrl ? () => config.publicUrl as string : requestOrigin;
  return {
    store,
    config,
    origin,
    async authenticate(request: FastifyRequest, reply: FastifyReply) {
      const blocked = failures.blockedFor(request.ip);
      if (blocked > 0) {
        reply.header('retry-after', String(blocked));
        throw new RegistryError(
          'E_REGISTRY_RATE_LIMITED',
          `too many failed authentications from this address; retry in ${blocked} s`,
        );
      }
      const header = request.headers.authorization;
      const token = bearerToken(header);
      if (token === undefined) {
        throw new RegistryError(
          'E_REGISTRY_UNAUTHORIZED',
          header === undefined
            ? 'this request needs a token: Authorization: Bearer <token> (CMPKG_TOKEN for the cmpkg CLI)'
            : 'the Authorization header is not "Bearer <token>"',
        );
      }
      const holder = isTokenShaped(token) ? await store.authenticate(hashToken(token)) : undefined;
      if (holder === undefined) {
        failures.fail(request.ip);
        throw new RegistryError('E_REGISTRY_UNAUTHORIZED', 'the token is unknown or revoked');
      }
      request.principal = { user: holder.user, admin: holder.admin, tokenId: holder.id };
    },
    // One limiter each (not per-route config): @fastify/rate-limit keeps a separate budget per
    // route otherwise, and these budgets span several routes.
    writeLimit: app.rateLimit({
      max: config.publishRateLimit,
      timeWindow: 60_000,
      keyGenerator: (request: FastifyRequest) =>
        request.principal ? `token:${request.principal.tokenId}` : `ip:${request.ip}`,
    }) as unknown as LimitHook,
    tokenLimit: app.rateLimit({
      max: config.tokenRateLimit,
      timeWindow: 60_000,
      keyGenerator: (request: FastifyRequest) => `ip:${request.ip}`,
    }) as unknown as LimitHook,
  };
}

/**
 * A DNS name (`_` allowed: container networks use it), IPv4 or bracketed IPv6 address, with an
 * optional port: all a Host header may be.
 */
const HOST_PATTERN =
  /^(?:[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?)*\.?|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

/**
 * The request's `protocol://host`, used when REGISTRY_PUBLIC_URL is not set. The Host header (or
 * X-Forwarded-Host behind a trusted proxy) is the client's to choose and ends up in tarball URLs, the
 * cached packuments and the pages' install command, so anything but a plain host[:port] is refused
 * (E_REGISTRY_BAD_REQUEST) rather than copied into a URL (`evil/x?` would point the tarball elsewhere).
 *
 * @example
 * requestOrigin(request); // 'http://127.0.0.1:4880'
 */
export function requestOrigin(request: FastifyRequest): string {
  const { protocol } = request;
  // An HTTP/1.0 request may come without any Host.
  const host: string = request.host ?? '';
  if ((protocol !== 'http' && protocol !== 'https') || host.length > 260 || !HOST_PATTERN.test(host)) {
    throw new RegistryError(
      'E_REGISTRY_BAD_REQUEST',
      `the Host header ${JSON.stringify(host.length > 100 ? `${host.slice(0, 100)}…` : host)} is not a host[:port] ` +
        '(set REGISTRY_PUBLIC_URL when the registry is reached through another name)',
    );
  }
  return `${protocol}://${host}`;
}

/** The authenticated principal (routes with the `authenticate` hook only). */
export function principalOf(request: FastifyRequest): Principal {
  if (request.principal === null) {
    throw new RegistryError('E_REGISTRY_UNAUTHORIZED', 'this request needs a token');
  }
  return request.principal;
}

/**
 * Checks a plugin id from a URL: E_REGISTRY_BAD_REQUEST when it is not a valid id.
 *
 * @example
 * const id = pluginParam('sample');
 */
export function pluginParam(id: string): string {
  if (id.length > MAX_ID_LENGTH || !ID_PATTERN.test(id)) {
    throw new RegistryError(
      'E_REGISTRY_BAD_REQUEST',
      `${JSON.stringify(id.length > 100 ? `${id.slice(0, 100)}…` : id)} is not a valid plugin id ` +
        `([a-z0-9][a-z0-9._-]*, at most ${MAX_ID_LENGTH} characters)`,
    );
  }
  return id;
}

/**
 * Validates a JSON body against a zod schema; E_REGISTRY_BAD_REQUEST naming the field otherwise.
 *
 * @example
 * const { version } = parseBody(z.object({ version: z.string() }), request.body);
 */
export function parseBody<T>(schema: z.ZodType<T>, body: unknown): T {
  if (typeof body !== 'object' || body === null || Array.isArray(body) || isStream(body)) {
    throw new RegistryError(
      'E_REGISTRY_BAD_REQUEST',
      'the request body must be a JSON object (Content-Type: application/json)',
    );
  }
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const field = issue?.path.length ? `body.${issue.path.join('.')}` : 'body';
  throw new RegistryError('E_REGISTRY_BAD_REQUEST', `${field}: ${issue?.message ?? 'invalid'}`);
}

/** Whether a parsed body is the raw stream the octet-stream parser hands over. */
export function isStream(body: unknown): body is NodeJS.ReadableStream {
  return typeof body === 'object' && body !== null && typeof (body as { pipe?: unknown }).pipe === 'function';
}

/** Sends pre-serialised JSON. */
export function sendJson(reply: FastifyReply, json: string | Buffer, status = 200): FastifyReply {
  return reply.code(status).type('application/json; charset=utf-8').send(json);
}

/** Whether `If-None-Match` matches `etag` (weak comparison, lists and `*` included). */
export function notModified(request: FastifyRequest, etag: string): boolean {
  const header = request.headers['if-none-match'];
  if (header === undefined) return false;
  if (header === etag) return true;
  const bare = etag.replace(/^W\//, '');
  return header.split(',').some((part) => {
    const tag = part.trim();
    return tag === '*' || tag.replace(/^W\//, '') === bare;
  });
}
