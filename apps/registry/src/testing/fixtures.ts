import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { loadPlugin, type Plugin } from '@cmpkg/core';
import {
  type KeyPair,
  openPackage,
  type PackOptions,
  type PackResult,
  packPlugin,
  writeArchive,
} from '@cmpkg/packager';
import { createRegistry, type Registry } from '../app.js';
import { loadRegistryConfig } from '../config.js';
import { createToken } from '../tokens.js';

/**
 * Shared fixtures of the registry's HTTP tests (tests only; not exported by the package): a real
 * registry on a free port with a SQLite file in a temp dir, and real packages of the sample plugin.
 */

/** examples/sample-plugin (config version 2.0.0; 0001–0003 are 1.0.0, 0004 is 1.1.0, 0005 is 2.0.0). */
export const SAMPLE_DIR = resolve(import.meta.dirname, '../../../../examples/sample-plugin');

const created: string[] = [];

/** A fresh temp dir, removed by {@link removeTempDirs}. */
export function tempDir(prefix = 'cmpkg-registry-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  created.push(dir);
  return dir;
}

/** Removes every dir {@link tempDir} made (call in afterAll). */
export function removeTempDirs(): void {
  for (const dir of created.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/**
 * The sample plugin (from a temp copy of examples/sample-plugin), as plugin `id`.
 *
 * @example
 * const plugin = await samplePlugin('other-plugin');
 */
export async function samplePlugin(
  id = 'sample',
  names: { name?: string; description?: string } = {},
): Promise<{ plugin: Plugin; dir: string }> {
  const dir = tempDir('cmpkg-registry-sample-');
  cpSync(SAMPLE_DIR, dir, { recursive: true });
  if (id !== 'sample') {
    // The JSON migrations name their plugin; a copy under another id must name that one.
    const migrations = join(dir, 'migrations');
    for (const name of readdirSync(migrations).filter((n) => n.endsWith('.json'))) {
      const file = join(migrations, name);
      writeFileSync(file, readFileSync(file, 'utf8').replace('"pluginId": "sample"', `"pluginId": "${id}"`));
    }
  }
  const plugin = await loadPlugin({
    dir: join(dir, 'migrations'),
    id,
    version: '2.0.0',
    name: names.name ?? 'Sample knowledge base',
    description: names.description ?? 'A small knowledge base used by the tests',
  });
  return { plugin, dir };
}

/**
 * Packs the sample plugin (as `id`) at `version`, signed by `key`, into a temp dir.
 *
 * @example
 * const pkg = await pack(key, '1.0.0');
 */
export async function pack(
  key: KeyPair,
  version: string,
  options: Partial<PackOptions> & { id?: string; name?: string; description?: string } = {},
): Promise<PackResult> {
  const { id, name, description, ...rest } = options;
  const { plugin, dir } = await samplePlugin(id, {
    ...(name !== undefined ? { name } : {}),
    ...(description !== undefined ? { description } : {}),
  });
  return packPlugin({
    plugin,
    key,
    version,
    outDir: tempDir('cmpkg-registry-pack-'),
    readme: join(dir, 'README.md'),
    ...rest,
  });
}

/** A registry under test: listening on 127.0.0.1, with helpers to call it and look at its storage. */
export interface TestRegistry {
  registry: Registry;
  url: string;
  dataDir: string;
  token(user: string, admin?: boolean): Promise<string>;
  /** fetch(url + path) with an optional bearer token and JSON body. */
  call(
    path: string,
    init?: {
      method?: string;
      token?: string;
      json?: unknown;
      body?: Uint8Array | string;
      headers?: Record<string, string>;
    },
  ): Promise<Response>;
  /** PUT the file at `file` to /:plugin (raw, application/octet-stream). */
  publish(plugin: string, file: string | Uint8Array, token: string, query?: string): Promise<Response>;
  /** Every row count, every blob and the tmp dir's entries: "nothing was stored" is `snapshot()` unchanged. */
  snapshot(): Promise<StorageSnapshot>;
  close(): Promise<void>;
}

export interface StorageSnapshot {
  rows: Record<string, number>;
  blobs: string[];
  tmp: string[];
}

const TABLES = [
  'registry_plugins',
  'registry_plugin_keys',
  'registry_versions',
  'registry_dist_tags',
] as const;

/**
 * Starts a registry (createRegistry → listen on port 0) on a fresh data dir. `env` adds REGISTRY_*
 * variables (e.g. a low REGISTRY_MAX_UPLOAD).
 *
 * @example
 * const t = await startTestRegistry({ REGISTRY_PUBLISH_RATE_LIMIT: '1000' });
 */
export async function startTestRegistry(env: Record<string, string> = {}): Promise<TestRegistry> {
  const dataDir = tempDir('cmpkg-registry-data-');
  const config = loadRegistryConfig({
    REGISTRY_PORT: '0',
    REGISTRY_DATA_DIR: dataDir,
    REGISTRY_LOG_LEVEL: 'silent',
    REGISTRY_PUBLISH_RATE_LIMIT: '10000',
    REGISTRY_TOKEN_RATE_LIMIT: '10000',
    ...env,
  });
  const registry = await createRegistry(config);
  const url = await registry.listen();
  const call: TestRegistry['call'] = (path, init = {}) => {
    const headers: Record<string, string> = { ...init.headers };
    if (init.token !== undefined) headers.authorization = `Bearer ${init.token}`;
    let body = init.body;
    if (init.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(init.json);
    }
    return fetch(`${url}${path}`, {
      method: init.method ?? 'GET',
      headers,
      ...(body !== undefined ? { body } : {}),
    });
  };
  return {
    registry,
    url,
    dataDir,
    token: async (user, admin = false) => (await createToken(registry.store, { user, admin })).token,
    call,
    publish: (plugin, file, token, query = '') =>
      call(`/${plugin}${query}`, {
        method: 'PUT',
        token,
        headers: { 'content-type': 'application/octet-stream' },
        body: typeof file === 'string' ? readFileSync(file) : file,
      }),
    async snapshot() {
      const rows: Record<string, number> = {};
      const db = registry.store.db;
      for (const table of TABLES) {
        const row = await db.query((k) =>
          k
            .selectFrom(table)
            .select((eb) => eb.fn.countAll().as('n'))
            .executeTakeFirstOrThrow(),
        );
        rows[table] = Number(row.n);
      }
      const tmp = readdirSync(registry.store.blobs.tmpDir);
      return { rows, blobs: await registry.store.blobs.list(), tmp };
    },
    close: () => registry.close(),
  };
}

/** The size of a file. */
export function fileSize(file: string): number {
  return statSync(file).size;
}

/** One entry of a package being rewritten. */
export interface RawEntry {
  path: string;
  data: Uint8Array;
}

/**
 * Writes a copy of a package with its entries edited (drop the signature, alter the manifest…),
 * as a gzip'd tar like the packager's. The result is usually NOT a valid package: that is the point.
 *
 * @example
 * const unsigned = await rewritePackage(pkg.file, (entries) => entries.filter((e) => e.path !== 'cmpkg.sig'));
 */
export async function rewritePackage(
  file: string,
  edit: (entries: RawEntry[]) => RawEntry[],
): Promise<string> {
  const pkg = await openPackage(file);
  try {
    const paths = ['cmpkg.json', 'cmpkg.sig', ...pkg.manifest.files.map((f) => f.path)];
    const entries = paths.map((path) => ({ path, data: new Uint8Array(readFileSync(join(pkg.dir, path))) }));
    const out = join(tempDir('cmpkg-registry-rewrite-'), 'rewritten.cmpkg');
    await writeArchive(out, edit(entries), { mtime: pkg.manifest.createdAt });
    return out;
  } finally {
    await pkg.dispose();
  }
}

/** What {@link rawUpload} got back. */
export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/**
 * A PUT through node:http, for what fetch cannot do: a Content-Length that promises more than is
 * sent, or a chunked body (no Content-Length) sent piece by piece. Stops writing as soon as the
 * answer arrives; write errors after it (the server closed the connection) are expected.
 *
 * @example
 * const res = await rawUpload(url, '/sample', { token, contentLength: 10_000_000, chunks: [Buffer.alloc(100)], end: false });
 */
export function rawUpload(
  base: string,
  path: string,
  options: { token?: string; contentLength?: number; chunks: Buffer[]; end?: boolean; contentType?: string },
): Promise<RawResponse> {
  const url = new URL(path, base);
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = {
      'content-type': options.contentType ?? 'application/octet-stream',
    };
    if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
    if (options.contentLength !== undefined) headers['content-length'] = String(options.contentLength);
    let answered = false;
    const req = httpRequest(url, { method: 'PUT', headers }, (res) => {
      answered = true;
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
      });
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
        req.destroy();
      });
      res.on('error', reject);
    });
    req.on('error', (err) => {
      if (!answered) reject(err);
    });
    (async () => {
      for (const chunk of options.chunks) {
        if (answered || req.destroyed) return;
        if (!req.write(chunk)) await new Promise((r) => req.once('drain', r));
        // Let the server read and react between chunks, as a slow client would.
        await new Promise((r) => setTimeout(r, 2));
      }
      if (options.end !== false && !answered && !req.destroyed) req.end();
    })().catch(() => undefined);
  });
}

/** A JSON response body, typed loosely for assertions (`json()` is `unknown` in Node's types). */
// biome-ignore lint/suspicious/noExplicitAny: test-only convenience for deep property assertions
export async function json(response: Response): Promise<any> {
  return response.json();
}
