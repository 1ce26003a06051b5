// Helpers shared by the benchmark scripts: a seeded generator for reproducible rows, and a child
// process runner that reports wall-clock seconds and, through GNU time, peak RSS.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

/** mulberry32: small, fast, and the same sequence on every machine for the same seed. */
export function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** GNU time, where installed, gives every contender's peak RSS the same way. */
const GNU_TIME = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;
const RSS_MARK = 'cmpkg-bench-maxrss-kb ';

/** Runs a process to its end; resolves with its wall-clock seconds, output and peak RSS (KB) when known. */
export function run(command, argv, options = {}) {
  const [file, fileArgs] = GNU_TIME ? [GNU_TIME, ['-f', `${RSS_MARK}%M`, command, ...argv]] : [command, argv];
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const proc = spawn(file, fileArgs, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d) => {
      stdout += d;
    });
    proc.stderr.on('data', (d) => {
      stderr += d;
    });
    proc.on('error', reject);
    proc.on('close', (code) => {
      const seconds = (performance.now() - started) / 1000;
      const mark = stderr.lastIndexOf(RSS_MARK);
      const maxRssKb = mark >= 0 ? Number.parseInt(stderr.slice(mark + RSS_MARK.length), 10) : undefined;
      if (code === 0) resolve({ seconds, stdout, stderr, maxRssKb });
      else reject(new Error(`${command} exited ${code}:\n${stderr.slice(-4000)}${stdout.slice(-4000)}`));
    });
  });
}

/** A `--name` value as a positive integer (`1_000_000` allowed); throws naming the option otherwise. */
export const count = (text, name) => {
  const n = Number(text.replaceAll('_', ''));
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got ${text}`);
  return n;
};
