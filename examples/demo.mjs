#!/usr/bin/env node
// The `pnpm demo` script, with the built CLI, from the repository root:
//  1. applies the sample plugin to a brand-new SQLite file, showing `status` before and after `up`;
//  2. the package flow: a publisher key, signed packages of sample 1.0.0 and 2.0.0, a verify,
//     an install of 1.0.0 into another new SQLite file, the upgrade to 2.0.0, and `status` there.
// Runs from any working directory; everything it writes is under .demo/ (git-ignored).
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(root, 'packages', 'cli', 'bin', 'cmpkg.js');
const demoDir = join(root, '.demo');

/** Removes a SQLite file and its WAL/SHM/journal companions: a stale WAL would be replayed into a new file. */
function removeDatabase(file) {
  for (const suffix of ['', '-wal', '-shm', '-journal']) rmSync(file + suffix, { force: true });
}

// A fresh start every time, so the demo always shows pending -> applied and a first install.
mkdirSync(demoDir, { recursive: true });
removeDatabase(join(demoDir, 'sample.db'));
removeDatabase(join(demoDir, 'installed.db'));
for (const name of ['publisher.key', 'publisher.pub', 'sample-1.0.0.cmpkg', 'sample-2.0.0.cmpkg']) {
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

for (const step of steps) {
  if (!Array.isArray(step)) {
    process.stdout.write(`\n== ${step.title}\n`);
    continue;
  }
  const shown = ['cmpkg', ...step].join(' ');
  process.stdout.write(`\n$ ${shown}\n`);
  // stdio inherited: the CLI's own output streams straight through (colours and all on a TTY).
  const run = spawnSync(process.execPath, [cli, ...step], { cwd: root, stdio: 'inherit' });
  if (run.error) {
    process.stderr.write(`demo: could not start the CLI: ${run.error.message}\n`);
    process.exit(1);
  }
  if (run.status !== 0) {
    const how = run.signal ? `was killed by ${run.signal}` : `exited with ${run.status}`;
    process.stderr.write(`demo: \`${shown}\` ${how}\n`);
    process.exit(run.status || 1);
  }
}

process.stdout.write(
  `\nDone: the sample plugin is applied to ${join(demoDir, 'sample.db')}, and installed from its packages (1.0.0, then 2.0.0) into ${join(demoDir, 'installed.db')}\n`,
);
