import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, type ReadStream } from 'node:fs';
import { link, mkdir, readdir, rm, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { RegistryError } from '@cmpkg/core';

const HEX = /^[0-9a-f]{64}$/;

/**
 * Content-addressed archive storage: `<root>/sha256/<first 2 hex>/<64 hex>.cmpkg`. Uploads land in
 * `<root>/tmp/<random>` first and are moved to their address only once verified.
 *
 * @example
 * const blobs = new BlobStore('/srv/registry/blobs');
 * await blobs.init();
 * const temp = await blobs.receive(request.raw, 50 * 1024 * 1024);
 * const { created } = await blobs.commit(temp.file, sha256Hex);
 */
export class BlobStore {
  readonly root: string;
  readonly tmpDir: string;

  constructor(root: string) {
    this.root = root;
    this.tmpDir = join(root, 'tmp');
  }

  /** Creates the directories and removes what a crashed upload left in `tmp/`. */
  async init(): Promise<void> {
    await mkdir(join(this.root, 'sha256'), { recursive: true });
    await rm(this.tmpDir, { recursive: true, force: true });
    await mkdir(this.tmpDir, { recursive: true });
  }

  /** The address of a blob by its sha256 hex. */
  pathFor(hex: string): string {
    if (!HEX.test(hex)) throw new RegistryError('E_REGISTRY_STORAGE', `"${hex}" is not a sha256 hex digest`);
    return join(this.root, 'sha256', hex.slice(0, 2), `${hex}.cmpkg`);
  }

  /** A fresh path in `tmp/` (nothing is created). */
  tempPath(): string {
    return join(this.tmpDir, `upload-${randomBytes(12).toString('hex')}`);
  }

  /**
   * Streams `source` into a fresh temp file, counting bytes: past `maxBytes` it stops reading,
   * removes the file and throws E_REGISTRY_TOO_LARGE. Any other failure removes the file too.
   */
  async receive(source: NodeJS.ReadableStream, maxBytes: number): Promise<{ file: string; size: number }> {
    // A client that disconnected while its request waited (authentication, rate limit) leaves a
    // stream that already closed: it will emit nothing more, so waiting on it would hang the request
    // and leave the temp file behind.
    if ((source as Partial<Pick<Readable, 'destroyed'>>).destroyed === true) {
      throw new RegistryError('E_REGISTRY_BAD_REQUEST', 'the upload ended before its body was complete');
    }
    const file = this.tempPath();
    const out = createWriteStream(file, { flags: 'wx' });
    return new Promise((resolve, reject) => {
      let size = 0;
      let ended = false;
      let settled = false;
      const detach = () => {
        source.removeListener('data', onData);
        source.removeListener('end', onEnd);
        source.removeListener('error', onError);
        source.removeListener('close', onClose);
      };
      // The source is not destroyed on failure: the request's socket must stay open for the answer
      // (413, 400). The server closes the connection after answering.
      const fail = (err: unknown) => {
        if (settled) return;
        settled = true;
        detach();
        source.pause();
        // Remove the file only once the stream has closed: a destroy while the file is still being
        // opened would otherwise let the open re-create it after the removal.
        const remove = () =>
          rm(file, { force: true }).then(
            () => reject(err),
            () => reject(err),
          );
        if (out.closed) void remove();
        else {
          out.once('close', () => void remove());
          out.destroy();
        }
      };
      const onData = (chunk: Buffer | string) => {
        size += chunk.length;
        if (size > maxBytes) {
          fail(
            new RegistryError(
              'E_REGISTRY_TOO_LARGE',
              `the upload is larger than this registry accepts (${maxBytes} bytes, REGISTRY_MAX_UPLOAD)`,
              { details: { limit: maxBytes } },
            ),
          );
          return;
        }
        if (!out.write(chunk)) {
          source.pause();
          out.once('drain', () => {
            if (!settled) source.resume();
          });
        }
      };
      const onEnd = () => {
        ended = true;
        out.end();
      };
      const onError = (err: Error) =>
        fail(
          new RegistryError('E_REGISTRY_BAD_REQUEST', `the upload could not be received: ${err.message}`, {
            cause: err,
          }),
        );
      const onClose = () => {
        if (!ended)
          fail(new RegistryError('E_REGISTRY_BAD_REQUEST', 'the upload ended before its body was complete'));
      };
      source.on('data', onData);
      source.on('end', onEnd);
      source.on('error', onError);
      source.on('close', onClose);
      out.on('error', (err) =>
        fail(
          new RegistryError(
            'E_REGISTRY_STORAGE',
            `cannot write the upload (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
            { cause: err },
          ),
        ),
      );
      out.on('finish', () => {
        if (settled) return;
        settled = true;
        detach();
        resolve({ file, size });
      });
      source.resume();
    });
  }

  /**
   * Moves a verified temp file to its address. An identical blob already there is kept (and the temp
   * file removed). `created` says whether this call put the blob there, so a caller whose database
   * write then fails knows whether to remove it.
   */
  async commit(tempFile: string, hex: string): Promise<{ path: string; created: boolean }> {
    const target = this.pathFor(hex);
    await mkdir(join(this.root, 'sha256', hex.slice(0, 2)), { recursive: true });
    try {
      // link() fails when the target exists, where rename() would silently replace it.
      await link(tempFile, target);
      return { path: target, created: true };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
        // The errno code only: the message names server paths, which the client must not see (the
        // cause keeps them for the log).
        throw new RegistryError(
          'E_REGISTRY_STORAGE',
          `cannot store the archive (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
          { cause: err },
        );
      }
      return { path: target, created: false };
    } finally {
      await rm(tempFile, { force: true });
    }
  }

  /** Removes a blob (a rolled-back publish's); missing is fine. */
  async remove(hex: string): Promise<void> {
    await unlink(this.pathFor(hex)).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
  }

  /** Whether a blob is stored. */
  async has(hex: string): Promise<boolean> {
    return stat(this.pathFor(hex)).then(
      (s) => s.isFile(),
      () => false,
    );
  }

  /** A read stream of a stored blob. */
  open(hex: string): ReadStream {
    return createReadStream(this.pathFor(hex));
  }

  /** Every stored blob's hex digest (for tests, and for `fsck`-style checks). */
  async list(): Promise<string[]> {
    const out: string[] = [];
    const base = join(this.root, 'sha256');
    for (const prefix of await readdir(base).catch(() => [] as string[])) {
      for (const name of await readdir(join(base, prefix)).catch(() => [] as string[])) {
        if (name.endsWith('.cmpkg')) out.push(name.slice(0, -'.cmpkg'.length));
      }
    }
    return out.sort();
  }
}
