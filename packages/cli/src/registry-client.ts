import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import {
  PACKAGE_CODES,
  PackageError,
  type PackageErrorCode,
  REGISTRY_CODES,
  RegistryError,
  type RegistryErrorCode,
  UsageError,
} from '@cmpkg/core';
import { z } from 'zod';

// The CLI's side of the registry API (the contract's "HTTP API" and "Packument / VersionDocument"):
// every answer is checked against these schemas, so a registry that answers something else is one
// clear E_REGISTRY_RESPONSE instead of an `undefined` deep inside a command.

const isoTime = z.string().min(1);
const sriSha512 = z.string().regex(/^sha512-[A-Za-z0-9+/]+={0,2}$/, 'must be sha512-<base64> (SRI)');

const DistSchema = z.object({
  tarball: z.url({ protocol: /^https?$/ }),
  integrity: sriSha512,
  digest: z.string().regex(/^sha256:[0-9a-f]{64}$/),
  size: z.number().int().nonnegative(),
  keyId: z.string().min(1),
});

const VersionDocumentSchema = z.object({
  name: z.string(),
  version: z.string(),
  displayName: z.string(),
  description: z.string(),
  engines: z.array(z.string()),
  requires: z.record(z.string(), z.string()),
  migrations: z.array(
    z.object({
      id: z.string(),
      version: z.string(),
      name: z.string(),
      description: z.string(),
      risk: z.enum(['low', 'medium', 'high', 'critical']),
      reversible: z.boolean(),
    }),
  ),
  data: z.array(z.object({ table: z.string(), rows: z.number().int().nonnegative() })),
  dist: DistSchema,
  publishedAt: isoTime,
  publishedBy: z.string(),
  deprecated: z.string().optional(),
  yanked: z.literal(true).optional(),
});

const KeySchema = z.object({
  keyId: z.string(),
  publicKey: z.string(),
  addedAt: isoTime,
  addedBy: z.string(),
});

const PackumentSchema = z.object({
  name: z.string(),
  displayName: z.string(),
  description: z.string(),
  owner: z.string(),
  'dist-tags': z.record(z.string(), z.string()),
  versions: z.record(z.string(), VersionDocumentSchema),
  time: z.record(z.string(), isoTime),
  keys: z.array(KeySchema),
  readme: z.string().optional(),
});

const PluginSummarySchema = z.object({
  name: z.string(),
  displayName: z.string(),
  description: z.string(),
  version: z.string().nullable(),
  date: isoTime,
  owner: z.string(),
  engines: z.array(z.string()),
});

const SearchPageSchema = z.object({
  objects: z.array(z.object({ package: PluginSummarySchema, score: z.object({ final: z.number() }) })),
  total: z.number().int().nonnegative(),
  time: isoTime,
});

const DistTagsSchema = z.record(z.string(), z.string());

const PublishResultSchema = z.object({
  ok: z.literal(true),
  name: z.string(),
  version: z.string(),
  integrity: sriSha512,
  digest: z.string(),
  size: z.number().int().nonnegative(),
  keyId: z.string(),
  tarball: z.string(),
  firstPublish: z.boolean(),
  distTags: DistTagsSchema,
});

const DeprecateResultSchema = z.object({ ok: z.literal(true), versions: z.array(z.string()) });
const YankResultSchema = z.object({
  ok: z.literal(true),
  version: z.string(),
  yanked: z.boolean(),
  distTags: DistTagsSchema,
});
const KeyListSchema = z.object({ owner: z.string(), keys: z.array(KeySchema) });
const KeyAddedSchema = z.object({ ok: z.literal(true), keyId: z.string() });
// The contract leaves the bodies of these answers open beyond `ok`; dist-tags come back when sent.
const OkSchema = z.object({ ok: z.literal(true), distTags: DistTagsSchema.optional() });
const WhoamiSchema = z.object({ user: z.string(), admin: z.boolean(), tokenId: z.string() });
const ErrorBodySchema = z.object({ error: z.object({ code: z.string(), message: z.string() }) });

/**
 * One version of a plugin as the registry describes it (`GET /:plugin/:rangeOrTag`).
 *
 * @example
 * const doc: VersionDocument = await client.resolve('sample', '^1');
 * doc.dist.integrity; // 'sha512-…'
 */
