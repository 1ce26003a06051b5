import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Dialect } from '@cmpkg/core';
import { MysqlDialect } from '@cmpkg/dialect-mysql';
import { PostgresDialect } from '@cmpkg/dialect-postgres';
import { SqliteDialect } from '@cmpkg/dialect-sqlite';
import Database from 'better-sqlite3';
import { describe, inject } from 'vitest';
import {
  type AdminClient,
  adminClient,
  runDatabasePrefix,
  SERVER_URLS,
  type ServerEngine,
} from './servers.js';

/**
 * The engines every cross-engine suite runs on. PostgreSQL and MySQL suites skip (with the one line
 * the global setup printed) when their server is unreachable, unless CI=true, where the global
 * setup has already failed the run.
 */
export type TestEngine = 'sqlite' | 'postgresql' | 'mysql';
export const TEST_ENGINES: readonly TestEngine[] = ['sqlite', 'postgresql', 'mysql'];

export type Row = Record<string, unknown>;

/** A new instance of the engine's dialect, as the library's users create it. */
export function testDialect(engine: TestEngine): Dialect {
  switch (engine) {
    case 'sqlite':
      return new SqliteDialect();
    case 'postgresql':
      return new PostgresDialect();
    case 'mysql':
      return new MysqlDialect();
  }
}

export function engineAvailable(engine: TestEngine): boolean {
  return engine === 'sqlite' || inject('servers')[engine].available;
}

/**
 * `describe` once per engine, named `<name> [<engine>]`, skipped where the server is unavailable.
 *
 * @example
 * describeEngines('apply', (engine) => { it('applies', async () => { const db = await createTestDatabase(engine); ... }); });
 */
export function describeEngines(
  name: string,
  body: (engine: TestEngine) => void,
  engines = TEST_ENGINES,
): void {
  for (const engine of engines) {
    describe.skipIf(!engineAvailable(engine))(`${name} [${engine}]`, () => body(engine));
  }
}

/**
 * `describe` once per ordered pair of engines (every engine to every engine unless `from`/`to` are
 * given), named by `name(from, to)`, skipped where either server is unavailable.
 *
 * @example
 * describeEnginePairs((from, to) => `copy ${from} → ${to}`, (from, to) => { it('copies', …); });
 */
export function describeEnginePairs(
  name: (from: TestEngine, to: TestEngine) => string,
  body: (from: TestEngine, to: TestEngine) => void,
  from: readonly TestEngine[] = TEST_ENGINES,
  to: readonly TestEngine[] = TEST_ENGINES,
): void {
  for (const fromEngine of from) {
    for (const toEngine of to) {
      describe.skipIf(!engineAvailable(fromEngine) || !engineAvailable(toEngine))(
        name(fromEngine, toEngine),
        () => body(fromEngine, toEngine),
      );
    }
  }
}

/** A fresh, empty database on one engine, and direct (driver-level) access to it for assertions. */
export interface TestDatabase {
  engine: TestEngine;
  /** What `--db` gets. */
  url: string;
  /** Runs SQL with `?` placeholders (rewritten to `$n` for PostgreSQL). */
  query(sql: string, params?: unknown[]): Promise<Row[]>;
  tableNames(): Promise<string[]>;
  count(table: string): Promise<number>;
  /** `cmpkg_migrations` rows in installed order (empty when the table does not exist). */
  history(): Promise<Array<{ migration_id: string; status: string; checksum: string }>>;
  /** Quotes an identifier for this engine. */
  id(name: string): string;
  /** Closes the assertion connection and drops the database (temp file). */
  drop(): Promise<void>;
}

let counter = 0;

export async function createTestDatabase(engine: TestEngine): Promise<TestDatabase> {
  if (engine === 'sqlite') return sqliteDatabase();
  const name = `${runDatabasePrefix(inject('runId'))}${process.pid}_${++counter}`;
  const admin = await adminClient(engine);
  try {
    await admin.query(engine === 'postgresql' ? `create database "${name}"` : `create database \`${name}\``);
  } finally {
    await admin.close();
  }
  const url = new URL(SERVER_URLS[engine]);
  url.pathname = `/${name}`;
  return serverDatabase(engine, url.toString(), name);
}

function sqliteDatabase(): TestDatabase {
  const dir = mkdtempSync(join(tmpdir(), 'cmpkg-engine-'));
  const file = join(dir, 'test.db');
  // Open, read, close: no handle of ours stays open while a CLI process runs.
  const query = async (sql: string, params: unknown[] = []) => {
    // Never create the file: "the CLI created nothing" must stay checkable.
    if (!existsSync(file)) return [];
    // A short busy timeout: a test polling a database a CLI process is writing must not stall.
    const db = new Database(file, { timeout: 200 });
    try {
      const stmt = db.prepare(sql);
      if (stmt.reader) return stmt.all(...params) as Row[];
      stmt.run(...params);
      return [];
    } finally {
      db.close();
    }
  };
  const id = (n: string) => `"${n.replace(/"/g, '""')}"`;
  return withCommon({
    engine: 'sqlite',
    url: `sqlite:${file}`,
    query,
    id,
    tableNames: async () =>
      (
        await query(
          "select name from sqlite_master where type = 'table' and name not like 'sqlite_%' order by name",
        )
      ).map((r) => String(r.name)),
    drop: async () => rmSync(dir, { recursive: true, force: true }),
  });
}

async function serverDatabase(engine: ServerEngine, url: string, name: string): Promise<TestDatabase> {
  let client: AdminClient | undefined;
  const connection = async () => {
    client ??= await adminClient(engine, url);
    return client;
  };
  const query = async (sql: string, params: unknown[] = []) => {
    let n = 0;
    const text = engine === 'postgresql' ? sql.replace(/\?/g, () => `$${++n}`) : sql;
    return (await connection()).query(text, params);
  };
  const id =
    engine === 'postgresql'
      ? (n: string) => `"${n.replace(/"/g, '""')}"`
      : (n: string) => `\`${n.replace(/`/g, '``')}\``;
  return withCommon({
    engine,
    url,
    query,
    id,
    tableNames: async () => {
      const rows =
        engine === 'postgresql'
          ? await query(
              "select table_name as name from information_schema.tables where table_schema = 'public' and table_type = 'BASE TABLE' order by 1",
            )
          : await query(
              "select table_name as name from information_schema.tables where table_schema = database() and table_type = 'BASE TABLE' order by 1",
            );
      return rows.map((r) => String(r.name));
    },
    drop: async () => {
      await client?.close();
      client = undefined;
      const admin = await adminClient(engine);
      try {
        await admin.query(
          engine === 'postgresql'
            ? `drop database if exists "${name}" with (force)`
            : `drop database if exists \`${name}\``,
        );
      } finally {
        await admin.close();
      }
    },
  });
}

function withCommon(
  base: Pick<TestDatabase, 'engine' | 'url' | 'query' | 'id' | 'tableNames' | 'drop'>,
): TestDatabase {
  return {
    ...base,
    count: async (table) => Number((await base.query(`select count(*) as n from ${base.id(table)}`))[0]?.n),
    history: async () => {
      if (!(await base.tableNames()).includes('cmpkg_migrations')) return [];
      return (await base.query(
        'select migration_id, status, checksum from cmpkg_migrations order by installed_rank, migration_id',
      )) as Array<{ migration_id: string; status: string; checksum: string }>;
    },
  };
}
