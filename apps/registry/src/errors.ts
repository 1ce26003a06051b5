import {
  isCmpkgError,
  PACKAGE_CODES,
  REGISTRY_CODES,
  RegistryError,
  type RegistryErrorCode,
} from '@cmpkg/core';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/**
 * The HTTP status of every registry code the server answers with: the one place they are decided.
 *
 * @example
 * REGISTRY_HTTP_STATUS.E_REGISTRY_VERSION_EXISTS; // 409
 */
export const REGISTRY_HTTP_STATUS: Record<RegistryErrorCode, number> = {
  E_REGISTRY_BAD_REQUEST: 400,
  E_REGISTRY_NOT_FOUND: 404,
  E_REGISTRY_INVALID_RANGE: 400,
  E_REGISTRY_NO_MATCH: 404,
  E_REGISTRY_TOO_LARGE: 413,
  E_REGISTRY_NAME_MISMATCH: 400,
  E_REGISTRY_UNAUTHORIZED: 401,
  E_REGISTRY_FORBIDDEN: 403,
  E_REGISTRY_KEY_NOT_REGISTERED: 403,
  E_REGISTRY_VERSION_EXISTS: 409,
  // Client-side codes; a server never answers with them, 500 if one escaped.
  E_REGISTRY_INTEGRITY: 500,
  E_REGISTRY_RATE_LIMITED: 429,
  E_REGISTRY_UNAVAILABLE: 503,
  E_REGISTRY_RESPONSE: 500,
  E_REGISTRY_STORAGE: 500,
};

/**
 * The JSON body of every error response: `{"error":{"code","message"}}`.
 *
 * @example
 * reply.code(404).send(errorBody('E_REGISTRY_NOT_FOUND', 'no plugin "x"'));
 */
export interface ErrorBody {
  error: { code: string; message: string };
}

/**
 * Builds an {@link ErrorBody}.
 *
 * @example
 * errorBody('E_REGISTRY_NOT_FOUND', 'no plugin "x"'); // { error: { code: 'E_REGISTRY_NOT_FOUND', message: 'no plugin "x"' } }
 */
export function errorBody(code: string, message: string): ErrorBody {
  return { error: { code, message } };
}

/**
 * What an error thrown while handling a request becomes: its status, code and message. Registry
 * codes by {@link REGISTRY_HTTP_STATUS}; a package code (a refused upload) → 400 with the same code;
 * Fastify's own client errors (bad JSON, wrong content type, body too large) → the registry's codes;
 * anything else → 500 E_INTERNAL with a generic message (the details go to the log only).
 *
 * @example
 * httpErrorOf(new RegistryError('E_REGISTRY_VERSION_EXISTS', 'sample@1.0.0 exists')); // { status: 409, … }
 */
export function httpErrorOf(err: unknown): {
  status: number;
  code: string;
  message: string;
  internal: boolean;
} {
  if (isCmpkgError(err)) {
    if (Object.hasOwn(REGISTRY_CODES, err.code)) {
      return {
        status: REGISTRY_HTTP_STATUS[err.code as RegistryErrorCode],
        code: err.code,
        message: err.message,
        internal: false,
      };
    }
    if (Object.hasOwn(PACKAGE_CODES, err.code)) {
      return { status: 400, code: err.code, message: err.message, internal: false };
    }
    if (err.category === 'input')
      return { status: 400, code: err.code, message: err.message, internal: false };
  }
  const status = (err as Partial<FastifyError>)?.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    const fastifyCode = (err as Partial<FastifyError>).code ?? '';
    const message = (err as Error).message ?? 'bad request';
    if (status === 413) return { status, code: 'E_REGISTRY_TOO_LARGE', message, internal: false };
    if (status === 404) return { status, code: 'E_REGISTRY_NOT_FOUND', message, internal: false };
    if (status === 429) return { status, code: 'E_REGISTRY_RATE_LIMITED', message, internal: false };
    const why =
      fastifyCode === 'FST_ERR_CTP_INVALID_MEDIA_TYPE'
        ? `unsupported Content-Type: ${message}`
        : fastifyCode === 'FST_ERR_CTP_EMPTY_JSON_BODY'
          ? 'the JSON body is empty'
          : message;
    return { status: 400, code: 'E_REGISTRY_BAD_REQUEST', message: why, internal: false };
  }
  return {
    status: 500,
    code: 'E_INTERNAL',
    message: 'internal server error; see the registry log',
    internal: true,
  };
}

/**
 * Installs the error and not-found handlers, so every error the app answers with — from a route,
 * a hook, Fastify itself or the rate limiter — has the one JSON shape.
 *
 * @example
 * installErrorHandlers(app);
 */
export function installErrorHandlers(app: FastifyInstance): void {
  app.setErrorHandler((err: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const mapped = httpErrorOf(err);
    // A 5xx with a registry code (E_REGISTRY_STORAGE) tells the client little on purpose; its cause
    // (paths, errno) belongs in the log.
    if (mapped.internal || mapped.status >= 500) request.log.error({ err }, 'request failed');
    else request.log.debug({ code: mapped.code }, mapped.message);
    // A route may have set the caching headers of what it meant to send (a tarball's `immutable`,
    // its ETag) before it failed; an error must not be cached as that.
    reply.removeHeader('etag');
    reply.removeHeader('last-modified');
    reply.header('cache-control', 'no-store');
    if (mapped.status === 401) reply.header('www-authenticate', 'Bearer realm="cmpkg"');
    if (mapped.status === 429 && !reply.hasHeader('retry-after')) reply.header('retry-after', '60');
    reply
      .code(mapped.status)
      .type('application/json; charset=utf-8')
      .send(errorBody(mapped.code, mapped.message));
  });
  app.setNotFoundHandler((request: FastifyRequest, reply: FastifyReply) => {
    reply
      .code(404)
      .type('application/json; charset=utf-8')
      .send(errorBody('E_REGISTRY_NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]}`));
  });
}

/**
 * A registry error for a request body or parameter that does not validate.
 *
 * @example
 * throw badRequest('body.version: expected a string');
 */
export function badRequest(message: string): RegistryError {
  return new RegistryError('E_REGISTRY_BAD_REQUEST', message);
}
