import { createHash } from 'node:crypto';
import { isCmpkgError, RegistryError } from '@cmpkg/core';
import {
  type PublicKey,
  parsePublicKey,
  type RotationStatement,
  samePublicKey,
  verifyKeyChange,
} from '@cmpkg/packager';
import { type Kysely, sql } from 'kysely';
import semver from 'semver';
import type { BlobStore } from './blob-store.js';
import type { RegistryDatabase, RegistryDb } from './database.js';
import { isDistTagName, PreparedVersions } from './resolve.js';
import type { TokenInfo } from './tokens.js';
import type {
  MigrationSummary,
  Packument,
  PluginKey,
  PluginSummary,
  RegistryReader,
  SearchPage,
  VersionDocument,
} from './types.js';

/**
 * What `registry_versions.summary` holds (JSON), read once at publish from the verified package.
 *
 * @example
 * const summary: StoredSummary = { engines: ['sqlite'], requires: {}, migrations: [], data: [] };
 */
export interface StoredSummary {
  engines: string[];
  requires: Record<string, string>;
  migrations: MigrationSummary[];
  data: { table: string; rows: number }[];
  /** README.md, at most 64 KiB. */
  readme?: string;
}

/**
 * A verified upload, ready to be recorded by {@link RegistryStore.publish}.
 *
 * @example
 * const input: PublishInput = { pluginId: 'sample', version: '1.0.0', user: 'alice', tag: 'latest', signer, rotation: [], digest, integrity, size, manifest, displayName, description, summary, tempFile };
 */
export interface PublishInput {
  pluginId: string;
  version: string;
  user: string;
  tag: string;
  signer: PublicKey;
  rotation: readonly RotationStatement[];
  /** `sha256:<hex>`. */
  digest: string;
  integrity: string;
  size: number;
  /** The signed cmpkg.json text. */
  manifest: string;
  displayName: string;
  description: string;
  summary: StoredSummary;
  /** The verified archive in the blob store's tmp dir; moved to its address on success. */
  tempFile: string;
}

/**
 * What {@link RegistryStore.publish} did.
 *
 * @example
 * const { firstPublish, distTags } = await store.publish(input);
 */
export interface PublishOutcome {
  firstPublish: boolean;
  distTags: Record<string, string>;
  keyId: string;
  /** The signer's key was registered by this publish (first publish, or reached by rotation). */
  keyRegistered: boolean;
}

/** A version as the store keeps it, independent of the origin its tarball URL is built with. */
interface VersionState {
  version: string;
  digest: string;
  integrity: string;
  size: number;
  keyId: string;
  displayName: string;
  description: string;
  summary: StoredSummary;
  publishedAt: string;
  publishedBy: string;
  deprecated: string | null;
  yanked: boolean;
}

/** A plugin as the store keeps it (origin-independent); the packument per origin is built from it. */
interface PluginState {
  id: string;
  owner: string;
  createdAt: string;
  updatedAt: string;
  tags: Record<string, string>;
  keys: PluginKey[];
  /** Ascending semver. */
  versions: VersionState[];
  byVersion: Map<string, VersionState>;
}

/**
 * A packument serialised for one origin, with what the hot paths need: the JSON and its ETag, the
 * versions parsed for resolution, and memoised resolutions.
 *
 * @example
 * const view = await store.view('sample', origin);
 * if (view) reply.header('etag', view.etag).send(view.body);
 */
export interface PackumentView {
  doc: Packument;
  json: string;
  /** `json` encoded once (UTF-8): sending a Buffer spares an encode per request. */
  body: Buffer;
  etag: string;
  prepared: PreparedVersions;
  /** spec → serialised VersionDocument (resolution results are memoised; errors are not). */
  resolved: Map<string, { version: string; json: string; body: Buffer }>;
}

interface CacheEntry {
  state: PluginState;
  views: Map<string, PackumentView>;
}

/** Bounds, so a flood of Host headers or specs cannot grow the cache without limit. */
const MAX_CACHED_PLUGINS = 5000;
const MAX_VIEWS_PER_PLUGIN = 8;
const MAX_RESOLVED_PER_VIEW = 512;
/** last_used_at is written at most this often per token (it is a write on every authenticated request otherwise). */
const TOUCH_INTERVAL_MS = 60_000;

/** Timestamps: PostgreSQL returns Date, SQLite the ISO text it was given. */
function iso(value: Date | string | null | undefined): string {
  if (value instanceof Date) return value.toISOString();
  return value === null || value === undefined ? '' : new Date(value).toISOString();
}
function isoOrNull(value: Date | string | null | undefined): string | null {
  return value === null || value === undefined ? null : iso(value);
}

type Db = Kysely<RegistryDatabase>;

/**
 * Every query of the registry: reads (packuments with their cache, search, tokens) and writes
 * (publish, deprecate, yank, dist-tags, keys, tokens), each write in one transaction.
 *
 * @example
 * const store = new RegistryStore(await openRegistryDatabase(url), new BlobStore(dir));
 * const doc = await store.packument('sample', 'http://127.0.0.1:4880');
 */
