import { RegistryError } from '@cmpkg/core';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { notModified, pluginParam, type RouteContext, sendJson } from './context.js';

const searchQuery = z.object({
  text: z.string().max(200).optional(),
  size: z.coerce.number().int().min(1).max(250).default(20),
  from: z.coerce.number().int().min(0).max(1_000_000).default(0),
});

function unknownPlugin(id: string): RegistryError {
  return new RegistryError('E_REGISTRY_NOT_FOUND', `no plugin "${id}" in this registry`, {
    details: { plugin: id },
  });
}

/**
 * The read API: health, search, packument, version resolution and tarballs.
 *
 * @example
 * registerReadRoutes(app, ctx);
 */
export function registerReadRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { store } = ctx;

  app.get('/-/health', async (_request, reply) => {
    try {
      const counts = await store.counts();
      return reply.send({ status: 'ok', database: store.engine, ...counts });
    } catch (err) {
      reply.log.error({ err }, 'health check: the database does not answer');
      return reply
        .code(503)
        .send({ status: 'error', database: store.engine, message: 'the database does not answer' });
    }
  });

  app.get('/-/v1/search', async (request, reply) => {
    const parsed = searchQuery.safeParse(request.query);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new RegistryError(
        'E_REGISTRY_BAD_REQUEST',
        `query parameter ${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'} (size 1-250, from >= 0)`,
      );
    }
    return reply.send(await store.search(parsed.data));
  });

  app.get<{ Params: { plugin: string } }>('/:plugin', async (request, reply) => {
    const id = pluginParam(request.params.plugin);
    const view = await store.view(id, ctx.origin(request));
    if (view === undefined) throw unknownPlugin(id);
    reply.header('etag', view.etag).header('cache-control', 'no-cache');
    if (notModified(request, view.etag)) return reply.code(304).send();
    return sendJson(reply, view.body);
  });

  app.get<{ Params: { plugin: string; rangeOrTag: string } }>(
    '/:plugin/:rangeOrTag',
    async (request, reply) => {
      const id = pluginParam(request.params.plugin);
      const spec = request.params.rangeOrTag.trim();
      if (spec === '' || spec.length > 256) {
        throw new RegistryError(
          'E_REGISTRY_INVALID_RANGE',
          'the version spec is empty or longer than 256 characters',
        );
      }
      const hit = await store.resolve(id, spec, ctx.origin(request));
      if (hit === undefined) throw unknownPlugin(id);
      reply.header('cache-control', 'no-cache');
      return sendJson(reply, hit.body);
    },
  );

  app.get<{ Params: { plugin: string; file: string } }>('/:plugin/-/:file', async (request, reply) => {
    const id = pluginParam(request.params.plugin);
    const { file } = request.params;
    const prefix = `${id}-`;
    const version =
      file.startsWith(prefix) && file.endsWith('.cmpkg') ? file.slice(prefix.length, -'.cmpkg'.length) : '';
    const archive = version === '' ? undefined : await store.archive(id, version);
    if (archive === undefined) {
      throw new RegistryError('E_REGISTRY_NOT_FOUND', `no tarball ${file} for plugin "${id}"`, {
        details: { plugin: id, file },
      });
    }
    // Checked before any caching header is set: `immutable` belongs on the real file only, never on
    // an error a CDN would then keep for a year.
    if (!(await store.blobs.has(archive.hex))) {
      throw new RegistryError(
        'E_REGISTRY_STORAGE',
        `the archive of ${id}@${version} is missing from storage`,
      );
    }
    const etag = `"${archive.hex}"`;
    reply
      .header('etag', etag)
      .header('cache-control', 'public, max-age=31536000, immutable')
      .header('content-type', 'application/octet-stream')
      // Uploaded bytes: a browser must never sniff them into HTML or script.
      .header('x-content-type-options', 'nosniff');
    if (notModified(request, etag)) return reply.code(304).send();
    reply.header('content-length', String(archive.size));
    return reply.send(store.blobs.open(archive.hex));
  });
}
