import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Connection, Dialect } from '@cmpkg/core';
import {
  createRotation,
  generateKeyPair,
  type InstallOptions,
  type InstallResult,
  installPackage,
  type KeyPair,
  type PackResult,
} from '@cmpkg/packager';
import { createTestDatabase, type TestDatabase, type TestEngine, testDialect } from '../helpers/engines.js';
import { FixtureFactory, type PackageSpec, PLUGIN } from './fixtures.js';

/**
 * The shared state of the install suites: signing keys, the fixture packages (packed once per test
 * file, on first use) and one database + connection per test.
 */

export const keys: { a: KeyPair; b: KeyPair; c: KeyPair } = {
  a: generateKeyPair(),
  b: generateKeyPair(),
  c: generateKeyPair(),
};

export const factory = new FixtureFactory();

const specs = {
  p100: { version: '1.0.0', key: keys.a, data: 'good' },
  p100plain: { version: '1.0.0', key: keys.a },
  p100bad: { version: '1.0.0', key: keys.a, data: 'bad' },
  p110: { version: '1.1.0', key: keys.a, data: 'good' },
  p110bad: { version: '1.1.0', key: keys.a, data: 'bad' },
  p110fail: { version: '1.1.0', key: keys.a, failAt: '0004_index' },
  p120: { version: '1.2.0', key: keys.a, data: 'good' },
  p200: { version: '2.0.0', key: keys.a },
  loose100: { version: '1.0.0', key: keys.a, loose: true },
  loose110fail: { version: '1.1.0', key: keys.a, loose: true, failAt: '0004_index' },
  loose110broken: {
    version: '1.1.0',
    key: keys.a,
    loose: true,
    failAt: '0004_index',
    brokenDown: '0003_tags',
  },
  p110b: { version: '1.1.0', key: keys.b },
  p110bRotated: {
    version: '1.1.0',
    key: keys.b,
    rotation: [
      createRotation({ pluginId: PLUGIN, from: keys.a, to: keys.b, createdAt: '2024-06-01T00:00:00.000Z' }),
    ],
  },
  p100requires: { version: '1.0.0', key: keys.a, requires: { auth: '^2.0.0' } },
  auth150: { version: '1.5.0', key: keys.c, pluginId: 'auth' },
  auth210: { version: '2.1.0', key: keys.c, pluginId: 'auth' },
  auth220beta: { version: '2.2.0-beta.1', key: keys.c, pluginId: 'auth' },
} satisfies Record<string, PackageSpec>;

export type FixtureName = keyof typeof specs;

const packed = new Map<string, Promise<PackResult>>();

/** A fixture package (packed on first use). */
export function fixture(name: FixtureName): Promise<PackResult> {
  let p = packed.get(name);
  if (!p) {
    p = factory.pack(specs[name]);
    packed.set(name, p);
  }
  return p;
}

/** Packs an ad-hoc package (not cached). */
export function packSpec(spec: PackageSpec): Promise<PackResult> {
  return factory.pack(spec);
}

/** One test's database, its dialect, an open connection and a backup directory, and an install bound to them. */
export interface InstallTarget {
  engine: TestEngine;
  db: TestDatabase;
  dialect: Dialect;
  connection: Connection;
  install(name: FixtureName | PackResult, extra?: Partial<InstallOptions>): Promise<InstallResult>;
  /** The install's rejection (a refusal), or fails the test when it resolves. */
  refusal(
    name: FixtureName | PackResult,
    extra?: Partial<InstallOptions>,
  ): Promise<{ code: string; category: string; message: string; details: Record<string, unknown> }>;
  /** `cmpkg_executions` rows (kind, status, from, to, summary) in order; [] without the table. */
  executions(): Promise<
    Array<{
      kind: string;
      status: string;
      from: unknown;
      to: unknown;
      summary: string | null;
      error: unknown;
    }>
  >;
  historyIds(): Promise<string[]>;
  pluginRow(): Promise<Record<string, unknown> | undefined>;
  /** Closes the connection, drops the database and removes the backup directory. */
  close(): Promise<void>;
}

export async function openTarget(engine: TestEngine): Promise<InstallTarget> {
  const backupDirectory = mkdtempSync(join(tmpdir(), 'cmpkg-install-backups-'));
  const db = await createTestDatabase(engine);
  const dialect = testDialect(engine);
  const connection = await dialect.connect(db.url);
  const install = async (name: FixtureName | PackResult, extra: Partial<InstallOptions> = {}) => {
    const pkg = typeof name === 'string' ? await fixture(name) : name;
    return installPackage({
      package: pkg.file,
      dialect,
      connection,
      user: 'tester',
      backupDirectory,
      ...extra,
    });
  };
  const hasTable = async (t: string) => (await db.tableNames()).includes(t);
  return {
    engine,
    db,
    dialect,
    connection,
    install,
    refusal: async (name, extra) => {
      try {
        await install(name, extra);
      } catch (err) {
        const e = err as {
          code: string;
          category: string;
          message: string;
          details: Record<string, unknown>;
        };
        return { code: e.code, category: e.category, message: e.message, details: e.details };
      }
      throw new Error('expected the install to be refused');
    },
    executions: async () =>
      (await hasTable('cmpkg_executions'))
        ? (
            await db.query(
              'select kind, status, from_version, to_version, summary, error from cmpkg_executions order by id',
            )
          ).map((r) => ({
            kind: String(r.kind),
            status: String(r.status),
            from: r.from_version,
            to: r.to_version,
            summary: (r.summary as string | null) ?? null,
            error: r.error,
          }))
        : [],
    historyIds: async () => (await db.history()).map((h) => h.migration_id),
    pluginRow: async () =>
      (await hasTable('cmpkg_plugins'))
        ? (await db.query('select * from cmpkg_plugins where plugin_id = ?', [PLUGIN]))[0]
        : undefined,
    close: async () => {
      await connection.close().catch(() => undefined);
      await db.drop();
      rmSync(backupDirectory, { recursive: true, force: true });
    },
  };
}
