#!/usr/bin/env node
// Times cmpkg against umzug and Kysely's Migrator on SQLite, in one process, on fresh files in a temp
// dir. It prints figures and asserts nothing: the targets are in README.md.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { loadPlugin, Migrator } from '@cmpkg/core';
import { SqliteDialect } from '@cmpkg/dialect-sqlite';
import Database from 'better-sqlite3';
import { Kysely, Migrator as KyselyMigrator, SqliteDialect as KyselySqliteDialect, sql } from 'kysely';
import { Umzug } from 'umzug';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(root, 'packages', 'cli', 'bin', 'cmpkg.js');
const SMALL = 1_000;
const LARGE = 10_000;
const RUNS = 3;

const work = mkdtempSync(join(tmpdir(), 'cmpkg-bench-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));

// ---------------------------------------------------------------- the migrations

/** Zero-padded so every tool sorts them the same way: 00001 ... 10000. */
const pad = (i) => String(i).padStart(5, '0');
const upSql = (i) => `CREATE TABLE t_${i} (id INTEGER PRIMARY KEY, v TEXT)`;
const downSql = (i) => `DROP TABLE t_${i}`;

/** n annotated SQL files (DESIGN.md §2.2) in a new directory, for cmpkg's loader. */
function writeSqlMigrations(n) {
  const dir = join(work, `migrations-${n}`);
  mkdirSync(dir);
  for (let i = 1; i <= n; i++) {
    writeFileSync(
      join(dir, `${pad(i)}_t_${i}.sql`),
      `-- @version: 1.0.0\n-- @name: Create t_${i}\n\n-- UP MIGRATION\n${upSql(i)};\n\n-- DOWN MIGRATION\n${downSql(i)};\n`,
    );
  }
  return dir;
}

/**
 * A benchmark that measured a tool doing nothing would be worse than none: after each apply, count
 * the tables it created (a check that the work happened, not a performance assertion).
 */
function expectTables(file, n) {
  const db = new Database(file, { readonly: true });
  try {
    const { count } = db
      .prepare(
        "SELECT COUNT(*) AS count FROM sqlite_master WHERE type = 'table' AND name LIKE 't\\_%' ESCAPE '\\'",
      )
      .get();
    if (count !== n) throw new Error(`${file}: expected ${n} tables, found ${count}`);
  } finally {
    db.close();
  }
}

let fileCounter = 0;
/** A database path that has never existed. */
const freshDb = (label) => join(work, `${label}-${++fileCounter}.db`);

// ---------------------------------------------------------------- cmpkg

const dialect = new SqliteDialect();
const load = (dir) => loadPlugin({ dir, id: 'bench', version: '1.0.0' });

/** What `cmpkg <command>` does in-process: load the files, connect, run, close. */
async function cmpkg(dir, file, fn, readOnly) {
  const plugin = await load(dir);
  const connection = await dialect.connect(`sqlite:${file}`, { readOnly });
  try {
    return await fn(new Migrator({ dialect, connection, plugin }));
  } finally {
    await connection.close();
  }
}

async function cmpkgUp(dir, file) {
  const run = await cmpkg(dir, file, (m) => m.up(), false);
  if (run.error) throw run.error;
  if (run.results.length === 0) throw new Error('cmpkg applied nothing');
}

async function cmpkgStatus(dir, file) {
  const report = await cmpkg(dir, file, (m) => m.status(), true);
  if (report.counts.applied === 0) throw new Error('cmpkg status saw nothing applied');
}

/** status with the plugin already loaded: the same footing as the peers' in-memory migrations. */
async function cmpkgStatusPreloaded(plugin, file) {
  const connection = await dialect.connect(`sqlite:${file}`, { readOnly: true });
  try {
    const report = await new Migrator({ dialect, connection, plugin }).status();
    if (report.counts.applied === 0) throw new Error('cmpkg status saw nothing applied');
  } finally {
    await connection.close();
  }
}

async function cmpkgValidate(dir, file) {
  const report = await cmpkg(dir, file, (m) => m.validate(), true);
  if (!report.ok) throw new Error(`cmpkg validate failed: ${JSON.stringify(report)}`);
}

// ---------------------------------------------------------------- umzug (v3)

/** Migrations as objects and a storage table on the same connection: umzug's fastest setup. */
function umzugFor(file, n) {
  const db = new Database(file);
  db.exec('CREATE TABLE IF NOT EXISTS umzug_meta (name TEXT PRIMARY KEY)');
  const storage = {
    async logMigration({ name }) {
      db.prepare('INSERT INTO umzug_meta (name) VALUES (?)').run(name);
    },
    async unlogMigration({ name }) {
      db.prepare('DELETE FROM umzug_meta WHERE name = ?').run(name);
    },
    async executed() {
      return db.prepare('SELECT name FROM umzug_meta ORDER BY name').pluck().all();
    },
  };
  const migrations = Array.from({ length: n }, (_, k) => ({
    name: `${pad(k + 1)}_t_${k + 1}`,
    up: async () => db.exec(upSql(k + 1)),
    down: async () => db.exec(downSql(k + 1)),
  }));
  return { db, umzug: new Umzug({ migrations, storage, context: db, logger: undefined }) };
}

async function umzugUp(file, n) {
  const { db, umzug } = umzugFor(file, n);
  try {
    await umzug.up();
  } finally {
    db.close();
  }
}

async function umzugStatus(file, n) {
  const { db, umzug } = umzugFor(file, n);
  try {
    await umzug.pending();
    await umzug.executed();
  } finally {
    db.close();
  }
}

// ---------------------------------------------------------------- Kysely

/** An in-memory provider: no file loading, Kysely's cheapest path. */
function kyselyFor(file, n) {
  const db = new Kysely({ dialect: new KyselySqliteDialect({ database: new Database(file) }) });
  const migrations = {};
  for (let i = 1; i <= n; i++) {
    migrations[`${pad(i)}_t_${i}`] = {
      up: (k) => sql.raw(upSql(i)).execute(k),
      down: (k) => sql.raw(downSql(i)).execute(k),
    };
  }
  const migrator = new KyselyMigrator({ db, provider: { getMigrations: async () => migrations } });
  return { db, migrator };
}

async function kyselyUp(file, n) {
  const { db, migrator } = kyselyFor(file, n);
  try {
    const { error } = await migrator.migrateToLatest();
    if (error) throw error;
  } finally {
    await db.destroy();
  }
}

async function kyselyStatus(file, n) {
  const { db, migrator } = kyselyFor(file, n);
  try {
    await migrator.getMigrations();
  } finally {
    await db.destroy();
  }
}

// ---------------------------------------------------------------- timing

async function seconds(fn) {
  const start = performance.now();
  await fn();
  return (performance.now() - start) / 1000;
}

/** One warm-up (JIT, page cache, module loading), then the median of RUNS timed runs. */
async function median(fn) {
  await fn();
  const times = [];
  for (let i = 0; i < RUNS; i++) times.push(await seconds(fn));
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

const rows = [];
function record(what, figures) {
  rows.push({ what, ...figures });
  const shown = Object.entries(figures)
    .map(([tool, s]) => `${tool} ${s.toFixed(3)} s`)
    .join(', ');
  process.stderr.write(`  ${what}: ${shown}\n`);
}

// ---------------------------------------------------------------- the runs

process.stderr.write(`cmpkg bench: node ${process.version}, work dir ${work}\n`);

const dirSmall = writeSqlMigrations(SMALL);
const lastDb = {};

// (a) apply 1,000 trivial migrations, each run on a fresh file.
record(`apply ${SMALL.toLocaleString('en')}`, {
  cmpkg: await median(async () => {
    lastDb.cmpkg = freshDb('cmpkg-up');
    await cmpkgUp(dirSmall, lastDb.cmpkg);
    expectTables(lastDb.cmpkg, SMALL);
  }),
  umzug: await median(async () => {
    lastDb.umzug = freshDb('umzug-up');
    await umzugUp(lastDb.umzug, SMALL);
    expectTables(lastDb.umzug, SMALL);
  }),
  kysely: await median(async () => {
    lastDb.kysely = freshDb('kysely-up');
    await kyselyUp(lastDb.kysely, SMALL);
    expectTables(lastDb.kysely, SMALL);
  }),
});

// (b) status over the same 1,000, applied: cmpkg loading its files each time, then (below) with
// the plugin already in memory, as the peers' migrations are.
const peerStatus = {
  umzug: await median(() => umzugStatus(lastDb.umzug, SMALL)),
  kysely: await median(() => kyselyStatus(lastDb.kysely, SMALL)),
};
record(`status over ${SMALL.toLocaleString('en')}`, {
  cmpkg: await median(() => cmpkgStatus(dirSmall, lastDb.cmpkg)),
  ...peerStatus,
});
// The issue's workload as one figure: apply 1,000 to a new file, then status over them (cmpkg
// loading its files for both, as the CLI does).
record(`apply ${SMALL.toLocaleString('en')}, then status`, {
  cmpkg: await median(async () => {
    const file = freshDb('cmpkg-both');
    await cmpkgUp(dirSmall, file);
    await cmpkgStatus(dirSmall, file);
  }),
  umzug: await median(async () => {
    const file = freshDb('umzug-both');
    await umzugUp(file, SMALL);
    await umzugStatus(file, SMALL);
  }),
  kysely: await median(async () => {
    const file = freshDb('kysely-both');
    await kyselyUp(file, SMALL);
    await kyselyStatus(file, SMALL);
  }),
});
const pluginSmall = await load(dirSmall);
record(`status over ${SMALL.toLocaleString('en')}, plugin preloaded`, {
  cmpkg: await median(() => cmpkgStatusPreloaded(pluginSmall, lastDb.cmpkg)),
  ...peerStatus,
});

// (c) 10,000 applied migrations: status and validate, loading the files each time.
const dirLarge = writeSqlMigrations(LARGE);
const dbLarge = freshDb('cmpkg-large');
const applyLarge = await seconds(() => cmpkgUp(dirLarge, dbLarge));
expectTables(dbLarge, LARGE);
process.stderr.write(
  `  (set-up) applied ${LARGE.toLocaleString('en')} with cmpkg in ${applyLarge.toFixed(2)} s\n`,
);
record(`status over ${LARGE.toLocaleString('en')} applied`, {
  cmpkg: await median(() => cmpkgStatus(dirLarge, dbLarge)),
});
record(`validate over ${LARGE.toLocaleString('en')} applied`, {
  cmpkg: await median(() => cmpkgValidate(dirLarge, dbLarge)),
});
record(`load ${LARGE.toLocaleString('en')} files only`, { cmpkg: await median(() => load(dirLarge)) });

// The whole CLI as a user runs it: Node start-up, module loading, config, files, database.
const cliArgs = [
  cli,
  'status',
  '--json',
  '--dir',
  dirLarge,
  '--plugin',
  'bench',
  '--db',
  `sqlite:${dbLarge}`,
];
record(`\`cmpkg status\` process, ${LARGE.toLocaleString('en')} applied`, {
  cmpkg: await median(async () => {
    const run = spawnSync(process.execPath, cliArgs, {
      cwd: work,
      encoding: 'utf8',
      maxBuffer: 256 * 1024 * 1024,
    });
    if (run.status !== 0) throw new Error(`cmpkg status exited ${run.status}: ${run.stderr}`);
  }),
});

// ---------------------------------------------------------------- the table

const fmt = (s) => (s === undefined ? '' : s.toFixed(3));
const header = ['measurement (seconds, median of 3)', 'cmpkg', 'umzug', 'kysely', 'cmpkg / fastest peer'];
const table = rows.map((r) => {
  const peers = [r.umzug, r.kysely].filter((s) => s !== undefined);
  const fastest = peers.length > 0 ? Math.min(...peers) : undefined;
  const ratio = fastest === undefined ? '-' : `${(r.cmpkg / fastest).toFixed(2)}x`;
  return [r.what, fmt(r.cmpkg), fmt(r.umzug), fmt(r.kysely), ratio];
});
const widths = header.map((h, c) => Math.max(h.length, ...table.map((row) => row[c].length)));
const line = (cells) =>
  `| ${cells.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join(' | ')} |`;
console.log();
console.log(line(header));
console.log(
  `|${widths.map((w, c) => (c === 0 ? `:${'-'.repeat(w + 1)}` : `${'-'.repeat(w + 1)}:`)).join('|')}|`,
);
for (const row of table) console.log(line(row));
console.log();
console.log('Targets: cmpkg no slower than the fastest peer; status/validate over 10,000 applied under 1 s.');
