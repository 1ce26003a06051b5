#!/usr/bin/env node
// The `pnpm demo` script, with the built CLI, from the repository root:
//  1. applies the sample plugin to a brand-new SQLite file, showing `status` before and after `up`;
//  2. the package flow: a publisher key, signed packages of sample 1.0.0 and 2.0.0, a verify,
//     an install of 1.0.0 into another new SQLite file, the upgrade to 2.0.0, and `status` there;
//  3. the registry flow: a registry on a free port (SQLite + blobs under .demo/registry), a token,
//     a package of 1.1.0 too, `publish` of all three, `search`, `info`, and installs by range (`sample@^1`, then `@^2`).
// Runs from any working directory; everything it writes is under .demo/ (git-ignored).
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(root, 'packages', 'cli', 'bin', 'cmpkg.js');
const registryBin = join(root, 'apps', 'registry', 'bin', 'cmpkg-registry.js');
const demoDir = join(root, '.demo');

/** Removes a SQLite file and its WAL/SHM/journal companions: a stale WAL would be replayed into a new file. */
function removeDatabase(file) {
  for (const suffix of ['', '-wal', '-shm', '-journal']) rmSync(file + suffix, { force: true });
}

// A fresh start every time, so the demo always shows pending -> applied and a first install.
mkdirSync(demoDir, { recursive: true });
removeDatabase(join(demoDir, 'sample.db'));
removeDatabase(join(demoDir, 'installed.db'));
removeDatabase(join(demoDir, 'from-registry.db'));
rmSync(join(demoDir, 'registry'), { recursive: true, force: true });
for (const name of [
  'publisher.key',
  'publisher.pub',
  'sample-1.0.0.cmpkg',
  'sample-1.1.0.cmpkg',
  'sample-2.0.0.cmpkg',
]) {
  rmSync(join(demoDir, name), { force: true });
}

// Relative paths, run from the repository root: exactly what a user would type.
const plugin = ['--config', 'examples/sample-plugin/cmpkg.config.json'];
const sample = [...plugin, '--db', 'sqlite:.demo/sample.db'];
const installed = ['--db', 'sqlite:.demo/installed.db'];
const steps = [
  { title: 'Apply the sample plugin from its migration files' },
  ['status', ...sample],
  ['up', ...sample],
  ['status', ...sample],
  { title: 'The same plugin as signed packages' },
  ['keygen', '--out', '.demo/publisher'],
  ['pack', '--key', '.demo/publisher.key', '--version', '1.0.0', '--out-dir', '.demo', ...plugin],
  ['pack', '--key', '.demo/publisher.key', '--version', '2.0.0', '--out-dir', '.demo', ...plugin],
  ['verify', '.demo/sample-2.0.0.cmpkg', '--pubkey', '.demo/publisher.pub'],
  ['install', '.demo/sample-1.0.0.cmpkg', '--trust-key', '.demo/publisher.pub', ...installed],
  ['install', '.demo/sample-2.0.0.cmpkg', ...installed],
  ['status', ...plugin, ...installed],
];

/** What must stop before the demo exits, even on a failed step (the registry server). */
let cleanup = () => {};

function fail(message, code) {
  process.stderr.write(message);
  cleanup();
  process.exit(code);
}

function runSteps(steps, env = process.env) {
  for (const step of steps) {
    if (!Array.isArray(step)) {
      process.stdout.write(`\n== ${step.title}\n`);
      continue;
    }
    const shown = ['cmpkg', ...step].join(' ');
    process.stdout.write(`\n$ ${shown}\n`);
    // stdio inherited: the CLI's own output streams straight through (colours and all on a TTY).
    const run = spawnSync(process.execPath, [cli, ...step], { cwd: root, stdio: 'inherit', env });
    if (run.error) {
      fail(`demo: could not start the CLI: ${run.error.message}\n`, 1);
    }
    if (run.status !== 0) {
      const how = run.signal ? `was killed by ${run.signal}` : `exited with ${run.status}`;
      fail(`demo: \`${shown}\` ${how}\n`, run.status || 1);
    }
  }
}

runSteps(steps);

// The registry: the built server as a child process on a free port, its data under .demo/registry.
process.stdout.write('\n== The same packages through a registry\n');
const registryEnv = { ...process.env, REGISTRY_DATA_DIR: join(demoDir, 'registry'), REGISTRY_PORT: '0' };
const token = spawnSync(process.execPath, [registryBin, 'token', 'create', '--user', 'demo', '--json'], {
  cwd: root,
  env: registryEnv,
  encoding: 'utf8',
});
if (token.status !== 0) {
  fail(`demo: could not create a registry token:\n${token.stderr}`, 1);
}
process.stdout.write(
  '\n$ cmpkg-registry token create --user demo   (printed once; export it as CMPKG_TOKEN)\n',
);
const server = spawn(process.execPath, [registryBin, 'start'], {
  cwd: root,
  env: registryEnv,
  stdio: ['ignore', 'pipe', 'inherit'],
});
cleanup = () => server.kill('SIGTERM');
const url = await new Promise((resolve, reject) => {
  let seen = '';
  server.stdout.setEncoding('utf8').on('data', (chunk) => {
    seen += chunk;
    const match = /listening on (http:\/\/\S+)/.exec(seen);
    if (match) resolve(match[1]);
  });
  server.on('exit', (code) => reject(new Error(`the registry exited with ${code} before listening`)));
});
process.stdout.write(`\n$ cmpkg-registry start\ncmpkg registry listening on ${url}\n`);
try {
  const registry = ['--registry', url];
  runSteps(
    [
      ['pack', '--key', '.demo/publisher.key', '--version', '1.1.0', '--out-dir', '.demo', ...plugin],
      ['publish', '.demo/sample-1.0.0.cmpkg', ...registry],
      ['publish', '.demo/sample-1.1.0.cmpkg', ...registry],
      ['publish', '.demo/sample-2.0.0.cmpkg', ...registry],
      ['search', 'sample', ...registry],
      ['info', 'sample', ...registry],
      ['install', 'sample@^1', ...registry, '--db', 'sqlite:.demo/from-registry.db'],
      ['install', 'sample@^2', ...registry, '--db', 'sqlite:.demo/from-registry.db'],
    ],
    { ...process.env, CMPKG_TOKEN: JSON.parse(token.stdout).token },
  );
} finally {
  cleanup();
}

process.stdout.write(
  `\nDone: the sample plugin is applied to ${join(demoDir, 'sample.db')}, and installed from its packages (1.0.0, then 2.0.0) into ${join(demoDir, 'installed.db')}, and from the registry into ${join(demoDir, 'from-registry.db')}\n`,
);
