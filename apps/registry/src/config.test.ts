import { isCmpkgError } from '@cmpkg/core';
import { describe, expect, it } from 'vitest';
import { loadRegistryConfig, parseByteSize } from './config.js';

const CWD = '/srv/app';

function refusal(env: Record<string, string>): { code: string; message: string; field: unknown } {
  try {
    loadRegistryConfig(env, CWD);
  } catch (err) {
    if (isCmpkgError(err)) return { code: err.code, message: err.message, field: err.details.field };
    throw err;
  }
  throw new Error(`accepted ${JSON.stringify(env)}`);
}

describe('loadRegistryConfig', () => {
  it('has the documented defaults', () => {
    expect(loadRegistryConfig({}, CWD)).toEqual({
      host: '127.0.0.1',
      port: 4880,
      databaseUrl: 'sqlite:/srv/app/.registry/registry.db',
      storageDir: '/srv/app/.registry/blobs',
      maxUploadBytes: 50 * 1024 * 1024,
      maxExtractedBytes: 512 * 1024 * 1024,
      publishRateLimit: 30,
      tokenRateLimit: 10,
      trustProxy: false,
      logLevel: 'info',
    });
  });

  it('reads every variable', () => {
    const config = loadRegistryConfig(
      {
        REGISTRY_HOST: '0.0.0.0',
        REGISTRY_PORT: '0',
        REGISTRY_PUBLIC_URL: 'https://registry.example.com/cmpkg/',
        REGISTRY_DATA_DIR: 'data',
        REGISTRY_STORAGE_DIR: '/var/blobs',
        REGISTRY_MAX_UPLOAD: '10k',
        REGISTRY_MAX_EXTRACTED: '2g',
        REGISTRY_PUBLISH_RATE_LIMIT: '5',
        REGISTRY_TOKEN_RATE_LIMIT: '3',
        REGISTRY_TRUST_PROXY: 'true',
        REGISTRY_LOG_LEVEL: 'silent',
      },
      CWD,
    );
    expect(config).toEqual({
      host: '0.0.0.0',
      port: 0,
      publicUrl: 'https://registry.example.com/cmpkg',
      databaseUrl: 'sqlite:/srv/app/data/registry.db',
      storageDir: '/var/blobs',
      maxUploadBytes: 10 * 1024,
      maxExtractedBytes: 2 * 1024 ** 3,
      publishRateLimit: 5,
      tokenRateLimit: 3,
      trustProxy: true,
      logLevel: 'silent',
    });
  });

  it('takes REGISTRY_DB_FILE relative to cwd, and REGISTRY_DATABASE_URL over it', () => {
    expect(loadRegistryConfig({ REGISTRY_DB_FILE: 'meta/r.db' }, CWD).databaseUrl).toBe(
      'sqlite:/srv/app/meta/r.db',
    );
    expect(
      loadRegistryConfig(
        { REGISTRY_DB_FILE: 'meta/r.db', REGISTRY_DATABASE_URL: 'postgres://u@db:5432/registry' },
        CWD,
      ).databaseUrl,
    ).toBe('postgres://u@db:5432/registry');
    expect(loadRegistryConfig({ REGISTRY_DATABASE_URL: 'sqlite:./x.db' }, CWD).databaseUrl).toBe(
      'sqlite:/srv/app/x.db',
    );
    expect(loadRegistryConfig({ REGISTRY_DATABASE_URL: 'sqlite:/abs/x.db' }, CWD).databaseUrl).toBe(
      'sqlite:/abs/x.db',
    );
    expect(loadRegistryConfig({ REGISTRY_DATABASE_URL: 'postgresql://h/db' }, CWD).databaseUrl).toBe(
      'postgresql://h/db',
    );
  });

  it.each(['localhost', '0.0.0.0', '::1', '::', 'registry.internal', 'fe80::1%eth0'])(
    'accepts REGISTRY_HOST=%s',
    (value) => {
      expect(loadRegistryConfig({ REGISTRY_HOST: value }, CWD).host).toBe(value);
    },
  );

  it('treats empty variables as unset', () => {
    expect(loadRegistryConfig({ REGISTRY_PORT: '', REGISTRY_LOG_LEVEL: '  ' }, CWD).port).toBe(4880);
  });

  it.each([
    ['1', true],
    ['yes', true],
    ['TRUE', true],
    ['0', false],
    ['no', false],
    ['false', false],
  ])('REGISTRY_TRUST_PROXY=%s → %s', (value, expected) => {
    expect(loadRegistryConfig({ REGISTRY_TRUST_PROXY: value }, CWD).trustProxy).toBe(expected);
  });

  it.each([
    ['REGISTRY_HOST', 'local host'],
    ['REGISTRY_HOST', 'http://example.com'],
    ['REGISTRY_HOST', '127.0.0.1:80'],
    ['REGISTRY_DATA_DIR', 'a\0b'],
    ['REGISTRY_DB_FILE', 'x\0.db'],
    ['REGISTRY_STORAGE_DIR', '\0'],
    ['REGISTRY_PORT', 'http'],
    ['REGISTRY_PORT', '-1'],
    ['REGISTRY_PORT', '65536'],
    ['REGISTRY_PORT', '80.5'],
    ['REGISTRY_PUBLIC_URL', 'registry.example.com'],
    ['REGISTRY_PUBLIC_URL', 'ftp://registry.example.com'],
    ['REGISTRY_PUBLIC_URL', 'https://registry.example.com/?x=1'],
    ['REGISTRY_PUBLIC_URL', 'https://user@registry.example.com'],
    ['REGISTRY_DATABASE_URL', 'mysql://localhost/registry'],
    ['REGISTRY_DATABASE_URL', 'registry.db'],
    ['REGISTRY_MAX_UPLOAD', '50mb!'],
    ['REGISTRY_MAX_UPLOAD', '1.5m'],
    ['REGISTRY_MAX_UPLOAD', '0'],
    ['REGISTRY_MAX_UPLOAD', '-5'],
    ['REGISTRY_MAX_UPLOAD', '9999999999g'],
    ['REGISTRY_MAX_EXTRACTED', 'lots'],
    ['REGISTRY_MAX_EXTRACTED', '12t'],
    ['REGISTRY_PUBLISH_RATE_LIMIT', '0'],
    ['REGISTRY_PUBLISH_RATE_LIMIT', 'ten'],
    ['REGISTRY_PUBLISH_RATE_LIMIT', '2.5'],
    ['REGISTRY_TOKEN_RATE_LIMIT', '0'],
    ['REGISTRY_TOKEN_RATE_LIMIT', '-3'],
    ['REGISTRY_TRUST_PROXY', 'maybe'],
    ['REGISTRY_LOG_LEVEL', 'verbose'],
    ['REGISTRY_LOG_LEVEL', 'warning'],
  ])('%s=%s → ConfigError naming the variable', (variable, value) => {
    const error = refusal({ [variable]: value });
    expect(error.code).toBe('E_CONFIG');
    expect(error.field).toBe(variable);
    expect(error.message).toContain(`${variable}=${JSON.stringify(value)}`);
  });
});

describe('parseByteSize', () => {
  it.each([
    ['1024', 1024],
    ['1k', 1024],
    ['1K', 1024],
    ['50m', 50 * 1024 * 1024],
    ['50MB', 50 * 1024 * 1024],
    ['2g', 2 * 1024 ** 3],
    ['1kib', 1024],
    ['7b', 7],
  ])('%s → %d', (text, bytes) => {
    expect(parseByteSize(text)).toBe(bytes);
  });

  it.each(['', 'm', '1.5k', '1 x', '-1', '1t'])('%j → undefined', (text) => {
    expect(parseByteSize(text)).toBeUndefined();
  });
});
