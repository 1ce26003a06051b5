import { isCmpkgError, UsageError } from '@cmpkg/core';
import { Command, CommanderError } from 'commander';
import { createRegistry } from './app.js';
import { BlobStore } from './blob-store.js';
import { loadRegistryConfig, type RegistryConfig } from './config.js';
import { openRegistryDatabase } from './database.js';
import { RegistryStore } from './registry-store.js';
import { createToken, isTokenId, type TokenInfo } from './tokens.js';

/** Exit codes, as the cmpkg CLI: 0 ok, 1 the operation failed, 2 bad input or usage. */
const EXIT = { ok: 0, failure: 1, input: 2 } as const;

class ExitError extends Error {
  constructor(readonly exitCode: number) {
    super(`exit ${exitCode}`);
  }
}

function out(line: string): void {
  process.stdout.write(`${line}\n`);
}

async function withStore<T>(config: RegistryConfig, work: (store: RegistryStore) => Promise<T>): Promise<T> {
  const db = await openRegistryDatabase(config.databaseUrl);
  const store = new RegistryStore(db, new BlobStore(config.storageDir));
  try {
    return await work(store);
  } finally {
    await store.close();
  }
}

function showToken(t: TokenInfo): string {
  const state = t.revokedAt ? `revoked ${t.revokedAt}` : 'active';
  return [
    t.id,
    t.user,
    t.admin ? 'admin' : 'user',
    state,
    `created ${t.createdAt}`,
    `last used ${t.lastUsedAt ?? 'never'}`,
    t.note ? `note: ${t.note}` : '',
  ]
    .filter(Boolean)
    .join('  ');
}

async function start(config: RegistryConfig): Promise<void> {
  const registry = await createRegistry(config);
  let url: string;
  try {
    url = await registry.listen();
  } catch (err) {
    await registry.close();
    throw err;
  }
  out(
    `cmpkg registry listening on ${url} (database ${registry.store.db.displayUrl}, storage ${config.storageDir})`,
  );
  await new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      registry.app.log.info({ signal }, 'shutting down');
      registry.close().then(resolve, (err: unknown) => {
        process.stderr.write(`error while shutting down: ${(err as Error).message}\n`);
        process.exitCode = EXIT.failure;
        resolve();
      });
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}

function program(env: NodeJS.ProcessEnv): Command {
  const config = () => loadRegistryConfig(env, process.cwd());
  const cmd = new Command('cmpkg-registry')
    .description(
      'The cmpkg package registry server and its admin commands (configured by REGISTRY_* env vars)',
    )
    .exitOverride()
    .configureOutput({ writeErr: (text) => process.stderr.write(text) });

  cmd
    .command('start')
    .description('apply the schema and serve the registry until SIGINT/SIGTERM')
    .action(async () => start(config()));

  cmd
    .command('migrate')
    .description('apply the registry schema to the database and exit')
    .option('--json', 'machine-readable output')
    .action(async (options: { json?: boolean }) => {
      const cfg = config();
      const db = await openRegistryDatabase(cfg.databaseUrl);
      const applied = [...db.applied];
      await db.close();
      if (options.json) out(JSON.stringify({ ok: true, database: db.displayUrl, applied }));
      else
        out(
          applied.length > 0
            ? `Applied ${applied.join(', ')} to ${db.displayUrl}`
            : `The registry schema of ${db.displayUrl} is up to date`,
        );
    });

  const token = cmd.command('token').description('manage API tokens (works on the database directly)');
  token
    .command('create')
    .description('create a token; it is printed once and never again')
    .requiredOption('--user <name>', 'the user the token acts as')
    .option('--admin', 'an admin token (may manage tokens)')
    .option('--note <text>', 'a note to recognise the token by')
    .option('--json', 'machine-readable output')
    .action(async (options: { user: string; admin?: boolean; note?: string; json?: boolean }) => {
      const created = await withStore(config(), (store) =>
        createToken(store, {
          user: options.user,
          admin: options.admin === true,
          ...(options.note !== undefined ? { note: options.note } : {}),
        }),
      );
      if (options.json) out(JSON.stringify(created));
      else {
        out(`Created ${created.admin ? 'admin ' : ''}token ${created.id} for ${created.user}:`);
        out(created.token);
        out('It is shown only this once; store it now (e.g. as CMPKG_TOKEN).');
      }
    });
  token
    .command('list')
    .description('list tokens (never the tokens themselves)')
    .option('--json', 'machine-readable output')
    .action(async (options: { json?: boolean }) => {
      const tokens = await withStore(config(), (store) => store.listTokens());
      if (options.json) out(JSON.stringify({ tokens }));
      else if (tokens.length === 0) out('No tokens.');
      else for (const t of tokens) out(showToken(t));
    });
  token
    .command('revoke')
    .description('revoke a token by id (tok_…)')
    .argument('<id>', 'the token id')
    .option('--json', 'machine-readable output')
    .action(async (id: string, options: { json?: boolean }) => {
      if (!isTokenId(id)) throw new UsageError(`"${id}" is not a token id (tok_ followed by 16 hex digits)`);
      const revoked = await withStore(config(), (store) => store.revokeToken(id));
      if (options.json) out(JSON.stringify({ ok: true, token: revoked }));
      else out(`Revoked ${revoked.id} (${revoked.user})`);
    });
  return cmd;
}

async function main(argv: string[]): Promise<number> {
  try {
    await program(process.env).parseAsync(argv);
    return Number(process.exitCode ?? EXIT.ok);
  } catch (err) {
    if (err instanceof ExitError) return err.exitCode;
    if (err instanceof CommanderError) {
      // Help and --version exit 0; every other commander error is a usage error.
      return err.exitCode === 0 ? EXIT.ok : EXIT.input;
    }
    if (isCmpkgError(err)) {
      process.stderr.write(`error ${err.code}: ${err.message}\n`);
      return err.category === 'input' ? EXIT.input : EXIT.failure;
    }
    process.stderr.write(`error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return EXIT.failure;
  }
}

main(process.argv).then((code) => {
  process.exitCode = code;
});
