import { isAbsolute, resolve } from 'node:path';
import { ConfigError } from '@cmpkg/core';
import { z } from 'zod';

/**
 * Pino levels the registry accepts for REGISTRY_LOG_LEVEL.
 *
 * @example
 * LOG_LEVELS.includes('debug'); // true
 */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/**
 * The registry's settings, resolved from the environment by {@link loadRegistryConfig}.
 *
 * @example
 * const config: RegistryConfig = loadRegistryConfig({ REGISTRY_PORT: '0', REGISTRY_LOG_LEVEL: 'silent' });
 */
export interface RegistryConfig {
  host: string;
  port: number;
  /** Base of tarball URLs and of the install command on pages; absent = each request's protocol://host. */
  publicUrl?: string;
  /** Resolved: REGISTRY_DATABASE_URL, else `sqlite:<absolute REGISTRY_DB_FILE>`. */
  databaseUrl: string;
  /** Absolute directory of the content-addressed archives. */
  storageDir: string;
  maxUploadBytes: number;
  maxExtractedBytes: number;
  publishRateLimit: number;
  tokenRateLimit: number;
  trustProxy: boolean;
  logLevel: (typeof LOG_LEVELS)[number];
}

const SIZE = /^(\d+)\s*([kmg]i?b?|b)?$/i;
const UNITS: Record<string, number> = { b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/**
 * Parses a byte size: a whole number of bytes, or `<n>k`, `<n>m`, `<n>g` (binary: 1k = 1024).
 * Returns `undefined` for anything else.
 *
 * @example
 * parseByteSize('50m'); // 52428800
 * parseByteSize('1.5m'); // undefined
 */
export function parseByteSize(text: string): number | undefined {
  const match = SIZE.exec(text.trim());
  if (!match) return undefined;
  const unit = (match[2] ?? 'b').charAt(0).toLowerCase();
  const bytes = Number(match[1]) * (UNITS[unit] ?? 1);
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}

/** One environment variable: its zod schema and what a bad value should be called in the message. */
function variable<T>(name: string, schema: z.ZodType<T>, raw: string | undefined, expected: string): T {
  const result = schema.safeParse(raw);
  if (result.success) return result.data;
  throw new ConfigError(`${name}=${JSON.stringify(raw ?? '')} is not valid: expected ${expected}`, {
    field: name,
  });
}

/** A host name, IPv4 or IPv6 address: no spaces, slashes or ports. */
const host = z
  .string()
  .trim()
  .regex(/^(?:[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*\.?|(?:[0-9A-Fa-f]*:){2,}[0-9A-Fa-f.]*(?:%[A-Za-z0-9]+)?)$/);
/** A path: anything but the NUL byte, which no file system accepts. */
const pathText = z
  .string()
  .trim()
  .min(1)
  .refine((text) => !text.includes('\0'));
const port = z.string().trim().regex(/^\d+$/).transform(Number).pipe(z.number().int().min(0).max(65535));
const positiveInt = z
  .string()
  .trim()
  .regex(/^\d+$/)
  .transform(Number)
  .pipe(z.number().int().min(1).max(1_000_000));
const size = z.string().transform((text, ctx) => {
  const bytes = parseByteSize(text);
  if (bytes === undefined || bytes < 1) {
    ctx.addIssue({ code: 'custom', message: 'not a size' });
    return z.NEVER;
  }
  return bytes;
});
const bool = z
  .string()
  .trim()
  .toLowerCase()
  .pipe(z.enum(['true', 'false', '1', '0', 'yes', 'no']))
  .transform((v) => v === 'true' || v === '1' || v === 'yes');
const httpUrl = z
  .string()
  .trim()
  .transform((text, ctx) => {
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      ctx.addIssue({ code: 'custom', message: 'not a URL' });
      return z.NEVER;
    }
    if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.search || url.hash || url.username) {
      ctx.addIssue({ code: 'custom', message: 'not an http(s) base URL' });
      return z.NEVER;
    }
    return `${url.origin}${url.pathname}`.replace(/\/+$/, '');
  });
const databaseUrl = z
  .string()
  .trim()
  .regex(/^(postgres|postgresql):\/\/.+|^sqlite:.+/);
