/**
 * `@cmpkg/registry`: the cmpkg package registry — publish, resolve and download signed `.cmpkg`
 * packages over an npm-flavoured HTTP API, with server-rendered browse pages.
 *
 * @example
 * import { createRegistry, loadRegistryConfig } from '@cmpkg/registry';
 * const registry = await createRegistry(loadRegistryConfig(process.env));
 * console.log(`listening on ${await registry.listen()}`);
 *
 * @packageDocumentation
 */
export { createRegistry, type Registry } from './app.js';
export { BlobStore } from './blob-store.js';
export { LOG_LEVELS, loadRegistryConfig, parseByteSize, type RegistryConfig } from './config.js';
export {
  migrateRegistry,
  openRegistryDatabase,
  REGISTRY_SCHEMA_PLUGIN,
  type RegistryDatabase,
  RegistryDb,
} from './database.js';
export { type ErrorBody, errorBody, httpErrorOf, REGISTRY_HTTP_STATUS } from './errors.js';
export {
  type PackumentView,
  type PublishInput,
  type PublishOutcome,
  RegistryStore,
  type StoredSummary,
} from './registry-store.js';
export {
  DIST_TAG_PATTERN,
  isDistTagName,
  PreparedVersions,
  type ResolveResult,
  resolveVersion,
} from './resolve.js';
export { RESERVED_IDS } from './routes/context.js';
export { createToken, hashToken, type TokenInfo } from './tokens.js';
export type {
  MigrationSummary,
  Packument,
  PluginKey,
  PluginSummary,
  RegistryReader,
  SearchObject,
  SearchPage,
  VersionDocument,
} from './types.js';
