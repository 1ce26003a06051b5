import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Writable } from 'node:stream';
import { DataTransferError } from '@cmpkg/core';

/**
 * One line of an NDJSON file: its 1-based number and its text (blank lines are skipped).
 *
 * @example
 * const line: NdjsonLine = { line: 3, text: '{"id":1}' };
 */
export interface NdjsonLine {
  line: number;
  text: string;
}

/**
 * Streams the non-blank lines of an NDJSON file with their line numbers; memory stays flat whatever
 * the file size. Stops early when `signal` aborts.
 *
 * @example
 * for await (const { line, text } of readNdjsonLines('users.ndjson')) console.log(line, text);
 */
export async function* readNdjsonLines(file: string, signal?: AbortSignal): AsyncGenerator<NdjsonLine> {
  const input = createReadStream(file, { encoding: 'utf8' });
  const lines = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
  let line = 0;
  try {
    for await (const text of lines) {
      line++;
      signal?.throwIfAborted();
      // A byte-order mark some editors add must not make the first line invalid JSON.
      const clean = line === 1 ? text.replace(/^\uFEFF/, '') : text;
      if (clean.trim() === '') continue;
      yield { line, text: clean };
    }
  } finally {
    lines.close();
    input.destroy();
  }
}

/**
 * A text sink for exports. Writing to a path goes to a temporary file next to it
 * that `commit` renames into place, so a failed or interrupted run never leaves a partial file;
 * `abort` removes the temporary file. The SHA-256 and byte count of what was written are kept.
 *
 * @example
 * const out = await openAtomicWriter('users.ndjson');
 * try { await out.write('{"id":1}\n'); await out.commit(); } catch (e) { await out.abort(); throw e; }
 */
export interface TextSink {
  /** The final path, or `-` for a caller's stream. */
  readonly path: string;
  write(text: string): Promise<void>;
  /**
   * Finishes the temporary file without moving it into place (so several files can all be
   * complete before any replaces an older one); returns the SHA-256 (hex) of its bytes.
   */
  finish(): Promise<{ sha256: string; bytes: number }>;
  /** Finishes the file (unless `finish` did) and moves it into place. */
  commit(): Promise<{ sha256: string; bytes: number }>;
  /** Drops what was written (removes the temporary file); safe after `commit` and twice. */
  abort(): Promise<void>;
}

function waitDrain(stream: Writable): Promise<void> {
  return new Promise((resolve, reject) => {
    const onDrain = () => {
      stream.off('error', onError);
      resolve();
    };
    const onError = (err: Error) => {
      stream.off('drain', onDrain);
      reject(err);
    };
    stream.once('drain', onDrain);
    stream.once('error', onError);
  });
}

function endStream(stream: WriteStream): Promise<void> {
  return new Promise((resolve, reject) => {
    stream.once('error', reject);
    stream.end(() => resolve());
  });
}

/**
 * Opens a {@link TextSink} on `path` (temporary file + rename), or on `stream` when `path` is `-`
 * (the stream is written through and left open: it belongs to the caller).
 *
 * @example
 * const sink = await openAtomicWriter('-', process.stdout);
 */
export async function openAtomicWriter(path: string, stream?: Writable): Promise<TextSink> {
  const hash = createHash('sha256');
  let bytes = 0;
  let digest: { sha256: string; bytes: number } | undefined;
  if (path === '-') {
    if (!stream) throw new DataTransferError('E_MAPPING', 'output "-" needs a stream to write to');
    return {
      path,
      async write(text) {
        hash.update(text);
        bytes += Buffer.byteLength(text);
        if (!stream.write(text)) await waitDrain(stream);
      },
      async finish() {
        digest ??= { sha256: hash.digest('hex'), bytes };
        return digest;
      },
      async commit() {
        digest ??= { sha256: hash.digest('hex'), bytes };
        return digest;
      },
      async abort() {},
    };
  }
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const file = createWriteStream(temp, { flags: 'wx' });
  await new Promise<void>((resolve, reject) => {
    file.once('open', () => resolve());
    file.once('error', reject);
  });
  let state: 'open' | 'committed' | 'aborted' = 'open';
  // Kept, not thrown: an 'error' event without a listener would crash the process.
  let failure: Error | undefined;
  file.on('error', (err) => {
    failure ??= err;
  });
  const finish = async () => {
    if (failure) throw failure;
    if (digest) return digest;
    await endStream(file);
    digest = { sha256: hash.digest('hex'), bytes };
    return digest;
  };
  return {
    path,
    async write(text) {
      if (failure) throw failure;
      hash.update(text);
      bytes += Buffer.byteLength(text);
      if (!file.write(text)) await waitDrain(file);
    },
    finish,
    async commit() {
      const done = await finish();
      await rename(temp, path);
      state = 'committed';
      return done;
    },
    async abort() {
      if (state !== 'open') return;
      state = 'aborted';
      file.destroy();
      await rm(temp, { force: true });
    },
  };
}
