#!/usr/bin/env node
// The `pnpm demo` script: applies the sample plugin to a brand-new SQLite file with the built CLI,
// showing `status` before and after `up`. Runs from any working directory.
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(root, 'packages', 'cli', 'bin', 'cmpkg.js');
const demoDir = join(root, '.demo');
const dbFile = join(demoDir, 'sample.db');

// A fresh database every time, so the demo always shows pending -> applied. The WAL/SHM/journal
// companions go too: a stale WAL next to a new file would be replayed into it.
mkdirSync(demoDir, { recursive: true });
for (const suffix of ['', '-wal', '-shm', '-journal']) rmSync(dbFile + suffix, { force: true });

// Relative paths, run from the repository root: exactly what a user would type.
const common = ['--config', 'examples/sample-plugin/cmpkg.config.json', '--db', 'sqlite:.demo/sample.db'];
const steps = [['status'], ['up'], ['status']];

for (const args of steps) {
  const shown = ['cmpkg', ...args, ...common].join(' ');
  process.stdout.write(`\n$ ${shown}\n`);
  // stdio inherited: the CLI's own output streams straight through (colours and all on a TTY).
  const run = spawnSync(process.execPath, [cli, ...args, ...common], { cwd: root, stdio: 'inherit' });
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

process.stdout.write(`\nDone: the sample plugin is applied to ${dbFile}\n`);
