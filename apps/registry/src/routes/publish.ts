import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { isCmpkgError, RegistryError } from '@cmpkg/core';
import { openPackage, README_ENTRY, type VerifiedPackage } from '@cmpkg/packager';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { type StoredSummary, tarballUrl } from '../registry-store.js';
import { isDistTagName } from '../resolve.js';
import { isStream, pluginParam, principalOf, RESERVED_IDS, type RouteContext } from './context.js';

/** The width of `registry_versions.version`. */
export const MAX_VERSION_LENGTH = 64;

/** The most of a README a packument carries. */
export const MAX_README_BYTES = 64 * 1024;

/** Cuts `text` to at most `max` UTF-8 bytes without splitting a character. */
function truncateUtf8(text: string, max: number): string {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= max) return text;
  let end = max;
  // Back up over continuation bytes (10xxxxxx) to a character boundary.
  while (end > 0 && ((bytes[end] ?? 0) & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end).toString('utf8');
}

async function summarise(pkg: VerifiedPackage): Promise<StoredSummary> {
  const plugin = await pkg.loadPlugin();
  const summary: StoredSummary = {
    engines: [...pkg.manifest.engines],
    requires: { ...pkg.manifest.requires },
    migrations: plugin.migrations.map((m) => ({
      id: m.id,
      version: m.version,
      name: m.name,
      description: m.description ?? '',
      risk: m.riskLevel,
      reversible: m.steps.down.length > 0,
    })),
    data: pkg.manifest.data.map((d) => ({ table: d.table, rows: d.rows })),
  };
  if (pkg.manifest.files.some((f) => f.path === README_ENTRY)) {
    summary.readme = truncateUtf8(await readFile(join(pkg.dir, README_ENTRY), 'utf8'), MAX_README_BYTES);
  }
  return summary;
}

function tooLarge(limit: number): RegistryError {
  return new RegistryError(
    'E_REGISTRY_TOO_LARGE',
    `the upload is larger than this registry accepts (${limit} bytes, REGISTRY_MAX_UPLOAD)`,
    { details: { limit } },
  );
}

/**
 * The packager names the archive and the files it extracted by their path; on the server those are
 * the registry's temp paths (`<storage>/tmp/upload-…`, `<storage>/tmp/cmpkg-pkg-…/migrations/…`),
 * which a client must not learn. The message keeps its meaning with the upload called "the upload"
 * and extracted files by their path inside the package. The code, class and cause are kept.
 */
function hideServerPaths(err: unknown, tempFile: string, tmpDir: string): unknown {
  if (!isCmpkgError(err)) return err;
  const literal = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const extracted = new RegExp(`${literal(tmpDir)}[\\/]cmpkg-pkg-[^\\/\\s"']*[\\/]?`, 'g');
  err.message = err.message
    .replaceAll(tempFile, 'the upload')
    .replace(extracted, '')
    .replaceAll(tmpDir, '<tmp>');
  return err;
}

/** An answer before the body is read: the connection is closed after it, not drained. */
function refuseUnread(reply: FastifyReply, err: RegistryError): never {
  reply.header('connection', 'close');
  throw err;
}

/**
 * `PUT /:plugin`: publish a `.cmpkg` (raw body, `application/octet-stream`, bearer token, `?tag=`).
 * The archive is verified exactly as `cmpkg install` verifies it before anything is stored.
 *
 * @example
 * registerPublishRoute(app, ctx);
 */