export type VersionDocument = z.infer<typeof VersionDocumentSchema>;
/**
 * Where and what a version's archive is: tarball URL, SRI integrity, sha256 digest, size, signer.
 *
 * @example
 * const file = await client.download(doc.dist, dir);
 */
export type Dist = z.infer<typeof DistSchema>;
/**
 * Everything the registry knows about a plugin (`GET /:plugin`).
 *
 * @example
 * const p: Packument = await client.packument('sample');
 * p['dist-tags'].latest; // '1.1.0'
 */
export type Packument = z.infer<typeof PackumentSchema>;
/**
 * One page of search results (`GET /-/v1/search`).
 *
 * @example
 * const page: SearchPage = await client.search('sam', { size: 20, from: 0 });
 */
export type SearchPage = z.infer<typeof SearchPageSchema>;
/**
 * A plugin as a search result lists it.
 *
 * @example
 * const names = page.objects.map((o): PluginSummary => o.package).map((p) => p.name);
 */
export type PluginSummary = z.infer<typeof PluginSummarySchema>;
/**
 * The answer to a publish (`PUT /:plugin`).
 *
 * @example
 * const r: PublishResult = await client.publish('sample-1.0.0.cmpkg', { pluginId: 'sample' });
 */
export type PublishResult = z.infer<typeof PublishResultSchema>;
/**
 * A signing key registered for a plugin.
 *
 * @example
 * const { keys }: { keys: RegisteredKey[] } = await client.keys.list('sample');
 */
export type RegisteredKey = z.infer<typeof KeySchema>;
/**
 * Who a token belongs to (`GET /-/whoami`).
 *
 * @example
 * const me: Whoami = await client.whoami();
 */
export type Whoami = z.infer<typeof WhoamiSchema>;

/**
 * How a {@link RegistryClient} talks to the registry.
 *
 * @example
 * const options: RegistryClientOptions = { token: process.env.CMPKG_TOKEN, timeoutMs: 10_000 };
 */
export interface RegistryClientOptions {
  /** Sent as `Authorization: Bearer …` on writes and `whoami`; never put into a message. */
  token?: string;
  /** How long a request may take (a download: how long the registry may stay silent). Default 30 s. */
  timeoutMs?: number;
  /** Default: the global `fetch` (Node's undici). */
  fetch?: typeof fetch;
}

/**
 * The default of {@link RegistryClientOptions.timeoutMs} (and of `CMPKG_REGISTRY_TIMEOUT`), in ms.
 *
 * @example
 * new RegistryClient(url, { timeoutMs: DEFAULT_REGISTRY_TIMEOUT_MS * 2 });
 */
export const DEFAULT_REGISTRY_TIMEOUT_MS = 30_000;

/**
 * A registry URL without user or password, for messages: whatever a user puts there stays out of
 * terminals and CI logs.
 *
 * @example
 * shownUrl('https://me:secret@reg.example.com/'); // 'https://reg.example.com'
 */
export function shownUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    return u.toString().replace(/\/+$/, '');
  } catch {
    return url;
  }
}

/**
 * Turns an error answer of the registry back into the error the server raised: a code of
 * `REGISTRY_CODES` becomes that `RegistryError`, a code of `PACKAGE_CODES` that `PackageError` (an
 * upload that failed verification exits as the same failure would locally); anything else is
 * judged by the status: a 5xx is `E_REGISTRY_UNAVAILABLE`, the rest `E_REGISTRY_RESPONSE`.
 *
 * @param status the HTTP status.
 * @param body the response body as text (it may not be JSON at all).
 * @param where `GET https://reg.example.com/sample`, put into messages that the server did not write.
 *
 * @example
 * errorFromResponse(409, '{"error":{"code":"E_REGISTRY_VERSION_EXISTS","message":"sample@1.0.0 exists"}}', 'PUT …');
 * // RegistryError E_REGISTRY_VERSION_EXISTS (exit 3)
 */