export class RegistryStore implements RegistryReader {
  readonly db: RegistryDb;
  readonly blobs: BlobStore;
  readonly #cache = new Map<string, CacheEntry>();
  /** Bumped on every write to a plugin: a cache fill that started before it must not be kept. */
  readonly #generation = new Map<string, number>();
  readonly #touched = new Map<string, number>();

  constructor(db: RegistryDb, blobs: BlobStore) {
    this.db = db;
    this.blobs = blobs;
  }

  /** `sqlite` or `postgresql`. */
  get engine(): 'sqlite' | 'postgresql' {
    return this.db.engine;
  }

  // ------------------------------------------------------------------------------------ reads

  /**
   * The packument of `id` with tarball URLs under `origin`, or undefined for an unknown plugin.
   *
   * @example
   * const doc = await store.packument('sample', 'https://registry.example.com');
   */
  async packument(id: string, origin: string): Promise<Packument | undefined> {
    return (await this.view(id, origin))?.doc;
  }

  /**
   * The cached, serialised packument of `id` for `origin` (filled on a miss), or undefined.
   *
   * @example
   * const view = await store.view('sample', origin);
   * reply.header('etag', view.etag).send(view.json);
   */
  async view(id: string, origin: string): Promise<PackumentView | undefined> {
    const entry = this.#cache.get(id) ?? (await this.#fill(id));
    if (entry === undefined) return undefined;
    let view = entry.views.get(origin);
    if (view === undefined) {
      view = buildView(entry.state, origin);
      if (entry.views.size >= MAX_VIEWS_PER_PLUGIN) {
        const oldest = entry.views.keys().next().value;
        if (oldest !== undefined) entry.views.delete(oldest);
      }
      entry.views.set(origin, view);
    }
    return view;
  }

  /**
   * Resolves `spec` for `id` (npm's rules, see `resolveVersion`) and returns the version document's
   * JSON; memoised per packument until the plugin changes. Undefined for an unknown plugin.
   *
   * @example
   * const hit = await store.resolve('sample', '^1', origin); // { version: '1.1.0', json: '{…}' }
   */
  async resolve(
    id: string,
    spec: string,
    origin: string,
  ): Promise<{ version: string; json: string; body: Buffer } | undefined> {
    const view = await this.view(id, origin);
    if (view === undefined) return undefined;
    let hit = view.resolved.get(spec);
    if (hit === undefined) {
      const result = view.prepared.resolve(spec);
      const json = JSON.stringify(result.document);
      hit = { version: result.version, json, body: Buffer.from(json, 'utf8') };
      if (view.resolved.size >= MAX_RESOLVED_PER_VIEW) view.resolved.clear();
      view.resolved.set(spec, hit);
    }
    return hit;
  }

  /**
   * The stored archive of `id@version` (yanked included): its sha256 hex and size; undefined when
   * there is no such version.
   *
   * @example
   * const file = await store.archive('sample', '1.0.0'); // { hex: '9f86…', size: 4242 }
   */
  async archive(id: string, version: string): Promise<{ hex: string; size: number } | undefined> {
    const entry = this.#cache.get(id) ?? (await this.#fill(id));
    const found = entry?.state.byVersion.get(version);
    if (found === undefined) return undefined;
    return { hex: found.digest.slice('sha256:'.length), size: found.size };
  }

  /** Drops every cached packument (tests, and after an out-of-band database change). */
  clearCache(): void {
    for (const id of this.#cache.keys()) this.#invalidate(id);
  }

  async #fill(id: string): Promise<CacheEntry | undefined> {
    const generation = this.#generation.get(id) ?? 0;
    const state = await this.db.snapshot((db) => loadState(db, id));
    if (state === undefined) return undefined;
    const entry: CacheEntry = { state, views: new Map() };
    // A write to this plugin finished while we read: our state may be older than it; use it for this
    // request, but do not keep it.
    if ((this.#generation.get(id) ?? 0) === generation) {
      if (this.#cache.size >= MAX_CACHED_PLUGINS) {
        const oldest = this.#cache.keys().next().value;
        if (oldest !== undefined) this.#cache.delete(oldest);
      }
      this.#cache.set(id, entry);
    }
    return entry;
  }

  #invalidate(id: string): void {
    this.#generation.set(id, (this.#generation.get(id) ?? 0) + 1);
    this.#cache.delete(id);
  }

