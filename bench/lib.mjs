// Helpers shared by the benchmark scripts: a seeded generator for reproducible rows, a cached
// generated SQLite file, a child process runner that reports wall-clock seconds and, through GNU
// time, peak RSS, the median, and what the HTTP benches need: a free port, a long-running server
// process, a plain HTTP request.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';

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

/**
 * A generated SQLite file, made once and kept under bench/.data/ as `name` (put the row count and
 * the generator's version into it): `fill(db)` runs in one transaction on a temporary file, journal
 * and sync off, which is then renamed, so an interrupted generation is never taken for a finished
 * one. Returns the path and whether it was generated now.
 */
export function cachedSqliteFile(name, fill) {
  const dir = join(dirname(fileURLToPath(import.meta.url)), '.data');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, '.gitignore'), '*\n');
  const file = join(dir, name);
  if (existsSync(file)) return { file, generated: false };
  const partial = `${file}.partial`;
  rmSync(partial, { force: true });
  const started = performance.now();
  const db = new Database(partial);
  db.pragma('journal_mode = OFF');
  db.pragma('synchronous = OFF');
  db.transaction(() => fill(db))();
  db.close();
  renameSync(partial, file);
  process.stderr.write(`  generated ${file} in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
  return { file, generated: true };
}

/** The middle value of `xs` (the upper one of an even count). */
export const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

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

/** A free TCP port on 127.0.0.1, asked of the OS and released (another process could take it first: fine here). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/**
 * One HTTP/1.1 request without `Accept-Encoding` (so the body is the bytes a load generator gets);
 * resolves with the status, headers and whole body as a Buffer, whatever the status.
 */
export function httpRequest(url, { method = 'GET', headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () =>
        resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }),
      );
    });
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * Starts a long-running process (a server) and resolves once it is ready: `ready` is a RegExp matched
 * against its stdout + stderr (the match is returned) or an async probe returning true. Rejects, with
 * the process stopped and its output, when it exits or is not ready within `timeoutMs`.
 * `stop()` sends SIGTERM, then SIGKILL after 5 s, and resolves when it has exited.
 */
export async function startProcess(
  command,
  argv,
  { ready, timeoutMs = 30_000, label = command, ...options } = {},
) {
  const proc = spawn(command, argv, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
  let output = '';
  let exited = false;
  const exit = new Promise((resolve) => proc.on('close', resolve));
  exit.then(() => {
    exited = true;
  });
  let onOutput = () => {};
  const append = (d) => {
    // Only the tail is kept: a chatty server must not grow the bench's memory.
    output = (output + d).slice(-64_000);
    onOutput();
  };
  proc.stdout.on('data', append);
  proc.stderr.on('data', append);
  const handle = {
    proc,
    output: () => output,
    async stop() {
      if (exited) return;
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
      await exit;
      clearTimeout(timer);
    },
  };
  const failed = (why) => new Error(`${label} ${why}:\n${output.slice(-4000)}`);
  const deadline = Date.now() + timeoutMs;
  try {
    if (ready instanceof RegExp) {
      handle.match = await new Promise((resolve, reject) => {
        const check = () => {
          const m = ready.exec(output);
          if (m) resolve(m);
          else if (exited)
            reject(failed(`exited with ${proc.exitCode ?? proc.signalCode} before it was ready`));
        };
        onOutput = check;
        exit.then(check);
        setTimeout(() => reject(failed(`was not ready within ${timeoutMs} ms`)), timeoutMs).unref();
        check();
      });
    } else if (ready) {
      for (;;) {
        if (exited) throw failed(`exited with ${proc.exitCode ?? proc.signalCode} before it was ready`);
        if (await ready().catch(() => false)) break;
        if (Date.now() > deadline) throw failed(`was not ready within ${timeoutMs} ms`);
        await sleep(100);
      }
    }
  } catch (err) {
    await handle.stop();
    throw err;
  }
  onOutput = () => {};
  return handle;
}