export function errorFromResponse(
  status: number,
  body: string,
  where: string,
  headers?: { get(name: string): string | null },
): RegistryError | PackageError {
  const details: Record<string, unknown> = { status, request: where };
  const retryAfter = headers?.get('retry-after');
  if (retryAfter) details.retryAfter = retryAfter;
  const parsed = ErrorBodySchema.safeParse(parseJson(body));
  if (parsed.success) {
    const { code, message } = parsed.data.error;
    details.code = code;
    if (Object.hasOwn(REGISTRY_CODES, code)) {
      const text =
        code === 'E_REGISTRY_RATE_LIMITED' && retryAfter
          ? `${message} (retry after ${retryAfter} s)`
          : message;
      return new RegistryError(code as RegistryErrorCode, text, { details });
    }
    if (Object.hasOwn(PACKAGE_CODES, code))
      return new PackageError(code as PackageErrorCode, message, { details });
    if (status >= 500) {
      return new RegistryError(
        'E_REGISTRY_UNAVAILABLE',
        `${where} failed with ${status} ${code}: ${message}`,
        {
          details,
        },
      );
    }
    return new RegistryError(
      'E_REGISTRY_RESPONSE',
      `${where} answered ${status} with an error code this client does not know: ${code}: ${message}`,
      { details },
    );
  }
  if (status >= 500) {
    return new RegistryError(
      'E_REGISTRY_UNAVAILABLE',
      `${where} failed with ${status}${statusText(status)}`,
      {
        details,
      },
    );
  }
  return new RegistryError(
    'E_REGISTRY_RESPONSE',
    `${where} answered ${status}${statusText(status)} without a registry error body`,
    { details },
  );
}