  /**
   * A page of plugins matching `text` (case-insensitive substring of id, name or description), ranked
   * exact id, id prefix, id substring, then name/description, ties by id; no text lists all by id.
   *
   * @example
   * const page = await store.search({ text: 'sample', size: 20, from: 0 });
   */
  async search(query: { text?: string; size: number; from: number }): Promise<SearchPage> {
    const text = (query.text ?? '').trim().toLowerCase();
    const rows = await this.db.query((db) => {
      // Only ids: the ranking reads the id, and the page's summaries come from one query afterwards.
      let q = db.selectFrom('registry_plugins').select(['id']);
      if (text !== '') {
        const pattern = `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
        q = q.where((eb) =>
          eb.or([
            eb(sql`lower(id)`, 'like', sql<string>`${pattern} escape '\\'`),
            eb(sql`lower(name)`, 'like', sql<string>`${pattern} escape '\\'`),
            eb(sql`lower(description)`, 'like', sql<string>`${pattern} escape '\\'`),
          ]),
        );
      }
      return q.execute();
    });
    const rank = (id: string): number => {
      if (text === '') return 1;
      if (id === text) return 1;
      if (id.startsWith(text)) return 0.8;
      if (id.includes(text)) return 0.6;
      return 0.4;
    };
    const ranked = rows
      .map((row) => ({ id: row.id, score: rank(row.id.toLowerCase()) }))
      .sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const page = ranked.slice(query.from, query.from + query.size);
    const summaries = await this.#summaries(page.map((p) => p.id));
    return {
      objects: page.flatMap((p) => {
        const summary = summaries.get(p.id);
        return summary ? [{ package: summary, score: { final: p.score } }] : [];
      }),
      total: ranked.length,
      time: new Date().toISOString(),
    };
  }

  async #summaries(ids: string[]): Promise<Map<string, PluginSummary>> {
    const out = new Map<string, PluginSummary>();
    if (ids.length === 0) return out;
    const rows = await this.db.query((db) =>
      db
        .selectFrom('registry_plugins as p')
        .leftJoin('registry_dist_tags as t', (join) =>
          join.onRef('t.plugin_id', '=', 'p.id').on('t.tag', '=', 'latest'),
        )
        .leftJoin('registry_versions as v', (join) =>
          join.onRef('v.plugin_id', '=', 'p.id').onRef('v.version', '=', 't.version'),
        )
        .select([
          'p.id',
          'p.name',
          'p.description',
          'p.owner',
          'p.updated_at',
          't.version as latest',
          'v.summary',
        ])
        .where('p.id', 'in', ids)
        .execute(),
    );
    for (const row of rows) {
      const summary = row.summary ? (JSON.parse(row.summary) as StoredSummary) : undefined;
      out.set(row.id, {
        name: row.id,
        displayName: row.name,
        description: row.description,
        version: row.latest ?? null,
        date: iso(row.updated_at),
        owner: row.owner,
        engines: summary?.engines ?? [],
      });
    }
    return out;
  }

  /**
   * Row counts for `/-/health`; throws when the database does not answer.
   *
   * @example
   * const { plugins, versions } = await store.counts();
   */
  async counts(): Promise<{ plugins: number; versions: number }> {
    return this.db.snapshot(async (db) => {
      const plugins = await db
        .selectFrom('registry_plugins')
        .select((eb) => eb.fn.countAll().as('n'))
        .executeTakeFirstOrThrow();
      const versions = await db
        .selectFrom('registry_versions')
        .select((eb) => eb.fn.countAll().as('n'))
        .executeTakeFirstOrThrow();
      return { plugins: Number(plugins.n), versions: Number(versions.n) };
    });
  }

  // ------------------------------------------------------------------------------------ tokens

  /**
   * Stores a token's hash (the token itself is never stored).
   *
   * @example
   * await store.insertToken({ id: 'tok_…', hash: hashToken(token), user: 'alice', admin: false, note: null });
   */
  async insertToken(input: {
    id: string;
    hash: string;
    user: string;
    admin: boolean;
    note: string | null;
  }): Promise<TokenInfo> {
    const createdAt = new Date().toISOString();
    await this.db.write((db) =>
      db
        .insertInto('registry_tokens')
        .values({
          id: input.id,
          user_name: input.user,
          token_hash: input.hash,
          admin: this.db.bool(input.admin),
          note: input.note,
          created_at: createdAt,
          last_used_at: null,
          revoked_at: null,
        })
        .execute(),
    );
    return {
      id: input.id,
      user: input.user,
      admin: input.admin,
      note: input.note,
      createdAt,
      lastUsedAt: null,
      revokedAt: null,
    };
  }

  /**
   * The active (not revoked) token with this hash, or undefined. Records the use (at most once a minute).
   *
   * @example
   * const holder = await store.authenticate(hashToken(bearer));
   */
  async authenticate(hash: string): Promise<TokenInfo | undefined> {
    const row = await this.db.query((db) =>
      db.selectFrom('registry_tokens').selectAll().where('token_hash', '=', hash).executeTakeFirst(),
    );
    if (row === undefined || row.revoked_at !== null) return undefined;
    const now = Date.now();
    const last = this.#touched.get(row.id) ?? 0;
    if (now - last >= TOUCH_INTERVAL_MS) {
      this.#touched.set(row.id, now);
      const at = new Date(now).toISOString();
      // Not awaited: a request does not wait on the write lock for bookkeeping.
      this.db
        .write((db) =>
          db.updateTable('registry_tokens').set({ last_used_at: at }).where('id', '=', row.id).execute(),
        )
        .catch(() => this.#touched.delete(row.id));
    }
    return tokenInfo(row);
  }

  /**
   * Every token (active and revoked), oldest first.
   *
   * @example
   * for (const t of await store.listTokens()) console.log(t.id, t.user);
   */
  async listTokens(): Promise<TokenInfo[]> {
    const rows = await this.db.query((db) =>
      db.selectFrom('registry_tokens').selectAll().orderBy('created_at').orderBy('id').execute(),
    );
    return rows.map(tokenInfo);
  }

  /**
   * Revokes a token. `by` (when given) must be an admin or the token's holder. Unknown id →
   * E_REGISTRY_NOT_FOUND. Revoking a revoked token is a no-op.
   *
   * @example
   * await store.revokeToken('tok_0123456789abcdef');
   */
  async revokeToken(id: string, by?: { user: string; admin: boolean; tokenId: string }): Promise<TokenInfo> {
    return this.db.write(async (db) => {
      const row = await db.selectFrom('registry_tokens').selectAll().where('id', '=', id).executeTakeFirst();
      if (row === undefined) throw new RegistryError('E_REGISTRY_NOT_FOUND', `no token ${id}`);
      if (by !== undefined && !by.admin && by.tokenId !== id) {
        throw new RegistryError(
          'E_REGISTRY_FORBIDDEN',
          `only an admin or the token's own holder may revoke ${id}`,
        );
      }
      if (row.revoked_at !== null) return tokenInfo(row);
      const at = new Date().toISOString();
      await db.updateTable('registry_tokens').set({ revoked_at: at }).where('id', '=', id).execute();
      return tokenInfo({ ...row, revoked_at: at });
    });
  }

  // ------------------------------------------------------------------------------------ publish

  /**
   * Records a verified upload in one transaction, after the checks that need the current state
   * (all inside the write lock, so two concurrent publishes cannot both pass them): the owner, the
   * signer's key (registered, or reached by a rotation chain from a registered key, which then
   * registers it), and that the version is new. Moves the archive to its address; if anything
   * fails, a blob this call created is removed again.
   *
   * @example
   * const outcome = await store.publish(input);
   */
  async publish(input: PublishInput): Promise<PublishOutcome> {
    const hex = input.digest.slice('sha256:'.length);
    let created = false;
    const outcome = await this.db.write(
      async (db) => {
        const plugin = await db
          .selectFrom('registry_plugins')
          .select(['owner'])
          .where('id', '=', input.pluginId)
          .executeTakeFirst();
        const now = new Date().toISOString();
        let keyRegistered = false;
        if (plugin !== undefined) {
          if (plugin.owner !== input.user) {
            throw new RegistryError(
              'E_REGISTRY_FORBIDDEN',
              `plugin "${input.pluginId}" is owned by "${plugin.owner}"; "${input.user}" may not publish it`,
            );
          }
          const keys = await db
            .selectFrom('registry_plugin_keys')
            .select(['key_id', 'public_key'])
            .where('plugin_id', '=', input.pluginId)
            .execute();
          keyRegistered = checkSigner(input, keys);
        }
        const existing = await db
          .selectFrom('registry_versions')
          .select(['version'])
          .where('plugin_id', '=', input.pluginId)
          .where('version', '=', input.version)
          .executeTakeFirst();
        if (existing !== undefined) throw versionExists(input.pluginId, input.version);

        created = (await this.blobs.commit(input.tempFile, hex)).created;

        if (plugin === undefined) {
          await db
            .insertInto('registry_plugins')
            .values({
              id: input.pluginId,
              name: input.displayName,
              description: input.description,
              owner: input.user,
              created_at: now,
              updated_at: now,
            })
            .execute();
          keyRegistered = true;
        }
        if (keyRegistered) {
          await db
            .insertInto('registry_plugin_keys')
            .values({
              plugin_id: input.pluginId,
              key_id: input.signer.keyId,
              public_key: input.signer.encoded,
              added_by: input.user,
              added_at: now,
            })
            .execute();
        }
        try {
          await db
            .insertInto('registry_versions')
            .values({
              plugin_id: input.pluginId,
              version: input.version,
              digest: input.digest,
              integrity: input.integrity,
              size: input.size,
              key_id: input.signer.keyId,
              manifest: input.manifest,
              summary: JSON.stringify(input.summary),
              published_by: input.user,
              published_at: now,
              deprecated: null,
              yanked: this.db.bool(false),
              yanked_at: null,
            })
            .execute();
        } catch (err) {
          // Another registry process on the same database won the race for this version.
          if (this.db.isConstraintError(err)) throw versionExists(input.pluginId, input.version);
          throw err;
        }
        const tags = await readTags(db, input.pluginId);
        if (input.tag === 'latest') {
          const current = tags.latest;
          if (
            semver.prerelease(input.version) === null &&
            (current === undefined || semver.gt(input.version, current))
          ) {
            await setTag(db, input.pluginId, 'latest', input.version);
            tags.latest = input.version;
          }
        } else {
          await setTag(db, input.pluginId, input.tag, input.version);
          tags[input.tag] = input.version;
        }
        await refreshPlugin(db, input.pluginId, now);
        return {
          firstPublish: plugin === undefined,
          distTags: sortTags(tags),
          keyId: input.signer.keyId,
          keyRegistered,
        };
      },
      async () => {
        if (created) await this.blobs.remove(hex);
      },
    );
    this.#invalidate(input.pluginId);
    return outcome;
  }

  // ------------------------------------------------------------------------------------ manage

  /**
   * Sets (non-empty message) or clears (empty message) the deprecation of every version matching
   * `range`; returns the versions whose state changed. No match → E_REGISTRY_NO_MATCH.
   *
   * @example
   * await store.deprecate('sample', 'alice', '<1.1.0', 'use 1.1'); // ['1.0.0']
   */
  async deprecate(id: string, user: string, range: string, message: string): Promise<string[]> {
    if (semver.validRange(range) === null) {
      throw new RegistryError('E_REGISTRY_INVALID_RANGE', `"${range}" is not a valid semver range`);
    }
    const changed = await this.db.write(async (db) => {
      await ownedPlugin(db, id, user);
      const rows = await db
        .selectFrom('registry_versions')
        .select(['version', 'deprecated'])
        .where('plugin_id', '=', id)
        .execute();
      const matching = rows.filter((r) => semver.satisfies(r.version, range, { includePrerelease: true }));
      if (matching.length === 0) {
        throw new RegistryError('E_REGISTRY_NO_MATCH', `no version of ${id} satisfies "${range}"`);
      }
      const value = message === '' ? null : message;
      const changes = matching.filter((r) => r.deprecated !== value).map((r) => r.version);
      if (changes.length > 0) {
        await db
          .updateTable('registry_versions')
          .set({ deprecated: value })
          .where('plugin_id', '=', id)
          .where('version', 'in', changes)
          .execute();
        await refreshPlugin(db, id, new Date().toISOString());
      }
      return changes.sort(semver.compare);
    });
    this.#invalidate(id);
    return changed;
  }

  /**
   * Yanks (or un-yanks) a version. Yanking the version `latest` points to moves `latest` to the
   * highest remaining stable non-yanked version (or removes it); other tags on it are removed.
   * Un-yanking a stable version above `latest` (or with no `latest`) makes it `latest` again.
   *
   * @example
   * const { distTags } = await store.yank('sample', 'alice', '1.0.0', true);
   */
  async yank(
    id: string,
    user: string,
    version: string,
    yanked: boolean,
  ): Promise<{ distTags: Record<string, string> }> {
    const result = await this.db.write(async (db) => {
      await ownedPlugin(db, id, user);
      const rows = await db
        .selectFrom('registry_versions')
        .select(['version', 'yanked'])
        .where('plugin_id', '=', id)
        .execute();
      const row = rows.find((r) => r.version === version);
      if (row === undefined)
        throw new RegistryError('E_REGISTRY_NOT_FOUND', `no version ${version} of ${id}`);
      const now = new Date().toISOString();
      const tags = await readTags(db, id);
      if (Boolean(row.yanked) !== yanked) {
        await db
          .updateTable('registry_versions')
          .set({ yanked: this.db.bool(yanked), yanked_at: yanked ? now : null })
          .where('plugin_id', '=', id)
          .where('version', '=', version)
          .execute();
      }
      const live = rows
        .filter((r) => (r.version === version ? !yanked : !r.yanked))
        .map((r) => r.version)
        .filter((v) => semver.prerelease(v) === null)
        .sort(semver.rcompare);
      if (yanked) {
        for (const [tag, target] of Object.entries(tags)) {
          if (target !== version) continue;
          const next = tag === 'latest' ? live[0] : undefined;
          if (next === undefined) {
            await db
              .deleteFrom('registry_dist_tags')
              .where('plugin_id', '=', id)
              .where('tag', '=', tag)
              .execute();
            delete tags[tag];
          } else {
            await setTag(db, id, tag, next);
            tags[tag] = next;
          }
        }
      } else if (
        semver.prerelease(version) === null &&
        (tags.latest === undefined || semver.gt(version, tags.latest))
      ) {
        await setTag(db, id, 'latest', version);
        tags.latest = version;
      }
      await refreshPlugin(db, id, now);
      return { distTags: sortTags(tags) };
    });
    this.#invalidate(id);
    return result;
  }

  /**
   * Points dist-tag `tag` at `version` (which must exist and not be yanked).
   *
   * @example
   * await store.setDistTag('sample', 'alice', 'next', '2.1.0-beta.1');
   */
  async setDistTag(id: string, user: string, tag: string, version: string): Promise<Record<string, string>> {
    if (!isDistTagName(tag)) throw invalidTag(tag);
    const tags = await this.db.write(async (db) => {
      await ownedPlugin(db, id, user);
      const row = await db
        .selectFrom('registry_versions')
        .select(['yanked'])
        .where('plugin_id', '=', id)
        .where('version', '=', version)
        .executeTakeFirst();
      if (row === undefined)
        throw new RegistryError('E_REGISTRY_NOT_FOUND', `no version ${version} of ${id}`);
      if (row.yanked) {
        throw new RegistryError(
          'E_REGISTRY_BAD_REQUEST',
          `${id}@${version} is yanked; a dist-tag cannot point to it`,
        );
      }
      await setTag(db, id, tag, version);
      await refreshPlugin(db, id, new Date().toISOString());
      return sortTags(await readTags(db, id));
    });
    this.#invalidate(id);
    return tags;
  }

  /**
   * Removes dist-tag `tag` (`latest` cannot be removed).
   *
   * @example
   * await store.removeDistTag('sample', 'alice', 'next');
   */
  async removeDistTag(id: string, user: string, tag: string): Promise<Record<string, string>> {
    if (tag === 'latest') {
      throw new RegistryError(
        'E_REGISTRY_BAD_REQUEST',
        'the "latest" dist-tag cannot be removed; point it elsewhere instead',
      );
    }
    if (!isDistTagName(tag)) throw invalidTag(tag);
    const tags = await this.db.write(async (db) => {
      await ownedPlugin(db, id, user);
      const result = await db
        .deleteFrom('registry_dist_tags')
        .where('plugin_id', '=', id)
        .where('tag', '=', tag)
        .executeTakeFirst();
      if (Number(result.numDeletedRows) === 0) {
        throw new RegistryError('E_REGISTRY_NOT_FOUND', `no dist-tag "${tag}" for ${id}`);
      }
      await refreshPlugin(db, id, new Date().toISOString());
      return sortTags(await readTags(db, id));
    });
    this.#invalidate(id);
    return tags;
  }

  /**
   * The plugin's owner and registered keys; undefined for an unknown plugin.
   *
   * @example
   * const { owner, keys } = (await store.keys('sample'))!;
   */
  async keys(id: string): Promise<{ owner: string; keys: PluginKey[] } | undefined> {
    const entry = this.#cache.get(id) ?? (await this.#fill(id));
    return entry === undefined ? undefined : { owner: entry.state.owner, keys: entry.state.keys };
  }

  /**
   * Registers a publisher key (minisign `.pub` text or key line). Returns `created: false` when that
   * key is already registered. E_KEY_FORMAT for a malformed key.
   *
   * @example
   * const { keyId, created } = await store.addKey('sample', 'alice', readFileSync('new.pub', 'utf8'));
   */
  async addKey(
    id: string,
    user: string,
    publicKeyText: string,
  ): Promise<{ keyId: string; created: boolean }> {
    const key = parsePublicKey(publicKeyText, 'publicKey');
    const result = await this.db.write(async (db) => {
      await ownedPlugin(db, id, user);
      const keys = await db
        .selectFrom('registry_plugin_keys')
        .select(['key_id', 'public_key'])
        .where('plugin_id', '=', id)
        .execute();
      for (const row of keys) {
        const registered = parsePublicKey(row.public_key);
        if (samePublicKey(registered, key)) return { keyId: row.key_id, created: false };
        if (row.key_id === key.keyId) {
          throw new RegistryError(
            'E_REGISTRY_BAD_REQUEST',
            `another key with id ${key.keyId} is already registered for ${id}; key ids must be unique per plugin`,
          );
        }
      }
      await db
        .insertInto('registry_plugin_keys')
        .values({
          plugin_id: id,
          key_id: key.keyId,
          public_key: key.encoded,
          added_by: user,
          added_at: new Date().toISOString(),
        })
        .execute();
      await refreshPlugin(db, id, new Date().toISOString());
      return { keyId: key.keyId, created: true };
    });
    if (result.created) this.#invalidate(id);
    return result;
  }

  /**
   * Removes a registered key; the last one cannot be removed (E_REGISTRY_BAD_REQUEST).
   *
   * @example
   * await store.removeKey('sample', 'alice', '7D39ED2DB81BB22A');
   */
  async removeKey(id: string, user: string, keyId: string): Promise<void> {
    await this.db.write(async (db) => {
      await ownedPlugin(db, id, user);
      const keys = await db
        .selectFrom('registry_plugin_keys')
        .select(['key_id'])
        .where('plugin_id', '=', id)
        .execute();
      if (!keys.some((k) => k.key_id === keyId)) {
        throw new RegistryError('E_REGISTRY_NOT_FOUND', `key ${keyId} is not registered for ${id}`);
      }
      if (keys.length === 1) {
        throw new RegistryError(
          'E_REGISTRY_BAD_REQUEST',
          `key ${keyId} is the last key registered for ${id}; add its successor before removing it`,
        );
      }
      await db
        .deleteFrom('registry_plugin_keys')
        .where('plugin_id', '=', id)
        .where('key_id', '=', keyId)
        .execute();
      await refreshPlugin(db, id, new Date().toISOString());
    });
    this.#invalidate(id);
  }

  /** Closes the database (the cache is dropped). */
  async close(): Promise<void> {
    this.#cache.clear();
    await this.db.close();
  }
}

