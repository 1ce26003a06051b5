#!/usr/bin/env node
// Times cmpkg's cross-engine copy (SQLite -> PostgreSQL, library API of @cmpkg/transform) against
// pgloader and `psql \copy` loading the same rows, each into a fresh database it creates and drops.
// Prints figures and asserts nothing about speed (see README.md, "Copy").
//
//   node copy.mjs [--rows N] [--runs N] [--batch-size N] [--only cmpkg,pgloader,copy]
//                                                          the comparison (default 1,000,000 rows)
//   node copy.mjs --rss-only [--rows N]                    cmpkg only: peak RSS of one copy (default 10,000,000)
import { spawnSync } from 'node:child_process';
import { createWriteStream, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { PostgresDialect } from '@cmpkg/dialect-postgres';
import { SqliteDialect } from '@cmpkg/dialect-sqlite';
import Database from 'better-sqlite3';
import { cachedSqliteFile, count, median, prng, run } from './lib.mjs';

const ADMIN_URL = process.env.CMPKG_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const TABLE = 'events';
/** Bumped whenever the generator changes, so a cached file of an older shape is never reused. */
const GENERATOR_VERSION = 1;

const { values: args } = parseArgs({
  options: {
    rows: { type: 'string' },
    runs: { type: 'string', default: '1' },
    'batch-size': { type: 'string' },
    'rss-only': { type: 'boolean', default: false },
    only: { type: 'string' },
    child: { type: 'string' },
  },
});

// ---------------------------------------------------------------- the cmpkg child

/**
 * The three-field mapping of the issue: category -> upper(), severity -> a lookup to a priority
 * label, title -> trim(). Every other column is copied as it is.
 */
const SEVERITY_LABELS = { low: 'P4', medium: 'P3', high: 'P2', critical: 'P1' };
const MAPPING = {
  tables: {
    [TABLE]: {
      mapping: [
        { source: 'category', target: 'category', transform: { type: 'function', definition: 'upper' } },
        {
          source: 'severity',
          target: 'severity',
          transform: { type: 'lookup', definition: SEVERITY_LABELS },
          defaultValue: 'P5',
        },
        { source: 'title', target: 'title', transform: { type: 'function', definition: 'trim' } },
      ],
    },
  },
};

/**
 * Runs in a child process so that its peak RSS is cmpkg's alone: copies the file's table into the
 * database, then prints one JSON line with the seconds copyDatabase took and the process's peak RSS.
 */
async function child({ file, url, verify, batchSize }) {
  const { copyDatabase } = await import('@cmpkg/transform');
  const sqlite = new SqliteDialect();
  const postgres = new PostgresDialect();
  const from = { dialect: sqlite, connection: await sqlite.connect(`sqlite:${file}`, { readOnly: true }) };
  const to = { dialect: postgres, connection: await postgres.connect(url) };
  try {
    const started = performance.now();
    const report = await copyDatabase({ from, to, tables: [TABLE], mapping: MAPPING, batchSize, verify });
    const seconds = (performance.now() - started) / 1000;
    const table = report.tables[0];
    process.stdout.write(
      `${JSON.stringify({
        seconds,
        maxRssKb: process.resourceUsage().maxRSS,
        rows: report.rows,
        verified: report.verified,
        warnings: table?.warnings ?? [],
      })}\n`,
    );
  } finally {
    await from.connection.close();
    await to.connection.close();
  }
}

if (args.child) {
  await child(JSON.parse(args.child));
  process.exit(0);
}

// ---------------------------------------------------------------- the source file

const WORDS = (
  'alpha beta gamma delta epsilon queue cache shard replica index vacuum latency timeout retry ' +
  'backoff payload schema column ledger invoice tenant region cluster worker batch stream cursor ' +
  'commit rollback deadlock snapshot checksum archive restore upgrade rollout canary metric alert'
).split(' ');
const CATEGORIES = ['billing', 'network', 'storage', 'auth', 'compute', 'database', 'frontend', 'mobile'];
const SEVERITIES = Object.keys(SEVERITY_LABELS);
const HEX = '0123456789abcdef';
const START = Date.UTC(2024, 0, 1);
const YEAR_MS = 366 * 24 * 3600 * 1000;

/**
 * Fills `buffer` with row `id`: 9 columns, ~210 bytes of values (uuid 36, title ~32, body ~80,
 * timestamp 23, tags ~20, 3 short labels, 2 eight-byte numbers).
 */
function makeRow(rand, id, buffer) {
  const word = () => WORDS[Math.floor(rand() * WORDS.length)];
  let uuid = '';
  for (let i = 0; i < 32; i++) {
    const v = i === 12 ? 4 : i === 16 ? 8 + Math.floor(rand() * 4) : Math.floor(rand() * 16);
    uuid += HEX[v];
    if (i === 7 || i === 11 || i === 15 || i === 19) uuid += '-';
  }
  let title = `${word()} ${word()} ${word()} ${word()}`;
  // One title in ten has stray whitespace, so trim() has work to do.
  if (rand() < 0.1) title = `  ${title} `;
  let body = word();
  while (body.length < 74) body += ` ${word()}`;
  body = `${body}.`.slice(0, 80);
  const tags = [];
  const nTags = 1 + Math.floor(rand() * 3);
  for (let i = 0; i < nTags; i++) tags.push(word());
  buffer[0] = id;
  buffer[1] = uuid;
  buffer[2] = title;
  buffer[3] = body;
  buffer[4] = CATEGORIES[Math.floor(rand() * CATEGORIES.length)];
  buffer[5] = SEVERITIES[Math.floor(rand() * SEVERITIES.length)];
  // Timestamps without a zone, to the millisecond: `timestamp` on every engine.
  buffer[6] = new Date(START + Math.floor(rand() * YEAR_MS)).toISOString().slice(0, 23);
  buffer[7] = Math.round(rand() * 1e8) / 1e4;
  buffer[8] = JSON.stringify(tags);
  return buffer;
}

const rowBytes = (row) => row.reduce((sum, v) => sum + (typeof v === 'number' ? 8 : Buffer.byteLength(v)), 0);

const CREATE_SOURCE = `CREATE TABLE ${TABLE} (
  id INTEGER PRIMARY KEY,
  uuid UUID NOT NULL,
  title TEXT NOT NULL,
  body TEXT NOT NULL,
  category TEXT NOT NULL,
  severity TEXT NOT NULL,
  created_at TIMESTAMP NOT NULL,
  score REAL NOT NULL,
  tags JSON NOT NULL
)`;

/** The SQLite file with `rows` rows, generated once ({@link cachedSqliteFile}). */
function sourceFile(rows) {
  const { file, generated } = cachedSqliteFile(`events-${rows}-v${GENERATOR_VERSION}.db`, (db) => {
    db.exec(CREATE_SOURCE);
    const insert = db.prepare(`INSERT INTO ${TABLE} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    const rand = prng(20261121);
    const row = new Array(9);
    for (let id = 1; id <= rows; id++) insert.run(makeRow(rand, id, row));
  });
  return { file, generated, ...averageBytes(file) };
}

/** Average bytes of values per row, over a sample of 10,000 rows spread over the table. */
function averageBytes(file) {
  const db = new Database(file, { readonly: true });
  try {
    const rows = db.prepare(`SELECT COUNT(*) FROM ${TABLE}`).pluck().get();
    const step = Math.max(1, Math.floor(rows / 10_000));
    let bytes = 0;
    let seen = 0;
    for (const row of db.prepare(`SELECT * FROM ${TABLE} WHERE id % ? = 0`).raw().iterate(step)) {
      bytes += rowBytes(row);
      seen++;
    }
    return { rows, avgRowBytes: bytes / seen, fileBytes: statSync(file).size };
  } finally {
    db.close();
  }
}

// ---------------------------------------------------------------- PostgreSQL databases

const pgDialect = new PostgresDialect();
let admin;
try {
  admin = await pgDialect.connect(ADMIN_URL);
} catch (err) {
  console.log(`copy bench: PostgreSQL skipped (${err.message})`);
  process.exit(0);
}
const q = (n) => pgDialect.quoteIdentifier(n);
const created = new Set();

/** A new, empty database `cmpkg_bench_<name>` (an old one of that name is dropped first). */
async function freshDatabase(name) {
  const db = `cmpkg_bench_${name}`;
  await admin.execute(`DROP DATABASE IF EXISTS ${q(db)} WITH (FORCE)`);
  await admin.execute(`CREATE DATABASE ${q(db)}`);
  created.add(db);
  const url = new URL(ADMIN_URL);
  url.pathname = `/${db}`;
  return url.toString();
}

async function dropDatabases() {
  for (const db of created) await admin.execute(`DROP DATABASE IF EXISTS ${q(db)} WITH (FORCE)`);
  created.clear();
}

async function withConnection(url, fn) {
  const conn = await pgDialect.connect(url);
  try {
    return await fn(conn);
  } finally {
    await conn.close();
  }
}

/**
 * The target table for the peers, created as cmpkg's copy creates it: the source table as SQLite's
 * dialect introspects it, rendered by PostgreSQL's dialect (primary key included, no other index).
 */
async function createPeerTable(url, file) {
  const sqlite = new SqliteDialect();
  const source = await sqlite.connect(`sqlite:${file}`, { readOnly: true });
  let table;
  try {
    table = (await sqlite.introspect(source)).tables.find((t) => t.name === TABLE);
  } finally {
    await source.close();
  }
  await withConnection(url, async (conn) => {
    for (const sql of pgDialect.renderDdl({
      kind: 'createTable',
      table: { ...table, indexes: [], foreignKeys: [] },
    })) {
      await conn.execute(sql);
    }
  });
}

/**
 * A timing of a tool that loaded nothing, or loaded it wrong, would be worse than none: after each
 * run, check the row count and the ids, and return an order-independent hash of the columns no
 * contender changes (every contender's must be equal); after cmpkg, check that its mapping applied.
 */
async function checkTarget(url, rows, label, mapped) {
  return withConnection(url, async (conn) => {
    const { rows: r } = await conn.execute(
      `SELECT COUNT(*)::text AS n, SUM(id)::text AS ids,
         SUM(('x' || substr(md5(concat_ws('|', uuid, body, created_at, score, tags)), 1, 15))::bit(60)::bigint)::text AS hash,
         COUNT(*) FILTER (WHERE category <> upper(category) OR severity NOT IN ('P1', 'P2', 'P3', 'P4')
           OR title <> btrim(title))::text AS unmapped
       FROM ${q(TABLE)}`,
    );
    const { n, ids, hash, unmapped } = r[0];
    const expectedIds = String((BigInt(rows) * BigInt(rows + 1)) / 2n);
    if (n !== String(rows) || ids !== expectedIds) {
      throw new Error(`${label}: expected ${rows} rows with ids 1..${rows}, found ${n} (sum of ids ${ids})`);
    }
    if (mapped && unmapped !== '0') throw new Error(`${label}: ${unmapped} rows without the mapping applied`);
    return hash;
  });
}

// ---------------------------------------------------------------- the contenders

/**
 * cmpkg's copyDatabase in a child process, timed like the peers from spawn to exit (Node's start-up
 * and module loading included); `apiSeconds` is copyDatabase alone, as the child measured it.
 */
async function cmpkgCopy(file, url, verify, batchSize) {
  const proc = await run(process.execPath, [
    fileURLToPath(import.meta.url),
    '--child',
    JSON.stringify({ file, url, verify, batchSize }),
  ]);
  const result = JSON.parse(proc.stdout.trim().split('\n').at(-1));
  if (result.rows !== ROWS) throw new Error(`cmpkg copy reported ${result.rows} rows: ${proc.stdout}`);
  if (verify && result.verified !== true) throw new Error(`cmpkg copy did not verify: ${proc.stdout}`);
  return {
    seconds: proc.seconds,
    apiSeconds: result.seconds,
    maxRssKb: proc.maxRssKb ?? result.maxRssKb,
    warnings: result.warnings,
  };
}

/** pgloader's SQLite loader into the pre-created table (`create no tables`, data only). */
async function pgloaderLoad(file, url, work) {
  const load = join(work, 'events.load');
  writeFileSync(
    load,
    `LOAD DATABASE
  FROM sqlite://${file}
  INTO ${url}
  WITH data only, create no tables, no truncate, reset no sequences
  INCLUDING ONLY TABLE NAMES LIKE '${TABLE}';
`,
  );
  const proc = await run('pgloader', ['--on-error-stop', load], { cwd: work });
  const { stdout, stderr } = proc;
  // Its summary has a line per table: name, errors, rows, bytes, time.
  const summary = new RegExp(`^\\s*${TABLE}\\s+(\\d+)\\s+(\\d+)`, 'm').exec(stdout);
  if (summary?.[1] !== '0') throw new Error(`pgloader reported errors:\n${stdout}${stderr}`);
  return proc;
}

/** The same rows as CSV (not timed), then `psql -c "\copy ..."` alone is timed. */
function exportCsv(file, csv) {
  return new Promise((resolve, reject) => {
    const db = new Database(file, { readonly: true });
    const out = createWriteStream(csv);
    const quote = (v) => (typeof v === 'number' ? String(v) : `"${v.replaceAll('"', '""')}"`);
    const it = db.prepare(`SELECT * FROM ${TABLE} ORDER BY id`).raw().iterate();
    const pump = () => {
      for (;;) {
        const next = it.next();
        if (next.done) {
          db.close();
          out.end(resolve);
          return;
        }
        if (!out.write(`${next.value.map(quote).join(',')}\n`)) {
          out.once('drain', pump);
          return;
        }
      }
    };
    out.on('error', reject);
    pump();
  });
}

async function psqlCopy(csv, url) {
  return run('psql', [
    '--no-psqlrc',
    '-v',
    'ON_ERROR_STOP=1',
    '-d',
    url,
    '-c',
    `\\copy ${TABLE} FROM '${csv}' CSV`,
  ]);
}

// ---------------------------------------------------------------- the runs

const rssOnly = args['rss-only'];
const ROWS = count(args.rows ?? (rssOnly ? '10000000' : '1000000'), 'rows');
const RUNS = count(args.runs, 'runs');
// Unset: copyDatabase's own default, which is what `cmpkg copy` uses.
const BATCH = args['batch-size'] === undefined ? undefined : count(args['batch-size'], 'batch-size');
const CONTENDERS = ['cmpkg', 'pgloader', 'copy'];
const only = rssOnly ? ['cmpkg'] : (args.only ?? CONTENDERS.join(',')).split(',');
for (const name of only) {
  if (!CONTENDERS.includes(name)) throw new Error(`--only takes ${CONTENDERS.join(', ')}; got ${name}`);
}
/** A peer that is not installed is skipped with a line, as an unreachable server is. */
const installed = (command) => spawnSync(command, ['--version'], { stdio: 'ignore' }).status === 0;
for (const [name, command] of [
  ['pgloader', 'pgloader'],
  ['copy', 'psql'],
]) {
  if (only.includes(name) && !installed(command)) {
    console.log(`copy bench: ${command} skipped (not installed)`);
    only.splice(only.indexOf(name), 1);
  }
}

const work = mkdtempSync(join(tmpdir(), 'cmpkg-bench-copy-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));

process.stderr.write(`cmpkg copy bench: node ${process.version}, ${ROWS.toLocaleString('en')} rows\n`);
const source = sourceFile(ROWS);
process.stderr.write(
  `  source ${source.file}: ${source.rows.toLocaleString('en')} rows, ` +
    `${source.avgRowBytes.toFixed(1)} bytes of values a row on average, file ${(source.fileBytes / 1e6).toFixed(0)} MB\n`,
);
if (source.rows !== ROWS) throw new Error(`${source.file} holds ${source.rows} rows, expected ${ROWS}`);

const results = {};
let contentHash;

/** `RUNS` runs of one contender, each on a fresh database; the median run is kept. */
async function measure(label, prepare, fn) {
  const runs = [];
  for (let i = 0; i < RUNS; i++) {
    const url = await freshDatabase(label.replace(/\W+/g, '_'));
    await prepare?.(url);
    const result = await fn(url);
    const hash = await checkTarget(url, ROWS, label, label.startsWith('cmpkg'));
    contentHash ??= hash;
    if (hash !== contentHash)
      throw new Error(`${label}: the copied values differ from the first contender's`);
    await dropDatabases();
    runs.push(result);
    const api = result.apiSeconds === undefined ? '' : ` (copyDatabase ${result.apiSeconds.toFixed(2)} s)`;
    const rss = result.maxRssKb ? `, peak RSS ${mb(result.maxRssKb)}` : '';
    process.stderr.write(`  ${label}: ${result.seconds.toFixed(2)} s${api}${rss}\n`);
    for (const warning of result.warnings ?? []) process.stderr.write(`    warning: ${warning}\n`);
  }
  const kept = runs.find((r) => r.seconds === median(runs.map((x) => x.seconds)));
  results[label] = kept;
  return kept;
}

const mb = (kb) => `${Math.round(kb / 1024)} MB`;

try {
  if (only.includes('cmpkg')) {
    await measure('cmpkg', undefined, (url) => cmpkgCopy(source.file, url, true, BATCH));
  }
  if (rssOnly) {
    const r = results.cmpkg;
    console.log(
      `\ncmpkg copy of ${ROWS.toLocaleString('en')} rows (verify on): ${r.seconds.toFixed(1)} s, ` +
        `${Math.round(ROWS / r.seconds).toLocaleString('en')} rows/s, peak RSS ${mb(r.maxRssKb)} ` +
        `(target: under 256 MB, ${r.maxRssKb < 256 * 1024 ? 'met' : 'not met'})`,
    );
  } else {
    if (only.includes('cmpkg')) {
      await measure('cmpkg, no verify', undefined, (url) => cmpkgCopy(source.file, url, false, BATCH));
    }
    if (only.includes('pgloader')) {
      await measure(
        'pgloader',
        (url) => createPeerTable(url, source.file),
        (url) => pgloaderLoad(source.file, url, work),
      );
    }
    if (only.includes('copy')) {
      const csv = join(work, `${TABLE}.csv`);
      await exportCsv(source.file, csv);
      await measure(
        'psql \\copy',
        (url) => createPeerTable(url, source.file),
        (url) => psqlCopy(csv, url),
      );
      rmSync(csv, { force: true });
    }
    report();
  }
} finally {
  await dropDatabases();
  await admin.close();
}

function report() {
  const peers = [
    ['pgloader', results.pgloader?.seconds],
    ['\\copy', results['psql \\copy']?.seconds],
  ].filter(([, s]) => s !== undefined);
  const header = ['contender', 'seconds', 'rows/s', 'peak RSS', ...peers.map(([p]) => `vs ${p}`)];
  const table = Object.entries(results).map(([label, r]) => [
    label,
    r.seconds.toFixed(2),
    Math.round(ROWS / r.seconds).toLocaleString('en'),
    r.maxRssKb ? mb(r.maxRssKb) : '',
    // Throughput over the peer's: above 1.00x is faster than the peer.
    ...peers.map(([, s]) => `${(s / r.seconds).toFixed(2)}x`),
  ]);
  const widths = header.map((h, c) => Math.max(h.length, ...table.map((row) => row[c].length)));
  const line = (cells) =>
    `| ${cells.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join(' | ')} |`;
  console.log();
  console.log(
    `${ROWS.toLocaleString('en')} rows SQLite -> PostgreSQL, ${source.avgRowBytes.toFixed(0)} bytes of values a row, ` +
      `${RUNS === 1 ? 'one run each' : `median of ${RUNS}`}; seconds from process start to exit; ` +
      "vs X = throughput over X's",
  );
  console.log(line(header));
  console.log(
    `|${widths.map((w, c) => (c === 0 ? `:${'-'.repeat(w + 1)}` : `${'-'.repeat(w + 1)}:`)).join('|')}|`,
  );
  for (const row of table) console.log(line(row));
  const cmpkg = results['cmpkg, no verify']?.seconds;
  if (cmpkg === undefined) return;
  const pgloader = results.pgloader?.seconds;
  const copy = results['psql \\copy']?.seconds;
  console.log('\nTargets, cmpkg without verification (the peers verify nothing):');
  if (pgloader !== undefined) {
    const x = pgloader / cmpkg;
    console.log(`  at least 3x pgloader's throughput: ${x.toFixed(2)}x, ${x >= 3 ? 'met' : 'not met'}`);
  }
  if (copy !== undefined) {
    const x = cmpkg / copy;
    console.log(`  within 1.3x of \\copy's time: ${x.toFixed(2)}x, ${x <= 1.3 ? 'met' : 'not met'}`);
  }
}
