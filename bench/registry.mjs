#!/usr/bin/env node
// Requests/s and p99 latency of the cmpkg registry's hot reads, GET /:plugin (the packument) and
// GET /:plugin/:range (resolution), next to Verdaccio 6 serving a packument of the same byte size in
// the same run, both driven by autocannon over loopback. Prints the figures and cmpkg ÷ Verdaccio;
// the target is 3× (see README.md, "Registry"). Exits 1 when any response is not a 2xx.
//
//   node registry.mjs [--duration S] [--warmup S] [--connections N] [--only packument,range,ranges,tag]
//                     [--cpu-prof DIR] [--registry-bin FILE]
//   (defaults: BENCH_DURATION or 10 s measured after a 2 s warm-up, 50 connections)
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { count, freePort, httpRequest, run, startProcess } from './lib.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const SAMPLE = join(here, '..', 'examples', 'sample-plugin');
const VERDACCIO_BIN = join(
  dirname(createRequire(import.meta.url).resolve('verdaccio/package.json')),
  'bin',
  'verdaccio',
);

const { values: args } = parseArgs({
  options: {
    duration: { type: 'string', default: process.env.BENCH_DURATION ?? '10' },
    warmup: { type: 'string', default: '2' },
    connections: { type: 'string', default: '50' },
    // Where the registry process writes a V8 CPU profile of the whole run (open it in Chrome DevTools).
    'cpu-prof': { type: 'string' },
    // A subset of the rows: packument, range, tag (comma-separated), e.g. to profile one of them.
    only: { type: 'string', default: 'packument,range,ranges,tag' },
    // Another build of the registry (same CLI): default the workspace's apps/registry.
    'registry-bin': { type: 'string' },
  },
});
const DURATION = count(args.duration, 'duration');
const WARMUP = count(args.warmup, 'warmup');
const CONNECTIONS = count(args.connections, 'connections');
const TARGET = 3;
const ROWS = ['packument', 'range', 'ranges', 'tag'];
const ONLY = args.only.split(',').map((r) => r.trim());
for (const r of ONLY)
  if (!ROWS.includes(r)) throw new Error(`--only: "${r}" is not one of ${ROWS.join(', ')}`);
const REGISTRY_BIN = resolve(
  args['registry-bin'] ?? join(here, '..', 'apps', 'registry', 'bin', 'cmpkg-registry.js'),
);

/**
 * The published history: 1.0.0 … 4.9.0 (40 releases), two 2.0.0 prereleases and a 5.0.0 beta under
 * the `next` tag; 1.0.0 … 1.4.0 are deprecated and 3.3.0 is yanked, as in a real history.
 */
function versions() {
  const list = [];
  for (let major = 1; major <= 4; major++) {
    for (let minor = 0; minor <= 9; minor++) {
      if (major === 2 && minor === 0) list.push('2.0.0-beta.1', '2.0.0-rc.1');
      list.push(`${major}.${minor}.0`);
    }
  }
  list.push('5.0.0-beta.1');
  return list;
}
const VERSIONS = versions();
const DEPRECATED_RANGE = '<1.5.0';
const YANKED = '3.3.0';
const EXPECT = { latest: '4.9.0', caret2: '2.9.0' };
/**
 * 1,044 distinct ranges (^M.m.p, p ≥ 1, m ≤ 8: each satisfied by M.(m+1).0 … M.9.0), more than the
 * registry memoises per packument (512), requested in turn: each request resolves afresh.
 */
const MANY_RANGES = [];
for (let major = 1; major <= 4; major++) {
  for (let minor = 0; minor <= 8; minor++) {
    for (let patch = 1; patch <= 29; patch++) MANY_RANGES.push(`^${major}.${minor}.${patch}`);
  }
}

// ---------------------------------------------------------------- processes and clean-up