// ------------------------------------------------------------------------------------ helpers

function tokenInfo(row: {
  id: string;
  user_name: string;
  admin: boolean | number;
  note: string | null;
  created_at: Date | string;
  last_used_at: Date | string | null;
  revoked_at: Date | string | null;
}): TokenInfo {
  return {
    id: row.id,
    user: row.user_name,
    admin: Boolean(row.admin),
    note: row.note,
    createdAt: iso(row.created_at),
    lastUsedAt: isoOrNull(row.last_used_at),
    revokedAt: isoOrNull(row.revoked_at),
  };
}

function versionExists(id: string, version: string): RegistryError {
  return new RegistryError(
    'E_REGISTRY_VERSION_EXISTS',
    `${id}@${version} is already published; a published version is never replaced (publish a new version)`,
    { details: { plugin: id, version } },
  );
}

function invalidTag(tag: string): RegistryError {
  return new RegistryError(
    'E_REGISTRY_BAD_REQUEST',
    `"${tag}" is not a valid dist-tag name (a letter, then letters, digits, ".", "_" or "-"; not a semver range)`,
  );
}

/**
 * Whether the signer may publish: a registered key (false: nothing to register), or reached from one
 * by the archive's rotation chain (true: register it). Otherwise E_REGISTRY_KEY_NOT_REGISTERED; a
 * forged or broken rotation chain is the packager's E_ROTATION_INVALID.
 */