function statusText(status: number): string {
  const known: Record<number, string> = {
    400: 'Bad Request',
    401: 'Unauthorized',
    403: 'Forbidden',
    404: 'Not Found',
    500: 'Internal Server Error',
    502: 'Bad Gateway',
    503: 'Service Unavailable',
    504: 'Gateway Timeout',
  };
  return known[status] ? ` ${known[status]}` : '';
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** `sha512-…` out of an SRI string (which may list several hashes and `?options`). */
function sha512Of(integrity: string): string[] {
  return integrity
    .split(/\s+/)
    .filter((part) => part.startsWith('sha512-'))
    .map((part) => part.slice('sha512-'.length).replace(/\?.*$/, ''));
}

/** Undici reports a refused connection as `fetch failed` with the reason in `cause` (or its `errors`). */
function networkReason(err: unknown): string {
  const cause = err instanceof Error ? err.cause : undefined;
  const candidates: unknown[] = [cause, err];
  if (cause instanceof AggregateError) candidates.unshift(...cause.errors);
  for (const c of candidates) {
    const code = (c as { code?: unknown } | undefined)?.code;
    if (typeof code === 'string') {
      const words: Record<string, string> = {
        ECONNREFUSED: 'connection refused',
        ENOTFOUND: 'host not found',
        EAI_AGAIN: 'host not found (DNS)',
        ECONNRESET: 'connection reset',
        ETIMEDOUT: 'connection timed out',
        EHOSTUNREACH: 'host unreachable',
        UND_ERR_SOCKET: 'connection closed',
      };
      return words[code] ? `${words[code]} (${code})` : code;
    }
  }
  const message = cause instanceof Error ? cause.message : err instanceof Error ? err.message : String(err);
  return message;
}

function isTimeout(err: unknown): boolean {
  return err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
}

/**
 * The registry's HTTP API for the CLI: read (packument, resolve, search, download with integrity
 * check) and write (publish, deprecate, yank, keys, dist-tags; these need a token). Every answer is
 * validated; errors are cmpkg errors with the registry's own code (see {@link errorFromResponse}),
 * a registry that cannot be reached is `E_REGISTRY_UNAVAILABLE` naming its URL, and the token only
 * ever travels in the `Authorization` header.
 *
 * @example
 * const client = new RegistryClient('http://127.0.0.1:4880', { token: process.env.CMPKG_TOKEN });
 * const doc = await client.resolve('sample', '^1');
 * const file = await client.download(doc.dist, await mkdtemp(join(tmpdir(), 'dl-')));
 */
export class RegistryClient {
  /** The base URL without a trailing slash (a path prefix is kept). */
  readonly baseUrl: string;
  /** {@link baseUrl} without any user or password: what messages show. */
  readonly shownUrl: string;
  readonly timeoutMs: number;
  readonly #token: string | undefined;
  readonly #fetch: typeof fetch;

  /**
   * Signing keys of a plugin: `list` is public, `add` and `remove` need the owner's token.
   *
   * @example
   * await client.keys.add('sample', await readFile('next.pub', 'utf8'));
   */
  readonly keys: {
    list(id: string): Promise<{ owner: string; keys: RegisteredKey[] }>;
    /** `created` is false when the key was registered already. */
    add(id: string, publicKey: string): Promise<{ keyId: string; created: boolean }>;
    remove(id: string, keyId: string): Promise<void>;
  };

  /**
   * Dist-tags of a plugin (the owner's token); both answer the plugin's tags afterwards when the
   * registry sends them.
   *
   * @example
   * await client.distTag.add('sample', 'next', '2.0.0-beta.1');
   */
  readonly distTag: {
    add(id: string, tag: string, version: string): Promise<{ distTags?: Record<string, string> }>;
    rm(id: string, tag: string): Promise<{ distTags?: Record<string, string> }>;
  };

  constructor(baseUrl: string, options: RegistryClientOptions = {}) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
    this.shownUrl = shownUrl(this.baseUrl);
    this.timeoutMs = options.timeoutMs ?? DEFAULT_REGISTRY_TIMEOUT_MS;
    this.#token = options.token;
    this.#fetch = options.fetch ?? globalThis.fetch;
    const seg = encodeURIComponent;
    this.keys = {
      list: (id) => this.#json('GET', `/-/plugins/${seg(id)}/keys`, KeyListSchema),
      add: async (id, publicKey) => {
        const { body, status } = await this.#jsonWithStatus(
          'POST',
          `/-/plugins/${seg(id)}/keys`,
          KeyAddedSchema,
          { auth: true, body: { publicKey } },
        );
        return { keyId: body.keyId, created: status === 201 };
      },
      remove: async (id, keyId) => {
        await this.#json('DELETE', `/-/plugins/${seg(id)}/keys/${seg(keyId)}`, OkSchema, { auth: true });
      },
    };
    this.distTag = {
      add: async (id, tag, version) =>
        tagsOf(
          await this.#json('PUT', `/-/plugins/${seg(id)}/dist-tags/${seg(tag)}`, OkSchema, {
            auth: true,
            body: { version },
          }),
        ),
      rm: async (id, tag) =>
        tagsOf(
          await this.#json('DELETE', `/-/plugins/${seg(id)}/dist-tags/${seg(tag)}`, OkSchema, { auth: true }),
        ),
    };
  }

  /**
   * Everything the registry knows about a plugin. Unknown → `E_REGISTRY_NOT_FOUND` (exit 2).
   *
   * @example
   * const p = await client.packument('sample');
   */
  packument(id: string): Promise<Packument> {
    return this.#json('GET', `/${encodeURIComponent(id)}`, PackumentSchema);
  }

  /**
   * The version the registry resolves `spec` to (an exact version, a dist-tag, or a semver range,
   * by npm's rules). The spec is sent URL-encoded, so `^1` and `>=1 <2` arrive intact.
   *
   * @example
   * (await client.resolve('sample', '>=1 <2')).version; // '1.1.0'
   */
  resolve(id: string, spec: string): Promise<VersionDocument> {
    return this.#json('GET', `/${encodeURIComponent(id)}/${encodeURIComponent(spec)}`, VersionDocumentSchema);
  }

  /**
   * Searches by id, name and description (empty text lists everything by name).
   *
   * @example
   * const page = await client.search('sam', { size: 20, from: 0 });
   */
  search(text: string, options: { size?: number; from?: number } = {}): Promise<SearchPage> {
    const query = new URLSearchParams({ text });
    if (options.size !== undefined) query.set('size', String(options.size));
    if (options.from !== undefined) query.set('from', String(options.from));
    return this.#json('GET', `/-/v1/search?${query.toString()}`, SearchPageSchema);
  }

  /**
   * Publishes an archive (read whole, so the registry sees its `Content-Length` and can refuse an
   * oversized upload before it is sent). `tag` defaults to `latest` on the server.
   *
   * @example
   * const r = await client.publish('sample-1.1.0.cmpkg', { pluginId: 'sample', tag: 'next' });
   */
  async publish(file: string, options: { pluginId: string; tag?: string }): Promise<PublishResult> {
    const bytes = await readFile(file);
    const query = options.tag !== undefined ? `?${new URLSearchParams({ tag: options.tag }).toString()}` : '';
    return this.#json('PUT', `/${encodeURIComponent(options.pluginId)}${query}`, PublishResultSchema, {
      auth: true,
      raw: bytes,
    });
  }

  /**
   * Deprecates the versions in `range` with `message`; an empty message un-deprecates them.
   * Answers the versions that changed.
   *
   * @example
   * await client.deprecate('sample', '<1.1.0', 'use 1.1');
   */
  async deprecate(id: string, range: string, message: string): Promise<{ versions: string[] }> {
    const r = await this.#json(
      'POST',
      `/-/plugins/${encodeURIComponent(id)}/deprecate`,
      DeprecateResultSchema,
      {
        auth: true,
        body: { range, message },
      },
    );
    return { versions: r.versions };
  }

  /**
   * Yanks a version (`yanked: false` restores it); answers the dist-tags afterwards.
   *
   * @example
   * const { distTags } = await client.yank('sample', '1.0.0', true);
   */
  async yank(
    id: string,
    version: string,
    yanked: boolean,
  ): Promise<{ version: string; yanked: boolean; distTags: Record<string, string> }> {
    const r = await this.#json('POST', `/-/plugins/${encodeURIComponent(id)}/yank`, YankResultSchema, {
      auth: true,
      body: { version, yanked },
    });
    return { version: r.version, yanked: r.yanked, distTags: r.distTags };
  }

  /**
   * Who the token belongs to.
   *
   * @example
   * (await client.whoami()).user; // 'alice'
   */
  whoami(): Promise<Whoami> {
    return this.#json('GET', '/-/whoami', WhoamiSchema, { auth: true });
  }

  /**
   * Streams a version's archive into `dir` while hashing it, and compares the sha512 with
   * `dist.integrity`: a mismatch (or more bytes than `dist.size`) is `E_REGISTRY_INTEGRITY`
   * (exit 3) and the file is removed, as it is on any other failure. Answers the file's path.
   * `dir` should be a fresh directory that the caller removes.
   *
   * @example
   * const file = await client.download(doc.dist, dir); // <dir>/sample-1.1.0.cmpkg
   */
  async download(dist: Dist, dir: string): Promise<string> {
    const name = decodeURIComponent(new URL(dist.tarball).pathname.split('/').pop() ?? '');
    const file = path.join(dir, /^[A-Za-z0-9][A-Za-z0-9._-]*\.cmpkg$/.test(name) ? name : 'package.cmpkg');
    const where = `GET ${shownUrl(dist.tarball)}`;
    // A download may take longer than any fixed limit; what must not happen is the registry going
    // silent. The timer restarts with every chunk.
    const controller = new AbortController();
    let timer = setTimeout(() => controller.abort(timeoutReason()), this.timeoutMs);
    const restart = () => {
      clearTimeout(timer);
      timer = setTimeout(() => controller.abort(timeoutReason()), this.timeoutMs);
    };
    const hash = createHash('sha512');
    let size = 0;
    try {
      // No Authorization header: archives are public, and the tarball URL may name another host.
      const response = await this.#send(dist.tarball, where, { method: 'GET', signal: controller.signal });
      if (!response.ok)
        throw errorFromResponse(response.status, await response.text(), where, response.headers);
      if (!response.body) throw new RegistryError('E_REGISTRY_RESPONSE', `${where} answered without a body`);
      const counter = new Transform({
        transform(chunk: Buffer, _encoding, callback) {
          restart();
          size += chunk.length;
          if (size > dist.size) {
            callback(
              new RegistryError(
                'E_REGISTRY_INTEGRITY',
                `${name}: ${where} sent more than the ${dist.size} bytes the registry published for it`,
                { details: { file: name, expectedSize: dist.size } },
              ),
            );
            return;
          }
          hash.update(chunk);
          callback(null, chunk);
        },
      });
      try {
        await pipeline(
          Readable.fromWeb(response.body as WebReadableStream<Uint8Array>),
          counter,
          createWriteStream(file, { flags: 'wx' }),
        );
      } catch (err) {
        if (isTimeout(err) || controller.signal.aborted) {
          throw new RegistryError(
            'E_REGISTRY_UNAVAILABLE',
            `${where}: the registry stopped sending for ${this.timeoutMs / 1000} s (CMPKG_REGISTRY_TIMEOUT)`,
            { cause: err },
          );
        }
        if (err instanceof RegistryError) throw err;
        throw new RegistryError(
          'E_REGISTRY_UNAVAILABLE',
          `${where}: the download broke off: ${networkReason(err)}`,
          {
            cause: err,
          },
        );
      }
      const actual = hash.digest('base64');
      if (!sha512Of(dist.integrity).includes(actual)) {
        throw new RegistryError(
          'E_REGISTRY_INTEGRITY',
          `${name} from ${shownUrl(dist.tarball)} does not match the integrity the registry published ` +
            `(expected ${dist.integrity}, got sha512-${actual}); the download was deleted`,
          { details: { file: name, expected: dist.integrity, actual: `sha512-${actual}`, size } },
        );
      }
      return file;
    } catch (err) {
      await rm(file, { force: true });
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  async #json<T>(
    method: string,
    route: string,
    schema: z.ZodType<T>,
    options: { auth?: boolean; body?: unknown; raw?: Uint8Array } = {},
  ): Promise<T> {
    return (await this.#jsonWithStatus(method, route, schema, options)).body;
  }

  async #jsonWithStatus<T>(
    method: string,
    route: string,
    schema: z.ZodType<T>,
    options: { auth?: boolean; body?: unknown; raw?: Uint8Array },
  ): Promise<{ body: T; status: number }> {
    const url = `${this.baseUrl}${route}`;
    const where = `${method} ${shownUrl(url)}`;
    const headers: Record<string, string> = { accept: 'application/json' };
    if (options.auth) {
      if (!this.#token) {
        throw new UsageError(`${where} needs a registry token: set CMPKG_TOKEN`, {
          details: { env: 'CMPKG_TOKEN' },
        });
      }
      headers.authorization = `Bearer ${this.#token}`;
    }
    let body: string | Uint8Array | undefined;
    if (options.raw !== undefined) {
      headers['content-type'] = 'application/octet-stream';
      body = options.raw;
    } else if (options.body !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(options.body);
    }
    const signal = AbortSignal.timeout(this.timeoutMs);
    const init: RequestInit = { method, headers, signal };
    if (body !== undefined) init.body = body;
    const response = await this.#send(url, where, init);
    let text: string;
    try {
      text = await response.text();
    } catch (err) {
      throw this.#transportError(err, where);
    }
    if (!response.ok) throw errorFromResponse(response.status, text, where, response.headers);
    const json = parseJson(text);
    if (json === undefined) {
      const type = response.headers.get('content-type') ?? 'no content type';
      throw new RegistryError(
        'E_REGISTRY_RESPONSE',
        `${where} answered ${response.status} with a body that is not JSON (${type}): is ${this.shownUrl} a cmpkg registry?`,
        { details: { status: response.status, request: where } },
      );
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const field = issue && issue.path.length > 0 ? issue.path.join('.') : '(the document)';
      throw new RegistryError(
        'E_REGISTRY_RESPONSE',
        `${where} answered a document that is not what the registry API promises: field "${field}": ${issue?.message ?? 'invalid'}`,
        { details: { status: response.status, request: where, field } },
      );
    }
    return { body: parsed.data, status: response.status };
  }

  async #send(url: string, where: string, init: RequestInit): Promise<Response> {
    try {
      return await this.#fetch(url, init);
    } catch (err) {
      throw this.#transportError(err, where);
    }
  }

  #transportError(err: unknown, where: string): RegistryError {
    if (isTimeout(err)) {
      return new RegistryError(
        'E_REGISTRY_UNAVAILABLE',
        `${where}: no answer from the registry within ${this.timeoutMs / 1000} s (CMPKG_REGISTRY_TIMEOUT)`,
        { cause: err, details: { request: where, timeoutMs: this.timeoutMs } },
      );
    }
    return new RegistryError(
      'E_REGISTRY_UNAVAILABLE',
      `cannot reach the registry at ${this.shownUrl} (${where}): ${networkReason(err)}`,
      { cause: err, details: { request: where } },
    );
  }
}

function tagsOf(r: z.infer<typeof OkSchema>): { distTags?: Record<string, string> } {
  return r.distTags !== undefined ? { distTags: r.distTags } : {};
}

function timeoutReason(): Error {
  const err = new Error('the registry went silent');
  err.name = 'TimeoutError';
  return err;
}