const work = mkdtempSync(join(tmpdir(), 'cmpkg-bench-registry-'));
const processes = [];
const cleanup = async () => {
  await Promise.all(processes.map((p) => p.stop()));
  rmSync(work, { recursive: true, force: true });
};
for (const [signal, code] of [
  ['SIGINT', 130],
  ['SIGTERM', 143],
]) {
  process.on(signal, () => {
    process.stderr.write(`\n${signal}: stopping the servers\n`);
    cleanup().finally(() => process.exit(code));
  });
}
// Last resort (an uncaught error, process.exit elsewhere): no server outlives the bench.
process.on('exit', () => {
  for (const p of processes)
    if (p.proc.exitCode === null && p.proc.signalCode === null) p.proc.kill('SIGKILL');
  rmSync(work, { recursive: true, force: true });
});

const expectStatus = (res, status, what) => {
  if (res.status !== status) {
    throw new Error(
      `${what}: HTTP ${res.status}, expected ${status}: ${res.body.toString('utf8').slice(0, 2000)}`,
    );
  }
  return res;
};
const json = (res) => JSON.parse(res.body.toString('utf8'));

// ---------------------------------------------------------------- cmpkg registry

/** The registry's environment: only the bench's own files, whatever the caller's REGISTRY_* say. */
function registryEnv() {
  const env = { ...process.env };
  for (const name of Object.keys(env)) if (name.startsWith('REGISTRY_')) delete env[name];
  return {
    ...env,
    REGISTRY_HOST: '127.0.0.1',
    REGISTRY_PORT: '0',
    REGISTRY_DATA_DIR: join(work, 'registry'),
    REGISTRY_LOG_LEVEL: 'warn',
    // 43 publishes and two management calls from one token in a few seconds.
    REGISTRY_PUBLISH_RATE_LIMIT: '100000',
  };
}

/** Packs every version of examples/sample-plugin (higher versions reuse its 1.0.0/1.1.0/2.0.0 migrations). */
async function packArchives() {
  const { loadPlugin } = await import('@cmpkg/core');
  const { generateKeyPair, packPlugin } = await import('@cmpkg/packager');
  const config = JSON.parse(readFileSync(join(SAMPLE, 'cmpkg.config.json'), 'utf8'));
  const plugin = await loadPlugin({
    dir: join(SAMPLE, config.migrationsDir ?? 'migrations'),
    id: config.plugin.id,
    name: config.plugin.name,
    description: config.plugin.description,
  });
  const key = generateKeyPair();
  const dir = join(work, 'archives');
  mkdirSync(dir);
  const archives = [];
  for (const version of VERSIONS) {
    const out = join(dir, `${plugin.id}-${version}.cmpkg`);
    await packPlugin({ plugin, key, version, out, readme: join(SAMPLE, 'README.md') });
    archives.push({ version, file: out });
  }
  return { id: plugin.id, archives };
}

async function startRegistry() {
  if (
    args['registry-bin'] === undefined &&
    !existsSync(join(here, '..', 'apps', 'registry', 'dist', 'bin.js'))
  ) {
    throw new Error(
      'apps/registry is not built: run `pnpm build` (or `pnpm turbo run build`) from the root first',
    );
  }
  const env = registryEnv();
  const created = await run(
    process.execPath,
    [REGISTRY_BIN, 'token', 'create', '--user', 'bench', '--json'],
    {
      env,
    },
  );
  const { token } = JSON.parse(created.stdout);
  if (typeof token !== 'string') throw new Error(`token create printed no token: ${created.stdout}`);
  const nodeArgs = args['cpu-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${resolve(args['cpu-prof'])}`] : [];
  const server = await startProcess(process.execPath, [...nodeArgs, REGISTRY_BIN, 'start'], {
    env,
    ready: /listening on (https?:\/\/[^\s)]+)/,
    label: 'cmpkg-registry start',
  });
  processes.push(server);
  return { base: server.match[1].replace(/\/$/, ''), token };
}