function checkSigner(input: PublishInput, rows: { key_id: string; public_key: string }[]): boolean {
  const registered = rows.map((row) => parsePublicKey(row.public_key));
  if (registered.some((key) => samePublicKey(key, input.signer))) return false;
  let rotationError: unknown;
  if (input.rotation.length > 0) {
    for (const pinned of registered) {
      try {
        verifyKeyChange({
          pluginId: input.pluginId,
          pinned,
          signer: input.signer,
          statements: input.rotation,
        });
        if (rows.some((row) => row.key_id === input.signer.keyId)) {
          throw new RegistryError(
            'E_REGISTRY_KEY_NOT_REGISTERED',
            `the signing key's id ${input.signer.keyId} is already registered for ${input.pluginId} with different key bytes`,
          );
        }
        return true;
      } catch (err) {
        if (err instanceof RegistryError) throw err;
        if (isCmpkgError(err) && err.code === 'E_UNTRUSTED_KEY') continue;
        rotationError ??= err;
      }
    }
  }
  if (rotationError !== undefined) throw rotationError;
  throw new RegistryError(
    'E_REGISTRY_KEY_NOT_REGISTERED',
    `${input.pluginId}@${input.version} is signed by key ${input.signer.keyId}, which is not registered for ` +
      `${input.pluginId} (registered: ${rows.map((r) => r.key_id).join(', ') || 'none'}). Sign with a registered key, ` +
      'ship a rotation.json signed by one, or have the owner add the key (POST /-/plugins/:plugin/keys).',
    { details: { plugin: input.pluginId, keyId: input.signer.keyId } },
  );
}

