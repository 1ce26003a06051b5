#!/usr/bin/env node
// Times cmpkg against Kysely's Migrator on PostgreSQL and MariaDB/MySQL, in one process, each on a
// throw-away database it creates and drops. Prints figures and asserts nothing (see README.md).
// A server that cannot be reached is skipped with one line.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { loadPlugin, Migrator } from '@cmpkg/core';
import { MysqlDialect } from '@cmpkg/dialect-mysql';
import { PostgresDialect } from '@cmpkg/dialect-postgres';
import {
  Kysely,
  Migrator as KyselyMigrator,
  MysqlDialect as KyselyMysqlDialect,
  PostgresDialect as KyselyPostgresDialect,
  sql,
} from 'kysely';
import { createPool } from 'mysql2';
import pg from 'pg';

const N = 500;
const RUNS = 3;
const SERVERS = {
  postgresql: {
    label: 'PostgreSQL',
    admin: process.env.CMPKG_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
    dialect: () => new PostgresDialect(),
    kysely: (url) => new KyselyPostgresDialect({ pool: new pg.Pool({ connectionString: url, max: 1 }) }),
  },
  mysql: {
    label: 'MySQL/MariaDB',
    admin: process.env.CMPKG_TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test',
    dialect: () => new MysqlDialect(),
    kysely: (url) => new KyselyMysqlDialect({ pool: createPool({ uri: url, connectionLimit: 1 }) }),
  },
};

const work = mkdtempSync(join(tmpdir(), 'cmpkg-bench-servers-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));

const pad = (i) => String(i).padStart(5, '0');
const upSql = (i) => `CREATE TABLE t_${i} (id INTEGER PRIMARY KEY, v VARCHAR(20))`;

const dir = join(work, 'migrations');
mkdirSync(dir);
for (let i = 1; i <= N; i++) {
  writeFileSync(
    join(dir, `${pad(i)}_t_${i}.sql`),
    `-- @version: 1.0.0\n-- @name: Create t_${i}\n\n-- UP MIGRATION\n${upSql(i)};\n\n-- DOWN MIGRATION\nDROP TABLE t_${i};\n`,
  );
}

/** Creates, and on `drop()` removes, a database on the server, through the dialect under test's own driver-free admin URL. */
async function freshDatabase(engine, name) {
  const server = SERVERS[engine];
  const dialect = server.dialect();
  const admin = await dialect.connect(server.admin);
  const q = (n) => dialect.quoteIdentifier(n);
  await admin.execute(`DROP DATABASE IF EXISTS ${q(name)}`);
  await admin.execute(`CREATE DATABASE ${q(name)}`);
  const url = new URL(server.admin);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async tables() {
      const conn = await dialect.connect(url.toString(), { readOnly: true });
      try {
        const snapshot = await dialect.introspect(conn);
        return snapshot.tables.filter((t) => t.name.startsWith('t_')).length;
      } finally {
        await conn.close();
      }
    },
    async drop() {
      await admin.execute(
        engine === 'postgresql'
          ? `DROP DATABASE IF EXISTS ${q(name)} WITH (FORCE)`
          : `DROP DATABASE IF EXISTS ${q(name)}`,
      );
      await admin.close();
    },
  };
}

async function cmpkgUp(engine, url) {
  const dialect = SERVERS[engine].dialect();
  const plugin = await loadPlugin({ dir, id: 'bench' });
  const connection = await dialect.connect(url);
  try {
    const result = await new Migrator({ dialect, connection, plugin }).up();
    if (result.error) throw result.error;
  } finally {
    await connection.close();
  }
}

async function kyselyUp(engine, url) {
  const db = new Kysely({ dialect: SERVERS[engine].kysely(url) });
  const migrations = {};
  for (let i = 1; i <= N; i++) {
    migrations[`${pad(i)}_t_${i}`] = { up: (k) => sql.raw(upSql(i)).execute(k) };
  }
  try {
    const { error } = await new KyselyMigrator({
      db,
      provider: { getMigrations: async () => migrations },
    }).migrateToLatest();
    if (error) throw error;
  } finally {
    await db.destroy();
  }
}

async function introspect(engine, url) {
  const dialect = SERVERS[engine].dialect();
  const conn = await dialect.connect(url, { readOnly: true });
  try {
    return (await dialect.introspect(conn)).tables.length;
  } finally {
    await conn.close();
  }
}

/** One warm-up, then the median of RUNS timed runs, each on a fresh database. */
async function median(engine, tool, fn) {
  const times = [];
  for (let run = 0; run <= RUNS; run++) {
    const db = await freshDatabase(engine, `cmpkg_bench_${process.pid}_${tool}_${run}`);
    try {
      const started = performance.now();
      await fn(db.url);
      const elapsed = (performance.now() - started) / 1000;
      const made = await db.tables();
      if (made !== N) throw new Error(`${tool} on ${engine}: expected ${N} tables, found ${made}`);
      if (run > 0) times.push(elapsed);
    } finally {
      await db.drop();
    }
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

const rows = [];
for (const engine of Object.keys(SERVERS)) {
  const { label, admin } = SERVERS[engine];
  try {
    const conn = await SERVERS[engine].dialect().connect(admin);
    await conn.close();
  } catch (err) {
    console.log(`${label}: skipped (${err.message})`);
    continue;
  }
  const cmpkg = await median(engine, 'cmpkg', (url) => cmpkgUp(engine, url));
  const kysely = await median(engine, 'kysely', (url) => kyselyUp(engine, url));
  rows.push([`apply ${N} on ${label}`, cmpkg, kysely]);
  const db = await freshDatabase(engine, `cmpkg_bench_${process.pid}_introspect`);
  try {
    await cmpkgUp(engine, db.url);
    const times = [];
    for (let run = 0; run <= RUNS; run++) {
      const started = performance.now();
      await introspect(engine, db.url);
      if (run > 0) times.push((performance.now() - started) / 1000);
    }
    times.sort((a, b) => a - b);
    rows.push([`introspect ${N + 4} tables on ${label}`, times[1], undefined]);
  } finally {
    await db.drop();
  }
}

const fmt = (s) => (s === undefined ? '' : s.toFixed(3));
console.log(`\nseconds, median of ${RUNS} (one warm-up); ratio = cmpkg / Kysely`);
console.log(
  ['measurement'.padEnd(40), 'cmpkg'.padStart(7), 'kysely'.padStart(7), 'ratio'.padStart(7)].join('  '),
);
for (const [what, cmpkg, kysely] of rows) {
  const ratio = kysely === undefined ? '-' : `${(cmpkg / kysely).toFixed(2)}x`;
  console.log(
    [what.padEnd(40), fmt(cmpkg).padStart(7), fmt(kysely).padStart(7), ratio.padStart(7)].join('  '),
  );
}