async function seedRegistry(base, token) {
  const { id, archives } = await packArchives();
  const auth = { authorization: `Bearer ${token}` };
  for (const { version, file } of archives) {
    const body = readFileSync(file);
    const tag = version === '5.0.0-beta.1' ? '?tag=next' : '';
    const res = await httpRequest(`${base}/${id}${tag}`, {
      method: 'PUT',
      headers: { ...auth, 'content-type': 'application/octet-stream', 'content-length': body.length },
      body,
    });
    expectStatus(res, 201, `PUT /${id} (${version})`);
  }
  const post = (path, payload) => {
    const body = JSON.stringify(payload);
    return httpRequest(`${base}${path}`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      body,
    });
  };
  expectStatus(
    await post(`/-/plugins/${id}/deprecate`, {
      range: DEPRECATED_RANGE,
      message: 'data loss on rollback; use ^1.5',
    }),
    200,
    'deprecate',
  );
  expectStatus(await post(`/-/plugins/${id}/yank`, { version: YANKED, yanked: true }), 200, 'yank');

  const packument = expectStatus(await httpRequest(`${base}/${id}`), 200, `GET /${id}`);
  const doc = json(packument);
  const count = Object.keys(doc.versions).length;
  if (count !== VERSIONS.length)
    throw new Error(`the packument lists ${count} versions, expected ${VERSIONS.length}`);
  const resolved = json(expectStatus(await httpRequest(`${base}/${id}/%5E2`), 200, `GET /${id}/%5E2`));
  const latest = json(expectStatus(await httpRequest(`${base}/${id}/latest`), 200, `GET /${id}/latest`));
  if (resolved.version !== EXPECT.caret2 || latest.version !== EXPECT.latest) {
    throw new Error(
      `resolution is off: ^2 → ${resolved.version} (expected ${EXPECT.caret2}), latest → ${latest.version} (expected ${EXPECT.latest})`,
    );
  }
  return { id, packument: packument.body, doc };
}

// ---------------------------------------------------------------- Verdaccio

/** Filler text for Verdaccio's descriptions: plain ASCII, so served bytes grow one for one with it. */
const FILLER = 'Portable migrations, seed data and rollbacks for the sample knowledge base. ';
const filler = (length) => FILLER.repeat(Math.ceil(length / FILLER.length)).slice(0, length);

/**
 * Verdaccio's `sample`: an npm packument with our versions, dist-tags, times and README, each version
 * an npm version document (name, version, description, license, dependencies, deprecated, _id,
 * _npmUser, dist with tarball, shasum, integrity, unpackedSize). Verdaccio pretty-prints what it
 * serves, so the byte count is matched by `adjust` characters of description spread over the
 * versions (the rest added to, or a shortfall cut from, the README).
 */
function verdaccioDocument(ours, origin, adjust) {
  const names = Object.keys(ours.versions);
  const perVersion = Math.max(0, Math.floor(adjust / names.length));
  let readme = ours.readme ?? '';
  const rest = adjust - perVersion * names.length;
  readme = rest >= 0 ? readme + filler(rest) : readme.slice(0, Math.max(0, readme.length + rest));
  const versions = {};
  for (const name of names) {
    const v = ours.versions[name];
    versions[name] = {
      name: ours.name,
      version: name,
      description: `${v.description} ${filler(perVersion)}`,
      license: 'MIT',
      dependencies: v.requires ?? {},
      ...(v.deprecated !== undefined ? { deprecated: v.deprecated } : {}),
      _id: `${ours.name}@${name}`,
      _npmUser: { name: v.publishedBy },
      dist: {
        tarball: `${origin}/${ours.name}/-/${ours.name}-${name}.tgz`,
        shasum: v.dist.digest.slice('sha256:'.length, 'sha256:'.length + 40),
        integrity: v.dist.integrity,
        unpackedSize: v.dist.size,
      },
    };
  }
  return {
    _id: ours.name,
    _rev: '1-0123456789abcdef',
    name: ours.name,
    description: ours.description,
    'dist-tags': ours['dist-tags'],
    versions,
    time: ours.time,
    readme,
    _uplinks: {},
    _distfiles: {},
    _attachments: {},
  };
}

