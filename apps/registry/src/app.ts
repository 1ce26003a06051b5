import { RegistryError } from '@cmpkg/core';
import rateLimit from '@fastify/rate-limit';
import Fastify, { type FastifyInstance, LogController } from 'fastify';
import { BlobStore } from './blob-store.js';
import type { RegistryConfig } from './config.js';
import { openRegistryDatabase } from './database.js';
import { installErrorHandlers } from './errors.js';
import { registerPages } from './pages/routes.js';
import { RegistryStore } from './registry-store.js';
import { routeContext } from './routes/context.js';
import { registerManageRoutes } from './routes/manage.js';
import { registerPublishRoute } from './routes/publish.js';
import { registerReadRoutes } from './routes/read.js';

/**
 * A running (or ready to run) registry: the Fastify app, its store and its configuration.
 *
 * @example
 * const registry = await createRegistry(loadRegistryConfig({ REGISTRY_PORT: '0' }));
 * const url = await registry.listen(); // 'http://127.0.0.1:41234'
 * await registry.close();
 */
export interface Registry {
  readonly app: FastifyInstance;
  readonly store: RegistryStore;
  readonly config: RegistryConfig;
  /** Listens on config.host:config.port; resolves the base URL, e.g. http://127.0.0.1:41234 */
  listen(): Promise<string>;
  /** Closes the server and the database; idempotent. */
  close(): Promise<void>;
}

/**
 * Opens (creating) the database and storage dir, applies the registry's migrations, and builds the
 * app with every route, the error format and the rate limits.
 *
 * @example
 * const registry = await createRegistry(loadRegistryConfig(process.env));
 * console.log(`listening on ${await registry.listen()}`);
 */
export async function createRegistry(config: RegistryConfig): Promise<Registry> {
  const blobs = new BlobStore(config.storageDir);
  await blobs.init();
  const db = await openRegistryDatabase(config.databaseUrl);
  const store = new RegistryStore(db, blobs);
  let app: FastifyInstance;
  try {
    app = await buildApp(store, config);
  } catch (err) {
    await store.close();
    throw err;
  }
  let closing: Promise<void> | undefined;
  return {
    app,
    store,
    config,
    async listen() {
      const address = await app.listen({ host: config.host, port: config.port });
      const { port } = new URL(address);
      const host = config.host.includes(':') ? `[${config.host}]` : config.host;
      return `http://${host}:${port}`;
    },
    close() {
      closing ??= (async () => {
        try {
          await app.close();
        } finally {
          await store.close();
        }
      })();
      return closing;
    },
  };
}

async function buildApp(store: RegistryStore, config: RegistryConfig): Promise<FastifyInstance> {
  const verbose = config.logLevel === 'debug' || config.logLevel === 'trace';
  const app = Fastify({
    logger: { level: config.logLevel },
    // Per-request log lines cost throughput on the hot read path; errors are still logged.
    logController: new LogController({ disableRequestLogging: !verbose }),
    trustProxy: config.trustProxy,
    bodyLimit: 1024 * 1024,
    forceCloseConnections: true,
  });
  app.decorateRequest('principal', null);
  installErrorHandlers(app);
  // The publish route reads the archive itself, streaming and counting; other routes refuse a stream body.
  app.addContentTypeParser('application/octet-stream', (_request, payload, done) => done(null, payload));
  await app.register(rateLimit, {
    global: false,
    errorResponseBuilder: (_request, context) =>
      new RegistryError(
        'E_REGISTRY_RATE_LIMITED',
        `rate limit exceeded (${context.max} requests per minute); retry in ${context.after}`,
      ),
  });
  const ctx = routeContext(app, store, config);
  registerReadRoutes(app, ctx);
  registerPublishRoute(app, ctx);
  registerManageRoutes(app, ctx);
  registerPages(app, { reader: store, origin: ctx.origin });
  await app.ready();
  return app;
}