export function registerPublishRoute(app: FastifyInstance, ctx: RouteContext): void {
  const { store, config } = ctx;
  const limit = config.maxUploadBytes;

  app.put<{ Params: { plugin: string }; Querystring: { tag?: string } }>(
    '/:plugin',
    { onRequest: ctx.authenticate, preParsing: ctx.writeLimit },
    async (request, reply) => {
      const principal = principalOf(request);
      const length = request.headers['content-length'];
      if (length !== undefined && Number(length) > limit) refuseUnread(reply, tooLarge(limit));
      const id = pluginParam(request.params.plugin);
      if (RESERVED_IDS.has(id)) {
        refuseUnread(
          reply,
          new RegistryError('E_REGISTRY_NAME_MISMATCH', `"${id}" is a reserved name; it cannot be published`),
        );
      }
      const tag = request.query.tag ?? 'latest';
      if (typeof tag !== 'string' || !isDistTagName(tag)) {
        refuseUnread(
          reply,
          new RegistryError(
            'E_REGISTRY_BAD_REQUEST',
            `?tag=${JSON.stringify(tag)} is not a valid dist-tag name (a letter, then letters, digits, ".", "_" or "-"; not a semver range)`,
          ),
        );
      }
      const body = request.body;
      if (!isStream(body)) {
        refuseUnread(
          reply,
          new RegistryError(
            'E_REGISTRY_BAD_REQUEST',
            'the request body must be the .cmpkg archive with Content-Type: application/octet-stream',
          ),
        );
      }

      let temp: { file: string; size: number };
      try {
        temp = await store.blobs.receive(body, limit);
      } catch (err) {
        reply.header('connection', 'close');
        throw err;
      }
      let pkg: VerifiedPackage | undefined;
      let created: Record<string, unknown>;
      try {
        if (temp.size === 0) {
          throw new RegistryError(
            'E_REGISTRY_BAD_REQUEST',
            'the request has no body; send the .cmpkg archive',
          );
        }
        pkg = await openPackage(temp.file, {
          tempRoot: store.blobs.tmpDir,
          limits: { maxArchiveBytes: limit, maxExtractedBytes: config.maxExtractedBytes },
        }).catch((err: unknown) => {
          throw hideServerPaths(err, temp.file, store.blobs.tmpDir);
        });
        const { manifest } = pkg;
        if (manifest.plugin.id !== id) {
          throw new RegistryError(
            'E_REGISTRY_NAME_MISMATCH',
            `the archive is a package of plugin "${manifest.plugin.id}", but it was uploaded to /${id}`,
            { details: { plugin: id, archivePlugin: manifest.plugin.id } },
          );
        }
        // The schema's width (varchar(64), as the other version fields of the API): SQLite would
        // store a longer one, PostgreSQL would fail the insert with a 500.
        if (manifest.plugin.version.length > MAX_VERSION_LENGTH) {
          throw new RegistryError(
            'E_REGISTRY_BAD_REQUEST',
            `cmpkg.json plugin.version is ${manifest.plugin.version.length} characters long; this registry accepts at most ${MAX_VERSION_LENGTH}`,
          );
        }
        const summary = await summarise(pkg).catch((err: unknown) => {
          throw hideServerPaths(err, temp.file, store.blobs.tmpDir);
        });
        const version = manifest.plugin.version;
        const outcome = await store.publish({
          pluginId: id,
          version,
          user: principal.user,
          tag,
          signer: pkg.signer,
          rotation: pkg.rotation,
          digest: pkg.digest,
          integrity: pkg.integrity,
          size: pkg.size,
          manifest: Buffer.from(pkg.manifestBytes).toString('utf8'),
          displayName: manifest.plugin.name ?? id,
          description: manifest.plugin.description ?? '',
          summary,
          tempFile: temp.file,
        });
        request.log.info({ plugin: id, version, user: principal.user }, 'published');
        created = {
          ok: true,
          name: id,
          version,
          integrity: pkg.integrity,
          digest: pkg.digest,
          size: pkg.size,
          keyId: outcome.keyId,
          tarball: tarballUrl(ctx.origin(request), id, version),
          firstPublish: outcome.firstPublish,
          distTags: outcome.distTags,
        };
      } finally {
        // Before answering: a client that sees the answer sees a clean tmp dir.
        await pkg?.dispose();
        await rm(temp.file, { force: true });
      }
      return reply.code(201).send(created);
    },
  );
}