async function startVerdaccio(ours, targetBytes) {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const root = join(work, 'verdaccio');
  const storage = join(root, 'storage');
  mkdirSync(join(storage, ours.name), { recursive: true });
  const config = join(root, 'config.yaml');
  // No uplinks and no proxy (nothing leaves the machine), no web UI, no audit middleware, errors only.
  writeFileSync(
    config,
    [
      `storage: ${JSON.stringify(storage)}`,
      'auth:',
      '  htpasswd:',
      `    file: ${JSON.stringify(join(root, 'htpasswd'))}`,
      '    max_users: -1',
      'uplinks: {}',
      'packages:',
      "  '**':",
      '    access: $all',
      '    publish: $all',
      'web:',
      '  enable: false',
      'middlewares: {}',
      'log: { type: stdout, format: pretty, level: error }',
      '',
    ].join('\n'),
  );
  const file = join(storage, ours.name, 'package.json');
  let adjust = 0;
  writeFileSync(file, JSON.stringify(verdaccioDocument(ours, base, adjust)));
  const server = await startProcess(
    process.execPath,
    [VERDACCIO_BIN, '-c', config, '-l', `127.0.0.1:${port}`],
    {
      cwd: root,
      ready: async () => (await httpRequest(`${base}/-/ping`)).status === 200,
      label: 'verdaccio',
    },
  );
  processes.push(server);
  // Verdaccio reads package.json from disk on every request, so the size converges by rewriting it:
  // served bytes are linear in the padding (plain ASCII), one correction is normally enough.
  let served;
  for (let round = 0; round < 5; round++) {
    served = expectStatus(await httpRequest(`${base}/${ours.name}`), 200, `Verdaccio GET /${ours.name}`).body;
    const diff = targetBytes - served.length;
    if (Math.abs(diff) <= targetBytes * 0.001) break;
    adjust += diff;
    writeFileSync(file, JSON.stringify(verdaccioDocument(ours, base, adjust)));
  }
  if (Math.abs(served.length - targetBytes) > targetBytes * 0.01) {
    throw new Error(
      `could not match Verdaccio's packument to ${targetBytes} bytes (it serves ${served.length})`,
    );
  }
  const stored = readFileSync(file).length;
  // Verdaccio resolves exact versions and dist-tags only: a range is answered 400 "invalid version".
  const range = await httpRequest(`${base}/${ours.name}/%5E2`);
  const latest = json(
    expectStatus(await httpRequest(`${base}/${ours.name}/latest`), 200, 'Verdaccio GET /latest'),
  );
  if (latest.version !== EXPECT.latest) throw new Error(`Verdaccio's latest is ${latest.version}`);
  return { base, served: served.length, stored, rangeStatus: range.status };
}

// ---------------------------------------------------------------- load

/**
 * A warm-up run, then the measured one, against `base` + `paths` (several paths are requested in
 * turn, one after another across all connections); any non-2xx, error or timeout fails the bench.
 */
async function load(label, base, paths) {
  const shown = paths.length === 1 ? paths[0] : `${paths[0]} … (${paths.length} paths in turn)`;
  process.stderr.write(`  ${label}: ${base}${shown} (${WARMUP} s warm-up, ${DURATION} s)\n`);
  let next = 0;
  const options = {
    url: `${base}${paths[0]}`,
    connections: CONNECTIONS,
    pipelining: 1,
    ...(paths.length > 1
      ? { requests: [{ setupRequest: (req) => ({ ...req, path: paths[next++ % paths.length] }) }] }
      : {}),
  };
  const results = [
    await autocannon({ ...options, duration: WARMUP }),
    await autocannon({ ...options, duration: DURATION }),
  ];
  for (const r of results) {
    const bad = r.non2xx + r.errors + r.timeouts;
    if (bad > 0 || r['2xx'] === 0) {
      throw new Error(
        `${label} ${base}${shown}: ${r.non2xx} non-2xx responses, ${r.errors} errors, ${r.timeouts} timeouts ` +
          `(${r['2xx']} 2xx); status codes ${JSON.stringify(r.statusCodeStats ?? {})}`,
      );
    }
  }
  const r = results[1];
  return {
    rps: r.requests.average,
    p99: r.latency.p99,
    bytesPerResponse: r.throughput.total / r.requests.total,
  };
}

// ---------------------------------------------------------------- main

