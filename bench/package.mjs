#!/usr/bin/env node
// Packs a plugin with one exported table of N rows into a signed .cmpkg, then verifies and extracts
// it, next to `gzip` of the same NDJSON bytes and `tar xzf` of the same archive, in the same run.
// Prints figures and asserts nothing about speed (see README.md, "Packages").
//
//   node package.mjs [--rows N] [--runs N]     default 1,000,000 rows (~100 MB of NDJSON), median of 3
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { cachedSqliteFile, count, median, prng, run } from './lib.mjs';

const TABLE = 'events';
/** Bumped whenever the generator changes, so a cached file of an older shape is never reused. */
const GENERATOR_VERSION = 1;

const { values: args } = parseArgs({
  options: {
    rows: { type: 'string', default: '1000000' },
    runs: { type: 'string', default: '3' },
    child: { type: 'string' },
  },
});

// ---------------------------------------------------------------- the cmpkg children

/**
 * Runs in a child process, so its peak RSS is cmpkg's alone: `pack` builds the plugin's package with
 * the table exported from the SQLite file; `verify` opens (verifies and extracts) the archive. Prints
 * one JSON line with the seconds the library call took.
 */
async function child(job) {
  const packager = await import('@cmpkg/packager');
  const started = performance.now();
  if (job.kind === 'pack') {
    const { loadPlugin } = await import('@cmpkg/core');
    const { SqliteDialect } = await import('@cmpkg/dialect-sqlite');
    const sqlite = new SqliteDialect();
    const connection = await sqlite.connect(`sqlite:${job.db}`, { readOnly: true });
    try {
      const plugin = await loadPlugin({ dir: job.migrations, id: 'bench', version: '1.0.0' });
      const key = await packager.readSecretKey(job.key);
      const result = await packager.packPlugin({
        plugin,
        key,
        out: job.out,
        data: { db: { dialect: sqlite, connection }, tables: [TABLE] },
      });
      const rows = result.manifest.data.reduce((n, d) => n + d.rows, 0);
      print({ seconds: (performance.now() - started) / 1000, rows, size: result.size });
    } finally {
      await connection.close();
    }
  } else {
    const pkg = await packager.openPackage(job.file, { tempRoot: job.tempRoot });
    const seconds = (performance.now() - started) / 1000;
    const rows = pkg.manifest.data.reduce((n, d) => n + d.rows, 0);
    const dataFile = join(pkg.dir, pkg.manifest.data[0].path);
    const extracted = statSync(dataFile).size;
    // Kept when asked: the gzip peer compresses the very bytes cmpkg packed.
    if (job.keepData) renameSync(dataFile, job.keepData);
    await pkg.dispose();
    print({ seconds, rows, extracted });
  }
}

function print(result) {
  process.stdout.write(`${JSON.stringify({ ...result, maxRssKb: process.resourceUsage().maxRSS })}\n`);
}

if (args.child) {
  await child(JSON.parse(args.child));
  process.exit(0);
}

// ---------------------------------------------------------------- the source data

const ROWS = count(args.rows, 'rows');
const RUNS = count(args.runs, 'runs');
const WORDS = (
  'alpha beta gamma delta epsilon queue cache shard replica index vacuum latency timeout retry ' +
  'backoff payload schema column ledger invoice tenant region cluster worker batch stream cursor'
).split(' ');
const CATEGORIES = ['billing', 'network', 'storage', 'auth', 'compute', 'database'];

/** The SQLite file with `rows` rows of ~100 bytes of NDJSON each, generated once ({@link cachedSqliteFile}). */
function sourceFile(rows) {
  return cachedSqliteFile(`package-${rows}-v${GENERATOR_VERSION}.db`, (db) => {
    db.exec(CREATE_TABLE);
    const insert = db.prepare(`INSERT INTO ${TABLE} VALUES (?, ?, ?, ?, ?)`);
    const rand = prng(20261121);
    const word = () => WORDS[Math.floor(rand() * WORDS.length)];
    for (let id = 1; id <= rows; id++) {
      insert.run(
        id,
        `${word()} ${word()} ${word()}`,
        CATEGORIES[Math.floor(rand() * CATEGORIES.length)],
        Math.round(rand() * 1e6) / 100,
        new Date(Date.UTC(2024, 0, 1) + Math.floor(rand() * 3e10)).toISOString().slice(0, 19),
      );
    }
  }).file;
}

const CREATE_TABLE = `CREATE TABLE ${TABLE} (
  id INTEGER PRIMARY KEY,
  title VARCHAR(100) NOT NULL,
  category VARCHAR(20) NOT NULL,
  amount DECIMAL(12,2) NOT NULL,
  created_at TIMESTAMP NOT NULL
)`;

// ---------------------------------------------------------------- the runs

const self = fileURLToPath(import.meta.url);

async function cmpkgChild(job) {
  const proc = await run(process.execPath, [self, '--child', JSON.stringify(job)]);
  const result = JSON.parse(proc.stdout.trim().split('\n').at(-1));
  return { ...result, processSeconds: proc.seconds, maxRssKb: proc.maxRssKb ?? result.maxRssKb };
}

