import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { BlobStore } from './blob-store.js';
import { removeTempDirs, tempDir } from './testing/fixtures.js';

afterAll(removeTempDirs);

const sha = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

async function freshStore(): Promise<BlobStore> {
  const store = new BlobStore(join(tempDir(), 'blobs'));
  await store.init();
  return store;
}

describe('BlobStore', () => {
  it('receives a stream into tmp, then stores it at its content address', async () => {
    const store = await freshStore();
    const bytes = Buffer.from('archive bytes '.repeat(1000));
    const temp = await store.receive(
      Readable.from([bytes.subarray(0, 100), bytes.subarray(100)]),
      bytes.length,
    );
    expect(temp.size).toBe(bytes.length);
    expect(readFileSync(temp.file)).toEqual(bytes);
    const hex = sha(bytes);
    const { path, created } = await store.commit(temp.file, hex);
    expect(created).toBe(true);
    expect(path).toBe(join(store.root, 'sha256', hex.slice(0, 2), `${hex}.cmpkg`));
    expect(readFileSync(path)).toEqual(bytes);
    expect(readdirSync(store.tmpDir)).toEqual([]);
    expect(await store.list()).toEqual([hex]);
    expect(await store.has(hex)).toBe(true);
    const read: Buffer[] = [];
    for await (const chunk of store.open(hex)) read.push(chunk as Buffer);
    expect(Buffer.concat(read)).toEqual(bytes);
  });

  it('keeps an identical blob that is already stored (created: false) and drops the temp file', async () => {
    const store = await freshStore();
    const bytes = Buffer.from('same');
    const hex = sha(bytes);
    await store.commit((await store.receive(Readable.from([bytes]), 100)).file, hex);
    const again = await store.commit((await store.receive(Readable.from([bytes]), 100)).file, hex);
    expect(again.created).toBe(false);
    expect(readdirSync(store.tmpDir)).toEqual([]);
    await store.remove(hex);
    expect(await store.has(hex)).toBe(false);
    await store.remove(hex); // missing is fine
  });

  it('stops at the cap with E_REGISTRY_TOO_LARGE and leaves no temp file', async () => {
    const store = await freshStore();
    const source = new PassThrough();
    const received = store.receive(source, 1000);
    source.write(Buffer.alloc(600));
    source.write(Buffer.alloc(600));
    await expect(received).rejects.toMatchObject({ code: 'E_REGISTRY_TOO_LARGE' });
    expect(readdirSync(store.tmpDir)).toEqual([]);
    // The source is paused, not destroyed: the HTTP layer still answers on its socket.
    expect(source.destroyed).toBe(false);
  });

  it('accepts exactly the cap', async () => {
    const store = await freshStore();
    const temp = await store.receive(Readable.from([Buffer.alloc(1000)]), 1000);
    expect(temp.size).toBe(1000);
  });

  it('refuses an upload that ends early (E_REGISTRY_BAD_REQUEST) and leaves no temp file', async () => {
    const store = await freshStore();
    const source = new PassThrough();
    const received = store.receive(source, 1000);
    source.write(Buffer.alloc(10));
    source.destroy();
    await expect(received).rejects.toMatchObject({ code: 'E_REGISTRY_BAD_REQUEST' });
    expect(readdirSync(store.tmpDir)).toEqual([]);
  });

  it('refuses a source that was destroyed before it is read (client gone) and creates no temp file', async () => {
    // A client that disconnects while its request waits for authentication: the body stream is
    // already destroyed when the handler starts reading. Waiting on it would never settle.
    const store = await freshStore();
    const source = new PassThrough();
    source.write(Buffer.alloc(10));
    source.destroy();
    await new Promise((resolve) => setImmediate(resolve));
    const outcome = await Promise.race([
      store.receive(source, 1000).then(
        () => 'resolved',
        (err: { code?: string }) => err.code,
      ),
      new Promise((resolve) => setTimeout(() => resolve('hung'), 1000)),
    ]);
    expect(outcome).toBe('E_REGISTRY_BAD_REQUEST');
    expect(readdirSync(store.tmpDir)).toEqual([]);
  });

  it('names no server path when it cannot store an archive', async () => {
    const store = await freshStore();
    const hex = sha(Buffer.from('never received'));
    const err = await store.commit(join(store.tmpDir, 'upload-missing'), hex).then(
      () => undefined,
      (e: Error & { code?: string }) => e,
    );
    expect(err).toMatchObject({ code: 'E_REGISTRY_STORAGE' });
    expect(err?.message).not.toContain(store.root);
  });

  it('clears tmp/ leftovers on init', async () => {
    const root = join(tempDir(), 'blobs');
    await mkdir(join(root, 'tmp'), { recursive: true });
    await writeFile(join(root, 'tmp', 'upload-crashed'), 'x');
    const store = new BlobStore(root);
    await store.init();
    expect(readdirSync(store.tmpDir)).toEqual([]);
    expect(existsSync(join(root, 'sha256'))).toBe(true);
  });

  it('refuses a digest that is not sha256 hex', async () => {
    const store = await freshStore();
    expect(() => store.pathFor('../../etc/passwd')).toThrow(/not a sha256 hex digest/);
  });
});
