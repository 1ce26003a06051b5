import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from './cli.js';

/** The committed launcher of the built registry: what `pnpm --filter @cmpkg/registry start` runs. */
export const registryBin = join(repoRoot, 'apps', 'registry', 'bin', 'cmpkg-registry.js');

/** True when the registry has been built (`pnpm turbo run build`). */
export function registryBuilt(): boolean {
  return existsSync(join(repoRoot, 'apps', 'registry', 'dist', 'bin.js'));
}

/** A registry server running as a child process, on its own data dir. */
export interface RunningRegistry {
  /** Base URL, e.g. http://127.0.0.1:41234 (no trailing slash). */
  url: string;
  /** The fresh temp dir given as REGISTRY_DATA_DIR (database and blobs, unless env overrides them). */
  dataDir: string;
  /** A new token for `user` via `cmpkg-registry token create --user U --json`, with the same env. */
  createToken(user: string, opts?: { admin?: boolean }): Promise<string>;
  /** SIGTERM, wait for the exit (SIGKILL after 10 s), then remove the data dir. Idempotent. */
  stop(): Promise<void>;
  /** What the server wrote to stderr so far. */
  stderr(): string;
}

/** The environment the registry runs with: no REGISTRY_* inherited from the developer's shell. */
function registryEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (key.startsWith('REGISTRY_') || key.startsWith('CMPKG_') || key === 'FORCE_COLOR') continue;
    env[key] = value;
  }
  return { ...env, NO_COLOR: '1', ...extra };
}

/**
 * Runs `cmpkg-registry ARGS` (the built bin) to completion with exactly `env`.
 *
 * @example
 * const { code, stdout } = await runRegistryBin(['token', 'list', '--json'], { PATH: process.env.PATH ?? '', REGISTRY_DATA_DIR: dir });
 */
export function runRegistryBin(
  args: readonly string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [registryBin, ...args], {
      cwd: repoRoot,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      stdout += c;
    });
    child.stderr.setEncoding('utf8').on('data', (c: string) => {
      stderr += c;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/**
 * Starts the real built registry (`cmpkg-registry start`) on a free port with a fresh data dir,
 * and waits for its "listening on <url>" line. `env` adds or overrides REGISTRY_* variables;
 * `databaseUrl` sets REGISTRY_DATABASE_URL (e.g. a PostgreSQL database from createTestDatabase).
 *
 * @example
 * const registry = await startRegistry();
 * const token = await registry.createToken('alice');
 * await fetch(`${registry.url}/-/health`);
 * await registry.stop();
 */
export async function startRegistry(
  options: { env?: Record<string, string>; databaseUrl?: string } = {},
): Promise<RunningRegistry> {
  if (!registryBuilt()) {
    throw new Error('the registry is not built: run `pnpm turbo run build --output-logs=errors-only` first');
  }
  const dataDir = mkdtempSync(join(tmpdir(), 'cmpkg-registry-'));
  const env = registryEnv({
    REGISTRY_PORT: '0',
    REGISTRY_HOST: '127.0.0.1',
    REGISTRY_DATA_DIR: dataDir,
    REGISTRY_LOG_LEVEL: 'warn',
    ...(options.databaseUrl !== undefined ? { REGISTRY_DATABASE_URL: options.databaseUrl } : {}),
    ...options.env,
  });
  const child: ChildProcess = spawn(process.execPath, [registryBin, 'start'], {
    cwd: repoRoot,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (c: string) => {
    stderr += c;
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  let url: string;
  try {
    url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new Error(
              `the registry did not start within 30 s\n--- stdout ---\n${stdout}\n--- stderr ---\n${stderr}`,
            ),
          ),
        30_000,
      );
      child.stdout?.setEncoding('utf8').on('data', (c: string) => {
        stdout += c;
        const match = /listening on (http:\/\/\S+)/.exec(stdout);
        if (match?.[1]) {
          clearTimeout(timer);
          resolve(match[1]);
        }
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(
          new Error(
            `the registry exited before listening (code ${code}, signal ${signal})\n--- stdout ---\n${stdout}\n--- stderr ---\n${stderr}`,
          ),
        );
      });
      child.once('error', reject);
    });
  } catch (err) {
    child.kill('SIGKILL');
    await exited;
    rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }

  let stopping: Promise<void> | undefined;
  return {
    url,
    dataDir,
    async createToken(user, opts = {}) {
      const args = ['token', 'create', '--user', user, '--json', ...(opts.admin ? ['--admin'] : [])];
      const result = await runRegistryBin(args, env);
      if (result.code !== 0) {
        throw new Error(
          `cmpkg-registry ${args.join(' ')} -> code ${result.code}\n${result.stdout}\n${result.stderr}`,
        );
      }
      return (JSON.parse(result.stdout) as { token: string }).token;
    },
    stop() {
      stopping ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
          await exited;
          clearTimeout(timer);
        }
        rmSync(dataDir, { recursive: true, force: true });
      })();
      return stopping;
    },
    stderr: () => stderr,
  };
}
