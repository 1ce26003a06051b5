import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import tar from 'tar-stream';
import { describe, expect, it } from 'vitest';
import { writeArchive } from './archive-writer.js';
import { failureOf, tempDir } from './testing/fixtures.js';

interface Read {
  header: tar.Header;
  data: Buffer;
}

async function readTar(file: string): Promise<Read[]> {
  const out: Read[] = [];
  const extract = tar.extract();
  extract.on('entry', (header, stream, next) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c) => chunks.push(c as Buffer));
    stream.on('end', () => {
      out.push({ header, data: Buffer.concat(chunks) });
      next();
    });
  });
  const done = new Promise<void>((resolve, reject) => {
    extract.on('finish', () => resolve());
    extract.on('error', reject);
  });
  extract.end(gunzipSync(readFileSync(file)));
  await done;
  return out;
}

describe('writeArchive', () => {
  it('writes a reproducible tar.gz: fixed headers, entries in the given order, same bytes every time', async () => {
    const dir = tempDir();
    const big = join(dir, 'big.bin');
    const bigData = Buffer.alloc(3 * 1024 * 1024 + 17, 'abcdefghij');
    writeFileSync(big, bigData);
    const entries = [
      { path: 'cmpkg.json', data: Buffer.from('{}\n') },
      { path: 'data/big.ndjson', file: big, size: bigData.length },
      { path: `migrations/0001-${'x'.repeat(110)}.json`, data: new Uint8Array([1, 2, 3]) },
    ];
    const a = await writeArchive(join(dir, 'a.cmpkg'), entries, { mtime: '2024-01-02T03:04:05.678Z' });
    await new Promise((r) => setTimeout(r, 1100));
    const b = await writeArchive(join(dir, 'b.cmpkg'), entries, {
      mtime: new Date('2024-01-02T03:04:05.999Z'),
    });
    const bytes = readFileSync(a.file);
    expect(readFileSync(b.file).equals(bytes)).toBe(true);
    expect(a.size).toBe(bytes.length);
    expect(a.digest).toBe(`sha256:${createHash('sha256').update(bytes).digest('hex')}`);
    expect(a.integrity).toBe(`sha512-${createHash('sha512').update(bytes).digest('base64')}`);
    // gzip header: no mtime, XFL 2 (best compression), OS 3 whatever platform wrote it.
    expect([...bytes.subarray(0, 10)]).toEqual([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, 3]);
    const read = await readTar(a.file);
    expect(read.map((r) => r.header.name)).toEqual(entries.map((e) => e.path));
    for (const r of read) {
      expect(r.header).toMatchObject({ type: 'file', mode: 0o644, uid: 0, gid: 0, uname: '', gname: '' });
      expect(r.header.mtime.toISOString()).toBe('2024-01-02T03:04:05.000Z');
    }
    expect(read[1]?.data.equals(bigData)).toBe(true);
    expect(readdirSync(dir).sort()).toEqual(['a.cmpkg', 'b.cmpkg', 'big.bin']);
  });

  it('clamps an mtime before 1970 to the epoch', async () => {
    const dir = tempDir();
    const r = await writeArchive(join(dir, 'x.cmpkg'), [{ path: 'a', data: Buffer.from('a') }], {
      mtime: '1960-01-01T00:00:00Z',
    });
    expect((await readTar(r.file))[0]?.header.mtime.getTime()).toBe(0);
  });

  const withFile = (name: string, content: string) => (dir: string) => {
    writeFileSync(join(dir, name), content);
    return { path: 'data/x.ndjson', file: join(dir, name), size: 3 };
  };
  it.each([
    [
      'an input file that does not exist',
      (dir: string) => ({ path: 'data/x.ndjson', file: join(dir, 'none'), size: 3 }),
    ],
    ['an input file shorter than its size', withFile('short', 'ab')],
    ['an input file longer than its size', withFile('long', 'abcdef')],
  ])('refuses %s with E_PACK_INPUT naming the entry, leaving nothing', async (_name, entry) => {
    const dir = tempDir();
    const inputs = tempDir();
    const error = await failureOf(
      writeArchive(join(dir, 'x.cmpkg'), [{ path: 'cmpkg.json', data: Buffer.from('{}') }, entry(inputs)], {
        mtime: '1970-01-01T00:00:00Z',
      }),
    );
    expect(error.code).toBe('E_PACK_INPUT');
    expect(error.message).toContain('data/x.ndjson');
    expect(readdirSync(dir)).toEqual([]);
  });

  it('fails without leaving anything when the output directory does not exist', async () => {
    const dir = tempDir();
    await expect(
      writeArchive(join(dir, 'missing', 'x.cmpkg'), [{ path: 'a', data: Buffer.from('a') }], {
        mtime: '2024-01-01T00:00:00Z',
      }),
    ).rejects.toThrow(/ENOENT/);
    expect(readdirSync(dir)).toEqual([]);
  });
});