// Other work on the machine skews every row: the load average at the start is printed with the figures.
const loadAtStart = loadavg()[0];
try {
  process.stderr.write('registry bench: starting the cmpkg registry and publishing …\n');
  const ours = await startRegistry();
  const seeded = await seedRegistry(ours.base, ours.token);
  const id = seeded.id;
  process.stderr.write(`  packument ${seeded.packument.length} bytes; starting Verdaccio …\n`);
  const verdaccio = await startVerdaccio(seeded.doc, seeded.packument.length);
  const rangeNote =
    verdaccio.rangeStatus === 200
      ? `Verdaccio answered GET /${id}/%5E2 itself; in the ^M.m.p row it looks up its ${VERSIONS.length} exact versions in turn`
      : `Verdaccio does not resolve ranges (GET /${id}/%5E2 → HTTP ${verdaccio.rangeStatus}): against the ^2 row it ` +
        `does its tag lookup GET /${id}/latest, against the ^M.m.p row its exact-version lookup, the ${VERSIONS.length} versions in turn`;
  const verdaccioRange = verdaccio.rangeStatus === 200 ? `/${id}/%5E2` : `/${id}/latest`;

  // One server under load at a time; the other idles.
  const rows = [
    { key: 'packument', op: `GET /${id} (packument)`, ours: [`/${id}`], peer: [`/${id}`] },
    { key: 'range', op: `GET /${id}/^2 (range)`, ours: [`/${id}/%5E2`], peer: [verdaccioRange] },
    {
      key: 'ranges',
      op: `GET /${id}/^M.m.p (${MANY_RANGES.length.toLocaleString('en')} ranges in turn)`,
      ours: MANY_RANGES.map((r) => `/${id}/${encodeURIComponent(r)}`),
      peer: VERSIONS.map((v) => `/${id}/${v}`),
    },
    { key: 'tag', op: `GET /${id}/latest (tag)`, ours: [`/${id}/latest`], peer: [`/${id}/latest`] },
  ].filter((row) => ONLY.includes(row.key));
  for (const row of rows) {
    row.cmpkg = await load('cmpkg', ours.base, row.ours);
    row.verdaccio = await load('Verdaccio', verdaccio.base, row.peer);
    row.ratio = row.cmpkg.rps / row.verdaccio.rps;
  }

  const n = (x) => Math.round(x).toLocaleString('en');
  const ms = (x) => `${x} ms`;
  const b = (x) => `${n(x)} B`;
  console.log(
    `\nautocannon, ${CONNECTIONS} connections, pipelining 1, ${DURATION} s after a ${WARMUP} s warm-up, loopback; ` +
      `Node ${process.versions.node}, ${availableParallelism()} cores shared by autocannon and the server under load ` +
      `(one server loaded at a time); load average at start ${loadAtStart.toFixed(2)}`,
  );
  console.log(
    `packument: cmpkg ${b(seeded.packument.length)} (${VERSIONS.length} versions), ` +
      `Verdaccio ${b(verdaccio.served)} served (${b(verdaccio.stored)} compact on disk; it pretty-prints)`,
  );
  console.log(`${rangeNote}.\n`);
  console.log(
    '| operation | cmpkg req/s | cmpkg p99 | Verdaccio req/s | Verdaccio p99 | bytes/response (cmpkg / Verdaccio) | cmpkg ÷ Verdaccio |',
  );
  console.log('|:--|--:|--:|--:|--:|--:|--:|');
  for (const r of rows) {
    const met = r.ratio >= TARGET ? 'met' : 'not met';
    console.log(
      `| ${r.op} | ${n(r.cmpkg.rps)} | ${ms(r.cmpkg.p99)} | ${n(r.verdaccio.rps)} | ${ms(r.verdaccio.p99)} | ` +
        `${n(r.cmpkg.bytesPerResponse)} / ${n(r.verdaccio.bytesPerResponse)} | ${r.ratio.toFixed(2)}x (${met}) |`,
    );
  }
  const all = rows.every((r) => r.ratio >= TARGET);
  console.log(`\nTarget cmpkg req/s >= ${TARGET}x Verdaccio's: ${all ? 'met' : 'not met'} on every row.`);
  if (!all) {
    const missed = rows.filter((r) => r.ratio < TARGET).map((r) => r.op);
    console.log(`Below ${TARGET}x: ${missed.join('; ')}.`);
  }
} catch (err) {
  console.error(`registry bench failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
} finally {
  await cleanup();
}