const logLevel = z.string().trim().toLowerCase().pipe(z.enum(LOG_LEVELS));

/**
 * Reads the registry's configuration from environment variables (see the README's table). Unset or
 * empty variables take their defaults; a bad value is a `ConfigError` naming the variable.
 * Relative paths resolve against `cwd`.
 *
 * @example
 * const config = loadRegistryConfig(process.env);
 * const test = loadRegistryConfig({ REGISTRY_PORT: '0', REGISTRY_DATA_DIR: '/tmp/reg', REGISTRY_LOG_LEVEL: 'silent' });
 */
export function loadRegistryConfig(
  env: Record<string, string | undefined> = process.env,
  cwd: string = process.cwd(),
): RegistryConfig {
  const get = (name: string): string | undefined => {
    const value = env[name];
    return value === undefined || value.trim() === '' ? undefined : value;
  };
  const path = (name: string, fallback: string): string => {
    const raw = get(name);
    if (raw === undefined) return fallback;
    return resolve(cwd, variable(name, pathText, raw, 'a path'));
  };
  const dataDir = path('REGISTRY_DATA_DIR', resolve(cwd, '.registry'));
  const dbFile = path('REGISTRY_DB_FILE', resolve(dataDir, 'registry.db'));
  const rawDbUrl = get('REGISTRY_DATABASE_URL');
  const config: RegistryConfig = {
    host: variable('REGISTRY_HOST', host, get('REGISTRY_HOST') ?? '127.0.0.1', 'a host name or address'),
    port: variable('REGISTRY_PORT', port, get('REGISTRY_PORT') ?? '4880', 'a port number 0-65535'),
    databaseUrl:
      rawDbUrl === undefined
        ? `sqlite:${dbFile}`
        : variable(
            'REGISTRY_DATABASE_URL',
            databaseUrl,
            rawDbUrl,
            'a postgres://… or sqlite:… connection URL',
          ),
    storageDir: path('REGISTRY_STORAGE_DIR', resolve(dataDir, 'blobs')),
    maxUploadBytes: variable(
      'REGISTRY_MAX_UPLOAD',
      size,
      get('REGISTRY_MAX_UPLOAD') ?? '50m',
      'a size in bytes, or <n>k, <n>m, <n>g',
    ),
    maxExtractedBytes: variable(
      'REGISTRY_MAX_EXTRACTED',
      size,
      get('REGISTRY_MAX_EXTRACTED') ?? '512m',
      'a size in bytes, or <n>k, <n>m, <n>g',
    ),
    publishRateLimit: variable(
      'REGISTRY_PUBLISH_RATE_LIMIT',
      positiveInt,
      get('REGISTRY_PUBLISH_RATE_LIMIT') ?? '30',
      'a whole number of requests per minute, at least 1',
    ),
    tokenRateLimit: variable(
      'REGISTRY_TOKEN_RATE_LIMIT',
      positiveInt,
      get('REGISTRY_TOKEN_RATE_LIMIT') ?? '10',
      'a whole number of requests per minute, at least 1',
    ),
    trustProxy: variable(
      'REGISTRY_TRUST_PROXY',
      bool,
      get('REGISTRY_TRUST_PROXY') ?? 'false',
      'true or false',
    ),
    logLevel: variable(
      'REGISTRY_LOG_LEVEL',
      logLevel,
      get('REGISTRY_LOG_LEVEL') ?? 'info',
      LOG_LEVELS.join(', '),
    ),
  };
  const publicUrl = get('REGISTRY_PUBLIC_URL');
  if (publicUrl !== undefined) {
    config.publicUrl = variable(
      'REGISTRY_PUBLIC_URL',
      httpUrl,
      publicUrl,
      'an http:// or https:// base URL without query or fragment',
    );
  }
  // A sqlite: URL given relative resolves from cwd, like the file variables.
  if (config.databaseUrl.startsWith('sqlite:') && config.databaseUrl !== 'sqlite::memory:') {
    const file = config.databaseUrl.slice('sqlite:'.length).replace(/^\/\/(?=\.|\/)/, '');
    if (!isAbsolute(file)) config.databaseUrl = `sqlite:${resolve(cwd, file)}`;
  }
  return config;
}