async function ownedPlugin(db: Db, id: string, user: string): Promise<void> {
  const plugin = await db
    .selectFrom('registry_plugins')
    .select(['owner'])
    .where('id', '=', id)
    .executeTakeFirst();
  if (plugin === undefined) throw new RegistryError('E_REGISTRY_NOT_FOUND', `no plugin "${id}"`);
  if (plugin.owner !== user) {
    throw new RegistryError(
      'E_REGISTRY_FORBIDDEN',
      `plugin "${id}" is owned by "${plugin.owner}", not "${user}"`,
    );
  }
}

async function readTags(db: Db, id: string): Promise<Record<string, string>> {
  const rows = await db
    .selectFrom('registry_dist_tags')
    .select(['tag', 'version'])
    .where('plugin_id', '=', id)
    .execute();
  return Object.fromEntries(rows.map((r) => [r.tag, r.version]));
}

async function setTag(db: Db, id: string, tag: string, version: string): Promise<void> {
  const updated = await db
    .updateTable('registry_dist_tags')
    .set({ version })
    .where('plugin_id', '=', id)
    .where('tag', '=', tag)
    .executeTakeFirst();
  if (Number(updated.numUpdatedRows) === 0) {
    await db.insertInto('registry_dist_tags').values({ plugin_id: id, tag, version }).execute();
  }
}

