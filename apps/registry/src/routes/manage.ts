import { RegistryError } from '@cmpkg/core';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { createToken, isTokenId } from '../tokens.js';
import { parseBody, pluginParam, principalOf, type RouteContext } from './context.js';

const deprecateBody = z.object({
  range: z.string().min(1).max(256),
  message: z.string().max(1024),
});
const yankBody = z.object({ version: z.string().min(1).max(64), yanked: z.boolean().default(true) });
const distTagBody = z.object({ version: z.string().min(1).max(64) });
const keyBody = z.object({ publicKey: z.string().min(1).max(4096) });
const tokenBody = z.object({
  user: z.string().min(1).max(100),
  admin: z.boolean().optional(),
  note: z.string().max(1000).optional(),
});

function requireAdmin(user: { admin: boolean; user: string }): void {
  if (!user.admin) {
    throw new RegistryError(
      'E_REGISTRY_FORBIDDEN',
      `"${user.user}" is not an admin; this needs an admin token`,
    );
  }
}

/**
 * The owner's and admin's API: deprecate, yank, dist-tags, keys, tokens and whoami.
 *
 * @example
 * registerManageRoutes(app, ctx);
 */
export function registerManageRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { store } = ctx;
  // Writes: authenticate, then the per-token limit, both before the body is parsed.
  const write = { onRequest: ctx.authenticate, preParsing: ctx.writeLimit };
  // Token routes: the per-IP limit first, so guessing tokens is rate limited too.
  const tokenRoute = { onRequest: ctx.tokenLimit, preParsing: ctx.authenticate };

  app.post<{ Params: { plugin: string } }>('/-/plugins/:plugin/deprecate', write, async (request, reply) => {
    const id = pluginParam(request.params.plugin);
    const body = parseBody(deprecateBody, request.body);
    const versions = await store.deprecate(id, principalOf(request).user, body.range, body.message);
    return reply.send({ ok: true, versions });
  });

  app.post<{ Params: { plugin: string } }>('/-/plugins/:plugin/yank', write, async (request, reply) => {
    const id = pluginParam(request.params.plugin);
    const body = parseBody(yankBody, request.body);
    const { distTags } = await store.yank(id, principalOf(request).user, body.version, body.yanked);
    return reply.send({ ok: true, version: body.version, yanked: body.yanked, distTags });
  });

  app.put<{ Params: { plugin: string; tag: string } }>(
    '/-/plugins/:plugin/dist-tags/:tag',
    write,
    async (request, reply) => {
      const id = pluginParam(request.params.plugin);
      const body = parseBody(distTagBody, request.body);
      const distTags = await store.setDistTag(
        id,
        principalOf(request).user,
        request.params.tag,
        body.version,
      );
      return reply.send({ ok: true, distTags });
    },
  );

  app.delete<{ Params: { plugin: string; tag: string } }>(
    '/-/plugins/:plugin/dist-tags/:tag',
    write,
    async (request, reply) => {
      const id = pluginParam(request.params.plugin);
      const distTags = await store.removeDistTag(id, principalOf(request).user, request.params.tag);
      return reply.send({ ok: true, distTags });
    },
  );

  app.get<{ Params: { plugin: string } }>('/-/plugins/:plugin/keys', async (request, reply) => {
    const id = pluginParam(request.params.plugin);
    const keys = await store.keys(id);
    if (keys === undefined)
      throw new RegistryError('E_REGISTRY_NOT_FOUND', `no plugin "${id}" in this registry`);
    return reply.send(keys);
  });

  app.post<{ Params: { plugin: string } }>('/-/plugins/:plugin/keys', write, async (request, reply) => {
    const id = pluginParam(request.params.plugin);
    const body = parseBody(keyBody, request.body);
    const { keyId, created } = await store.addKey(id, principalOf(request).user, body.publicKey);
    return reply.code(created ? 201 : 200).send({ ok: true, keyId });
  });

  app.delete<{ Params: { plugin: string; keyId: string } }>(
    '/-/plugins/:plugin/keys/:keyId',
    write,
    async (request, reply) => {
      const id = pluginParam(request.params.plugin);
      await store.removeKey(id, principalOf(request).user, request.params.keyId);
      return reply.send({ ok: true });
    },
  );

  app.get('/-/whoami', tokenRoute, async (request, reply) => {
    const { user, admin, tokenId } = principalOf(request);
    return reply.send({ user, admin, tokenId });
  });

  app.post('/-/tokens', tokenRoute, async (request, reply) => {
    requireAdmin(principalOf(request));
    const body = parseBody(tokenBody, request.body);
    const created = await createToken(store, body);
    request.log.info(
      { tokenId: created.id, user: created.user, by: principalOf(request).user },
      'token created',
    );
    return reply.code(201).send(created);
  });

  app.get('/-/tokens', tokenRoute, async (request, reply) => {
    requireAdmin(principalOf(request));
    return reply.send({ tokens: await store.listTokens() });
  });

  app.delete<{ Params: { id: string } }>('/-/tokens/:id', tokenRoute, async (request, reply) => {
    const { id } = request.params;
    if (!isTokenId(id)) throw new RegistryError('E_REGISTRY_NOT_FOUND', `no token ${JSON.stringify(id)}`);
    await store.revokeToken(id, principalOf(request));
    return reply.send({ ok: true });
  });
}
