import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip, constants as zlibConstants } from 'node:zlib';
import { PackageError } from '@cmpkg/core';
import tar from 'tar-stream';
import { ArchiveDigest } from './archive-digest.js';

/**
 * The reproducible `.cmpkg` container: a gzip-compressed (zlib level 9) ustar archive written with
 * tar-stream, every header fixed by the inputs (mode 0644, uid/gid 0, no user or group names, one
 * mtime), entries in the order given. Same entries and mtime → the same bytes, with one Node/zlib.
 */

/** Large buffers: fewer, bigger writes (archives are written once, often with large data files). */
const CHUNK = 1024 * 1024;
/** Offset of the OS byte in the gzip header (RFC 1952), which zlib sets to the build platform's. */
const GZIP_OS_OFFSET = 9;
/** "Unix": what zlib writes on Linux and macOS; forced so a package packed on Windows is the same. */
const GZIP_OS_UNIX = 3;

/**
 * One archive entry: its contents in memory (`data`) or a file streamed from disk (`file`, whose
 * `size` must be its size in bytes; a file that changed size since fails the write).
 *
 * @example
 * const entries: ArchiveEntry[] = [
 *   { path: 'cmpkg.json', data: manifestBytes },
 *   { path: 'data/entries.ndjson', file: '/tmp/x/entries.ndjson', size: 1234 },
 * ];
 */
export type ArchiveEntry = { path: string; data: Uint8Array } | { path: string; file: string; size: number };

/**
 * Options of {@link writeArchive}.
 *
 * @example
 * const options: WriteArchiveOptions = { mtime: '2024-01-01T00:00:00.000Z' };
 */
export interface WriteArchiveOptions {
  /** The mtime of every entry (whole seconds; before 1970 counts as 1970). */
  mtime: Date | string;
}

/**
 * What {@link writeArchive} wrote.
 *
 * @example
 * console.log(`${result.file}: ${result.size} bytes, ${result.digest}`);
 */
export interface ArchiveWriteResult {
  file: string;
  /** Bytes of the archive. */
  size: number;
  /** `sha256:<hex>` of the archive bytes. */
  digest: string;
  /** `sha512-<base64>` of the archive bytes (npm's Subresource Integrity spelling). */
  integrity: string;
}

/** Hashes and counts the gzip output on its way to disk, and pins the gzip header's OS byte. */
class ArchiveTap extends Transform {
  readonly hash = new ArchiveDigest();
  size = 0;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (this.size <= GZIP_OS_OFFSET && this.size + chunk.length > GZIP_OS_OFFSET) {
      chunk[GZIP_OS_OFFSET - this.size] = GZIP_OS_UNIX;
    }
    this.size += chunk.length;
    this.hash.update(chunk);
    callback(null, chunk);
  }
}

type EntryHeader = Parameters<tar.Pack['entry']>[0];

function entryHeader(path: string, size: number, mtime: Date): EntryHeader {
  return {
    name: path,
    size,
    mode: 0o644,
    uid: 0,
    gid: 0,
    uname: '',
    gname: '',
    mtime,
    type: 'file',
  };
}

/** Adds one entry and resolves once tar-stream has taken all of it. */
function addEntry(pack: tar.Pack, entry: ArchiveEntry, mtime: Date): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if ('data' in entry) {
      const data = Buffer.from(entry.data.buffer, entry.data.byteOffset, entry.data.byteLength);
      const sink = pack.entry(entryHeader(entry.path, data.length, mtime), data, (err) =>
        err ? reject(err) : resolve(),
      );
      // The entry callback reports failures; streamx would also emit them as uncaught 'error' events.
      sink.on('error', () => {});
      return;
    }
    const input = createReadStream(entry.file, { highWaterMark: CHUNK });
    const sink = pack.entry(entryHeader(entry.path, entry.size, mtime), (err) => {
      if (!err) return resolve();
      input.destroy();
      reject(err);
    });
    sink.on('error', () => {});
    // Pumped by hand: the sink is a streamx stream, which node's pipeline() does not fully track.
    input.on('data', (chunk) => {
      if (!sink.write(chunk)) {
        input.pause();
        sink.once('drain', () => input.resume());
      }
    });
    input.on('end', () => sink.end(undefined));
    input.on('error', (err) => {
      sink.destroy(err);
      reject(err);
    });
  });
}

/**
 * Writes a reproducible `.tar.gz` atomically: into `<out>.tmp-<random>` (created exclusively), then
 * renamed to `out`; on any failure the temporary file is removed and nothing is left at `out`.
 * Memory stays flat: file entries are streamed. Errors are `PackageError` `E_PACK_INPUT` (an input
 * file that cannot be read or changed size) naming the entry, or the file system's error.
 *
 * @example
 * const { digest } = await writeArchive('sample-1.0.0.cmpkg', [
 *   { path: 'cmpkg.json', data: manifestBytes },
 *   { path: 'cmpkg.sig', data: signatureBytes },
 * ], { mtime: '2024-01-01T00:00:00Z' });
 */
export async function writeArchive(
  out: string,
  entries: readonly ArchiveEntry[],
  options: WriteArchiveOptions,
): Promise<ArchiveWriteResult> {
  const time = new Date(options.mtime).getTime();
  // tar keeps whole seconds; a date before the epoch has no octal spelling.
  const mtime = new Date(Number.isNaN(time) ? 0 : Math.max(0, Math.floor(time / 1000) * 1000));
  const temp = `${out}.tmp-${randomBytes(8).toString('hex')}`;
  const pack = tar.pack();
  const tap = new ArchiveTap();
  let current: ArchiveEntry | undefined;
  // The first failure is the cause; the other side then fails only because it was torn down.
  let cause: { error: unknown; entry: ArchiveEntry | undefined } | undefined;
  const written = pipeline(
    pack,
    createGzip({ level: 9, memLevel: 9, strategy: zlibConstants.Z_DEFAULT_STRATEGY, chunkSize: CHUNK }),
    tap,
    createWriteStream(temp, { flags: 'wx', highWaterMark: CHUNK }),
  ).catch((error: unknown) => {
    cause ??= { error, entry: undefined };
  });
  const feeding = (async () => {
    for (const entry of entries) {
      current = entry;
      await addEntry(pack, entry, mtime);
    }
    current = undefined;
    pack.finalize();
  })().catch((error: unknown) => {
    cause ??= { error, entry: current };
    pack.destroy(error instanceof Error ? error : new Error(String(error)));
  });
  // Both settle before cleaning up, so no stream is still creating the temporary file.
  await Promise.all([written, feeding]);
  if (cause === undefined) {
    try {
      await rename(temp, out);
    } catch (error) {
      cause = { error, entry: undefined };
    }
  }
  if (cause !== undefined) {
    await rm(temp, { force: true });
    const { error, entry } = cause;
    if (entry !== undefined) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new PackageError('E_PACK_INPUT', `${out}: cannot pack entry ${entry.path}: ${reason}`, {
        cause: error,
        details: { file: out, entry: entry.path, ...('file' in entry ? { source: entry.file } : {}) },
      });
    }
    throw error;
  }
  return {
    file: out,
    size: tap.size,
    digest: tap.hash.digest,
    integrity: tap.hash.integrity,
  };
}