/** `latest` first, then by name: the order a packument and responses show them in. */
function sortTags(tags: Record<string, string>): Record<string, string> {
  const names = Object.keys(tags).sort((a, b) => (a === 'latest' ? -1 : b === 'latest' ? 1 : a < b ? -1 : 1));
  return Object.fromEntries(names.map((name) => [name, tags[name]!]));
}

/** Keeps the plugin row's name/description (what search matches) on its display version, and bumps updated_at. */
async function refreshPlugin(db: Db, id: string, now: string): Promise<void> {
  const tags = await readTags(db, id);
  const rows = await db
    .selectFrom('registry_versions')
    .select(['version', 'manifest', 'published_at'])
    .where('plugin_id', '=', id)
    .execute();
  const display = displayVersion(
    tags,
    rows.map((r) => ({ version: r.version, publishedAt: iso(r.published_at) })),
  );
  const row = rows.find((r) => r.version === display);
  const names = row ? manifestNames(id, row.manifest) : undefined;
  await db
    .updateTable('registry_plugins')
    .set({ updated_at: now, ...(names ? { name: names.displayName, description: names.description } : {}) })
    .where('id', '=', id)
    .execute();
}

/** The version whose name and description represent the plugin: `latest`, else the newest published. */
function displayVersion(
  tags: Record<string, string>,
  versions: { version: string; publishedAt: string }[],
): string | undefined {
  if (tags.latest !== undefined && versions.some((v) => v.version === tags.latest)) return tags.latest;
  let newest: { version: string; publishedAt: string } | undefined;
  for (const v of versions) {
    if (
      newest === undefined ||
      v.publishedAt > newest.publishedAt ||
      (v.publishedAt === newest.publishedAt && semver.gt(v.version, newest.version))
    ) {
      newest = v;
    }
  }
  return newest?.version;
}