/** One warm-up, then RUNS timed runs; the run with the median time is kept. */
async function measure(label, fn) {
  process.stderr.write(`  ${label} ...\n`);
  await fn();
  const runs = [];
  for (let i = 0; i < RUNS; i++) runs.push(await fn());
  const m = median(runs.map((r) => r.seconds));
  return runs.find((r) => r.seconds === m);
}

const work = mkdtempSync(join(tmpdir(), 'cmpkg-bench-package-'));
try {
  process.stderr.write(`package bench: ${ROWS.toLocaleString('en')} rows\n`);
  const db = sourceFile(ROWS);
  const migrations = join(work, 'migrations');
  mkdirSync(migrations);
  writeFileSync(
    join(migrations, '0001_events.sql'),
    `-- @id: 0001_events\n-- @version: 1.0.0\n\n-- UP MIGRATION\n${CREATE_TABLE};\n\n-- DOWN MIGRATION\nDROP TABLE ${TABLE};\n`,
  );
  const { generateKeyPair, writeKeyFiles } = await import('@cmpkg/packager');
  const key = join(work, 'bench.key');
  await writeKeyFiles(generateKeyPair(), { secretFile: key, publicFile: join(work, 'bench.pub') });
  const archive = join(work, 'bench-1.0.0.cmpkg');
  const ndjson = join(work, 'events.ndjson');

  const pack = await measure('cmpkg pack', async () => {
    rmSync(archive, { force: true });
    const r = await cmpkgChild({ kind: 'pack', db, migrations, key, out: archive });
    if (r.rows !== ROWS) throw new Error(`pack exported ${r.rows} rows, expected ${ROWS}`);
    return r;
  });
  const archiveBytes = statSync(archive).size;

  const extractRoot = join(work, 'extract');
  mkdirSync(extractRoot);
  const verify = await measure('cmpkg verify + extract', async () => {
    const r = await cmpkgChild({ kind: 'verify', file: archive, tempRoot: extractRoot, keepData: ndjson });
    if (r.rows !== ROWS) throw new Error(`verify reported ${r.rows} rows, expected ${ROWS}`);
    if (readdirSync(extractRoot).length !== 0) throw new Error('verify left its temporary directory behind');
    return r;
  });
  const ndjsonBytes = statSync(ndjson).size;

  const gzip = await measure('gzip', async () => {
    const r = await run('sh', ['-c', `gzip -c -6 '${ndjson}' > /dev/null`]);
    return { seconds: r.seconds, maxRssKb: r.maxRssKb };
  });
  const tarDir = join(work, 'tar');
  const tar = await measure('tar xzf', async () => {
    rmSync(tarDir, { recursive: true, force: true });
    mkdirSync(tarDir);
    const r = await run('tar', ['xzf', archive, '-C', tarDir]);
    return { seconds: r.seconds, maxRssKb: r.maxRssKb };
  });

  // The same archive verified at a tenth of the rows: peak RSS should not grow with the data.
  const smallRows = Math.max(1, Math.floor(ROWS / 10));
  const smallArchive = join(work, 'bench-small.cmpkg');
  await cmpkgChild({ kind: 'pack', db: sourceFile(smallRows), migrations, key, out: smallArchive });
  const small = await cmpkgChild({ kind: 'verify', file: smallArchive, tempRoot: extractRoot });

  const mb = (b) => `${(b / 1e6).toFixed(1)} MB`;
  const rss = (kb) => (kb ? `${Math.round(kb / 1024)} MB` : 'n/a');
  const s = (x) => x.toFixed(2);
  console.log(
    `\n${ROWS.toLocaleString('en')} rows, ${mb(ndjsonBytes)} of NDJSON, archive ${mb(archiveBytes)}; ` +
      `median of ${RUNS} after one warm-up; seconds from process start to exit (library call alone in brackets)\n`,
  );
  console.log('| step                          | seconds         | peak RSS | vs peer |');
  console.log('|:------------------------------|----------------:|---------:|--------:|');
  console.log(
    `| cmpkg pack (export + gzip + sign) | ${s(pack.processSeconds)} (${s(pack.seconds)}) | ${rss(pack.maxRssKb)} | ${(pack.processSeconds / gzip.seconds).toFixed(2)}x |`,
  );
  console.log(`| gzip -6 of the NDJSON           | ${s(gzip.seconds)} | ${rss(gzip.maxRssKb)} | 1.00x |`);
  console.log(
    `| cmpkg verify + extract          | ${s(verify.processSeconds)} (${s(verify.seconds)}) | ${rss(verify.maxRssKb)} | ${(verify.processSeconds / tar.seconds).toFixed(2)}x |`,
  );
  console.log(`| tar xzf                         | ${s(tar.seconds)} | ${rss(tar.maxRssKb)} | 1.00x |`);
  console.log(
    `\nverify + extract of ${smallRows.toLocaleString('en')} rows: peak RSS ${rss(small.maxRssKb)} ` +
      `(vs ${rss(verify.maxRssKb)} at ${ROWS.toLocaleString('en')}: memory does not grow with the data)`,
  );
  const ratio = verify.processSeconds / tar.seconds;
  console.log(
    `Target verify + extract <= 1.2x tar xzf: ${ratio.toFixed(2)}x, ${ratio <= 1.2 ? 'met' : 'not met'}`,
  );
  const hashes = spawnSync('sha256sum', [archive], { encoding: 'utf8' }).stdout.split(' ')[0];
  console.log(`archive sha256 ${hashes}`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