function manifestNames(id: string, manifest: string): { displayName: string; description: string } {
  const parsed = JSON.parse(manifest) as { plugin?: { name?: string; description?: string } };
  return { displayName: parsed.plugin?.name ?? id, description: parsed.plugin?.description ?? '' };
}

async function loadState(db: Db, id: string): Promise<PluginState | undefined> {
  const plugin = await db.selectFrom('registry_plugins').selectAll().where('id', '=', id).executeTakeFirst();
  if (plugin === undefined) return undefined;
  const [versionRows, keyRows, tags] = [
    await db.selectFrom('registry_versions').selectAll().where('plugin_id', '=', id).execute(),
    await db
      .selectFrom('registry_plugin_keys')
      .selectAll()
      .where('plugin_id', '=', id)
      .orderBy('added_at')
      .orderBy('key_id')
      .execute(),
    await readTags(db, id),
  ];
  const versions: VersionState[] = versionRows
    .map((row) => ({
      version: row.version,
      digest: row.digest,
      integrity: row.integrity,
      size: Number(row.size),
      keyId: row.key_id,
      ...manifestNames(id, row.manifest),
      summary: JSON.parse(row.summary) as StoredSummary,
      publishedAt: iso(row.published_at),
      publishedBy: row.published_by,
      deprecated: row.deprecated,
      yanked: Boolean(row.yanked),
    }))
    .sort((a, b) => semver.compare(a.version, b.version));
  return {
    id,
    owner: plugin.owner,
    createdAt: iso(plugin.created_at),
    updatedAt: iso(plugin.updated_at),
    tags: sortTags(tags),
    keys: keyRows.map((k) => ({
      keyId: k.key_id,
      publicKey: k.public_key,
      addedAt: iso(k.added_at),
      addedBy: k.added_by,
    })),
    versions,
    byVersion: new Map(versions.map((v) => [v.version, v])),
  };
}

/**
 * Where a version's archive is served: `<origin>/<id>/-/<id>-<version>.cmpkg`, the file name
 * `cmpkg pack` gives it (the tarball route reads the version back out of it).
 *
 * @example
 * tarballUrl('http://127.0.0.1:4880', 'sample', '1.1.0'); // 'http://127.0.0.1:4880/sample/-/sample-1.1.0.cmpkg'
 */
export function tarballUrl(origin: string, id: string, version: string): string {
  return `${origin}/${id}/-/${id}-${version}.cmpkg`;
}

function versionDocument(state: PluginState, v: VersionState, origin: string): VersionDocument {
  const doc: VersionDocument = {
    name: state.id,
    version: v.version,
    displayName: v.displayName,
    description: v.description,
    engines: v.summary.engines,
    requires: v.summary.requires,
    migrations: v.summary.migrations,
    data: v.summary.data,
    dist: {
      tarball: tarballUrl(origin, state.id, v.version),
      integrity: v.integrity,
      digest: v.digest,
      size: v.size,
      keyId: v.keyId,
    },
    publishedAt: v.publishedAt,
    publishedBy: v.publishedBy,
  };
  if (v.deprecated !== null) doc.deprecated = v.deprecated;
  if (v.yanked) doc.yanked = true;
  return doc;
}

function buildView(state: PluginState, origin: string): PackumentView {
  const display = state.byVersion.get(
    displayVersion(
      state.tags,
      state.versions.map((v) => ({ version: v.version, publishedAt: v.publishedAt })),
    ) ?? '',
  );
  const time: Record<string, string> = { created: state.createdAt, modified: state.updatedAt };
  const versions: Record<string, VersionDocument> = {};
  for (const v of state.versions) {
    versions[v.version] = versionDocument(state, v, origin);
    time[v.version] = v.publishedAt;
  }
  const doc: Packument = {
    name: state.id,
    displayName: display?.displayName ?? state.id,
    description: display?.description ?? '',
    owner: state.owner,
    'dist-tags': state.tags,
    versions,
    time,
    keys: state.keys,
  };
  if (display?.summary.readme !== undefined) doc.readme = display.summary.readme;
  const json = JSON.stringify(doc);
  const etag = `W/"${createHash('sha1').update(json).digest('base64url')}"`;
  return {
    doc,
    json,
    body: Buffer.from(json, 'utf8'),
    etag,
    prepared: new PreparedVersions(doc),
    resolved: new Map(),
  };
}
