import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { createGunzip, createGzip, gunzipSync, gzipSync, constants as zlibConstants } from 'node:zlib';
import {
  type Connection,
  loadPlugin,
  type Migration,
  type PackageErrorCode,
  type Plugin,
  sha256Hex,
} from '@cmpkg/core';
import { SqliteDialect } from '@cmpkg/dialect-sqlite';
import tar from 'tar-stream';
import type { OpenPackageOptions } from '../archive-reader.js';
import { generateKeyPair, type KeyPair } from '../keys.js';
import {
  MANIFEST_ENTRY,
  type PackageManifest,
  SIGNATURE_ENTRY,
  serializeManifest,
  trustedCommentFor,
} from '../manifest.js';
import { packPlugin } from '../pack.js';
import { createRotation } from '../rotation.js';
import { signMessage } from '../signature.js';

/**
 * A corpus of hostile `.cmpkg` archives for the reader's tests (tests only; not exported by the
 * package). Everything is forged from one valid signed package with tar-stream and zlib: entries
 * are re-ordered, renamed, retyped, resized, re-signed with the real key where a case needs a
 * valid signature so that the later check is the one that fires. Header fields tar-stream cannot
 * write (raw invalid UTF-8 in a name, typeflags of pax/GNU long-name records) are patched into
 * tar-stream's own output, with the header checksum recomputed.
 */

/** One forged entry: its name, its bytes, and header fields to set. */
interface Entry {
  name: string;
  data: Buffer;
  header?: Partial<tar.Header>;
}

/**
 * One hostile archive and what the reader must say about it.
 *
 * @example
 * const path = await c.build(dir);
 * await expect(openPackage(path, c.options?.(corpus))).rejects.toMatchObject({ code: c.code });
 */
export interface HostileCase {
  name: string;
  /** The PackageError code the reader must throw. */
  code: PackageErrorCode;
  /** `open`: openPackage rejects. `load`: it opens, and loadPlugin rejects. */
  stage: 'open' | 'load';
  /** Writes the archive into `dir` and returns its path. */
  build(dir: string): Promise<string>;
  options?: Omit<OpenPackageOptions, 'tempRoot'>;
  /** Files an extraction into `tempRoot` would have created outside it; none may exist afterwards. */
  escapes?: (tempRoot: string) => string[];
}

/**
 * The valid material and the cases.
 *
 * @example
 * const corpus = await buildHostileCorpus(dir);
 * corpus.cases.length; // > 40
 */
export interface HostileCorpus {
  /** The valid signed package everything is forged from (the control case). */
  valid: string;
  plugin: Plugin;
  key: KeyPair;
  other: KeyPair;
  manifest: PackageManifest;
  /** The large data entry (streamed by the reader, not held in memory). */
  largeEntry: string;
  cases: HostileCase[];
}

const MTIME = new Date('2024-03-01T00:00:00Z');
const SAMPLE = resolve(import.meta.dirname, '../../../../examples/sample-plugin/migrations');
/** An escape target name: unique per corpus so a leftover from another run cannot mask a failure. */
const ESCAPE = `cmpkg-escape-${randomBytes(4).toString('hex')}`;

/** Reads every entry of a (small, trusted) archive into memory, in order. */
async function readEntries(file: string): Promise<Entry[]> {
  const entries: Entry[] = [];
  const extract = tar.extract();
  extract.on('entry', (header, stream, next) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c) => chunks.push(c as Buffer));
    stream.on('end', () => {
      entries.push({ name: header.name, data: Buffer.concat(chunks) });
      next();
    });
  });
  const done = new Promise<void>((res, rej) => {
    extract.on('finish', () => res());
    extract.on('error', rej);
  });
  const gunzip = createGunzip();
  gunzip.pipe(extract as unknown as NodeJS.WritableStream);
  gunzip.end(await readFile(file));
  await done;
  return entries;
}

/** One entry as tar-stream writes it (its header or headers, data, padding), without the end blocks. */
async function piece(entry: Entry): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c) => chunks.push(c as Buffer));
  const ended = new Promise<void>((res) => pack.on('end', () => res()));
  const header = { name: entry.name, mode: 0o644, mtime: MTIME, type: 'file' as const, ...entry.header };
  const carriesData = header.type === 'file' || header.type === 'contiguous-file';
  if (carriesData) pack.entry({ ...header, size: entry.data.length }, entry.data);
  else pack.entry({ ...header, size: 0 }).end(undefined);
  pack.finalize();
  await ended;
  const all = Buffer.concat(chunks);
  return all.subarray(0, all.length - 1024);
}

/** Recomputes a ustar header's checksum after a patch (sum of bytes, the checksum field as spaces). */
function fixChecksum(header: Buffer): void {
  header.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += header[i] ?? 0;
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
}

/** Patches the first header of a piece. */
function patchHeader(bytes: Buffer, patch: (header: Buffer) => void): Buffer {
  const out = Buffer.from(bytes);
  patch(out.subarray(0, 512));
  fixChecksum(out.subarray(0, 512));
  return out;
}

/** Sets the name field to raw bytes (no UTF-8 encoding), NUL-padded. */
function rawName(header: Buffer, name: Buffer): void {
  header.fill(0, 0, 100);
  name.copy(header, 0);
  header.fill(0, 345, 500); // no ustar prefix
}

function setSize(header: Buffer, size: number): void {
  header.write(`${size.toString(8).padStart(11, '0')} `, 124, 'latin1');
}

/** A header-only record (pax 'x', GNU 'L') carrying `content`, made from a file piece by retyping it. */
async function record(typeflag: string, content: Buffer): Promise<Buffer> {
  const p = await piece({ name: typeflag === 'x' ? 'PaxHeader' : '././@LongLink', data: content });
  return patchHeader(p, (h) => {
    h[156] = typeflag.charCodeAt(0);
  });
}

/** A pax extended header record: `<len> key=value\n` with raw value bytes. */
function paxRecord(key: string, value: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`), value, Buffer.from('\n')]);
  let length = body.length + 1;
  while (String(length).length + body.length !== length) length = String(length).length + body.length;
  return Buffer.concat([Buffer.from(String(length)), body]);
}

const END = Buffer.alloc(1024);

async function tarOf(entries: readonly (Entry | Buffer)[], end = true): Promise<Buffer> {
  const pieces: Buffer[] = [];
  for (const e of entries) pieces.push(Buffer.isBuffer(e) ? e : await piece(e));
  if (end) pieces.push(END);
  return Buffer.concat(pieces);
}

async function writeRaw(dir: string, name: string, bytes: Buffer): Promise<string> {
  const file = join(dir, `${name}.cmpkg`);
  await writeFile(file, bytes);
  return file;
}

async function writeGz(dir: string, name: string, tarBytes: Buffer, after?: Buffer): Promise<string> {
  const file = join(dir, `${name}.cmpkg`);
  const gz = gzipSync(tarBytes, { level: 9 });
  await writeFile(file, after ? Buffer.concat([gz, after]) : gz);
  return file;
}

/** Streams a gzip of `prefix` followed by `zeros` bytes of zeros without holding them (a gzip bomb). */
async function writeBomb(file: string, prefix: Buffer, zeros: number): Promise<void> {
  const gzip = createGzip({ level: 9, strategy: zlibConstants.Z_RLE, chunkSize: 1 << 20 });
  const out = createWriteStream(file);
  const closed = new Promise<void>((res, rej) => {
    out.on('close', () => res());
    out.on('error', rej);
  });
  gzip.pipe(out);
  const write = async (b: Buffer) => {
    if (!gzip.write(b)) await new Promise<void>((res) => gzip.once('drain', () => res()));
  };
  await write(prefix);
  const zero = Buffer.alloc(1 << 20);
  for (let left = zeros; left > 0; left -= zero.length)
    await write(left >= zero.length ? zero : zero.subarray(0, left));
  gzip.end();
  await closed;
}

/** Manifest + signature entries for a (possibly edited) manifest, signed by `key`. */
function signed(manifest: PackageManifest, key: KeyPair, sigKey: KeyPair = key): [Entry, Entry] {
  const bytes = Buffer.from(serializeManifest(manifest));
  const sig = signMessage(bytes, sigKey, { trustedComment: trustedCommentFor(manifest, sha256Hex(bytes)) });
  return [
    { name: MANIFEST_ENTRY, data: bytes },
    { name: SIGNATURE_ENTRY, data: Buffer.from(sig) },
  ];
}

function signedRaw(bytes: Buffer, key: KeyPair): [Entry, Entry] {
  const sig = signMessage(bytes, key, { trustedComment: `cmpkg/1 forged sha256:${sha256Hex(bytes)}` });
  return [
    { name: MANIFEST_ENTRY, data: bytes },
    { name: SIGNATURE_ENTRY, data: Buffer.from(sig) },
  ];
}

const clone = <T>(v: T): T => structuredClone(v);

async function sampleDatabase(file: string): Promise<{ dialect: SqliteDialect; connection: Connection }> {
  const dialect = new SqliteDialect();
  const connection = await dialect.connect(`sqlite:${file}`);
  await connection.execute(
    'CREATE TABLE entries (id INTEGER PRIMARY KEY, title TEXT NOT NULL, body TEXT NOT NULL)',
  );
  await connection.execute('CREATE TABLE categories (id INTEGER PRIMARY KEY, slug TEXT NOT NULL)');
  // Inserted out of key order: the export must still come out in key order.
  for (let batch = 9; batch >= 0; batch--) {
    const rows: string[] = [];
    for (let i = 0; i < 300; i++) {
      const id = batch * 300 + i + 1;
      rows.push(`(${id}, 'Entry ${id}', '${sha256Hex(`body ${id}`).repeat(2)}')`);
    }
    await connection.execute(`INSERT INTO entries (id, title, body) VALUES ${rows.join(', ')}`);
  }
  await connection.execute(
    "INSERT INTO categories (id, slug) VALUES (2, 'how-to'), (1, 'general'), (3, 'reference')",
  );
  return { dialect, connection };
}

/**
 * Builds the valid package (the sample plugin at 1.1.0 with two data tables, a README and a
 * rotation statement), two more validly signed packages (another version, another plugin), and at
 * least 40 hostile archives forged from them. Archives are written when a case is built.
 *
 * @example
 * const corpus = await buildHostileCorpus(mkdtempSync(join(tmpdir(), 'corpus-')));
 */
export async function buildHostileCorpus(dir: string): Promise<HostileCorpus> {
  const key = generateKeyPair();
  const other = generateKeyPair();
  const loaded = await loadPlugin({ dir: SAMPLE, id: 'sample', version: '1.1.0' });
  const plugin: Plugin = { ...loaded, name: 'Sample', description: 'The sample plugin' };
  const db = await sampleDatabase(join(dir, 'data.db'));
  const readme = join(dir, 'README.md');
  const pack = async (p: Plugin, version: string, out: string, notes: string) => {
    await writeFile(readme, notes);
    return packPlugin({
      plugin: p,
      key,
      version,
      out: join(dir, out),
      data: { db, tables: ['categories', 'entries'] },
      readme,
      requires: { 'base-plugin': '^1.0.0' },
      rotation: [createRotation({ pluginId: p.id, from: other, to: key, createdAt: '2024-02-01T00:00:00Z' })],
    });
  };
  const valid = await pack(plugin, '1.1.0', 'valid.cmpkg', '# sample 1.1.0\n');
  // Same paths, same sizes: only the README's text and the version differ.
  const nextVersion = await pack(plugin, '1.1.1', 'next-version.cmpkg', '# sample 1.1.1\n');
  const otherPluginMigrations: Migration[] = plugin.migrations.map((m) => ({
    ...m,
    pluginId: 'other-plugin',
  }));
  const otherPlugin = await pack(
    { ...plugin, id: 'other-plugin', migrations: otherPluginMigrations },
    '1.1.0',
    'other-plugin.cmpkg',
    '# sample 1.1.0\n',
  );
  await db.connection.close();

  const entries = await readEntries(valid.file);
  const manifest = valid.manifest;
  const [man, sig, ...files] = entries as [Entry, Entry, ...Entry[]];
  const byName = (name: string) => {
    const e = files.find((f) => f.name === name);
    if (!e) throw new Error(`corpus: no entry ${name}`);
    return e;
  };
  const largeEntry = 'data/entries.ndjson';
  const large = byName(largeEntry);
  const migration = files.find((f) => f.name.startsWith('migrations/')) as Entry;
  const readmeEntry = byName('README.md');
  const gz =
    (name: string, list: readonly (Entry | Buffer)[], end = true, after?: Buffer) =>
    async (d: string) =>
      writeGz(d, name, await tarOf(list, end), after);
  /** The valid entries (manifest and signature included) with one file replaced or (null) left out. */
  const replaced = (name: string, by: Entry | Buffer | null) => [
    man,
    sig,
    ...files.flatMap((f) => (f.name === name ? (by === null ? [] : [by]) : [f])),
  ];
  /** The manifest edited and re-signed with the real key, so the edit itself is what is refused. */
  const resigned = (edit: (m: PackageManifest) => void): [Entry, Entry] => {
    const m = clone(manifest);
    edit(m);
    // Plain JSON, not serializeManifest: that would drop the keys a case adds.
    return signedRaw(Buffer.from(`${JSON.stringify(m, null, 2)}\n`), key);
  };
  const tamperedMigration = (): [Entry, Entry, Entry] => {
    const doc = JSON.parse(migration.data.toString('utf8')) as {
      migration: { steps: { up: Array<{ sql?: Record<string, string> }> } };
    };
    const step = doc.migration.steps.up[0];
    if (step?.sql) for (const k of Object.keys(step.sql)) step.sql[k] = `${step.sql[k]}\n-- tampered`;
    const data = Buffer.from(`${JSON.stringify(doc, null, 2)}\n`);
    const [m, s] = resigned((m) => {
      const f = m.files.find((x) => x.path === migration.name);
      if (f) Object.assign(f, { size: data.length, sha256: sha256Hex(data) });
    });
    return [m, s, { name: migration.name, data }];
  };
  const nextEntries = await readEntries(nextVersion.file);
  const otherEntries = await readEntries(otherPlugin.file);
  const validTar = await tarOf(entries);
  const escapeUp = (tempRoot: string) => [join(tempRoot, '..', ESCAPE), join(tempRoot, ESCAPE)];

  const cases: HostileCase[] = [
    // --- container
    {
      name: 'empty file',
      code: 'E_PKG_FORMAT',
      stage: 'open',
      build: (d) => writeRaw(d, 'empty', Buffer.alloc(0)),
    },
    {
      name: 'not gzip at all (a plain tar)',
      code: 'E_PKG_FORMAT',
      stage: 'open',
      build: (d) => writeRaw(d, 'plain', validTar),
    },
    {
      name: 'gzip of garbage that is not tar',
      code: 'E_PKG_FORMAT',
      stage: 'open',
      build: (d) => writeGz(d, 'garbage', randomBytes(4096)),
    },
    {
      name: 'gzip of an empty tar',
      code: 'E_PKG_FORMAT',
      stage: 'open',
      build: (d) => writeGz(d, 'empty-tar', END),
    },
    {
      name: 'corrupt deflate data',
      code: 'E_PKG_FORMAT',
      stage: 'open',
      build: async (d) => {
        const file = await writeGz(d, 'corrupt', validTar);
        const bytes = await readFile(file);
        bytes.fill(0xff, 10, 40);
        await writeFile(file, bytes);
        return file;
      },
    },
    ...truncations(validTar, entries),
    {
      name: 'truncated tar inside a complete gzip stream',
      code: 'E_PKG_TRUNCATED',
      stage: 'open',
      build: async (d) => writeGz(d, 'tar-cut', validTar.subarray(0, validTar.length - 1024 - 700)),
    },
    {
      name: 'gzip bomb: more than 2 GiB of zeros after the last entry',
      code: 'E_PKG_TOO_LARGE',
      stage: 'open',
      build: async (d) => {
        const file = join(d, 'bomb.cmpkg');
        await writeBomb(file, await tarOf(entries, false), 2 * 1024 ** 3 + 1024 ** 2);
        return file;
      },
    },
    {
      name: 'gzip bomb before the signature: a 1 MiB manifest followed by zeros',
      code: 'E_PKG_TOO_LARGE',
      stage: 'open',
      build: async (d) => {
        const file = join(d, 'bomb-early.cmpkg');
        await writeBomb(
          file,
          await piece({ name: MANIFEST_ENTRY, data: Buffer.alloc(1024 * 1024, 0x20) }),
          64 * 1024 ** 2,
        );
        return file;
      },
    },
    {
      name: 'trailing garbage after the tar end',
      code: 'E_PKG_TOO_LARGE',
      stage: 'open',
      build: async (d) => writeGz(d, 'trail-tar', Buffer.concat([validTar, randomBytes(3000)])),
    },
    {
      name: 'trailing garbage after the gzip stream',
      code: 'E_PKG_TOO_LARGE',
      stage: 'open',
      build: gz('trail-gz', entries, true, Buffer.from('not gzip, just more bytes')),
    },
    {
      name: 'trailing zeros after the gzip stream',
      code: 'E_PKG_TOO_LARGE',
      stage: 'open',
      build: gz('trail-zeros', entries, true, Buffer.alloc(4096)),
    },
    // --- order and signature
    {
      name: 'manifest not first',
      code: 'E_PKG_ENTRY_ORDER',
      stage: 'open',
      build: gz('order1', [sig, man, ...files]),
    },
    { name: 'no manifest at all', code: 'E_PKG_ENTRY_ORDER', stage: 'open', build: gz('no-manifest', files) },
    {
      name: 'signature not second',
      code: 'E_PKG_ENTRY_ORDER',
      stage: 'open',
      build: gz('order2', [man, ...files.slice(0, 2), sig, ...files.slice(2)]),
    },
    { name: 'no signature', code: 'E_PKG_NO_SIGNATURE', stage: 'open', build: gz('nosig', [man, ...files]) },
    { name: 'manifest alone', code: 'E_PKG_NO_SIGNATURE', stage: 'open', build: gz('alone', [man]) },
    {
      name: 'signature by another key than manifest.signer',
      code: 'E_SIGNATURE_INVALID',
      stage: 'open',
      build: gz('otherkey', [...signed(manifest, key, other), ...files]),
    },
    {
      name: "another key's signature carrying the signer's key id",
      code: 'E_SIGNATURE_INVALID',
      stage: 'open',
      build: gz('forged-keyid', [...signed(manifest, key, { ...other, keyId: key.keyId }), ...files]),
    },
    {
      name: 'manifest.signer replaced by the other key, signed by it, trustedKeys = [real]',
      code: 'E_UNTRUSTED_KEY',
      stage: 'open',
      options: { trustedKeys: [key] },
      build: gz('signer-swap', [
        ...signed({ ...clone(manifest), signer: { keyId: other.keyId, publicKey: other.encoded } }, other),
        ...files,
      ]),
    },
    {
      name: 'edited manifest (signature no longer matches)',
      code: 'E_SIGNATURE_INVALID',
      stage: 'open',
      build: gz('edited', [
        { name: MANIFEST_ENTRY, data: Buffer.from(man.data.toString().replace('"1.1.0"', '"9.1.0"')) },
        sig,
        ...files,
      ]),
    },
    {
      name: 'edited trusted comment',
      code: 'E_SIGNATURE_INVALID',
      stage: 'open',
      build: gz('comment', [
        man,
        {
          name: SIGNATURE_ENTRY,
          data: Buffer.from(
            sig.data.toString().replace('trusted comment: cmpkg/1', 'trusted comment: cmpkg/2'),
          ),
        },
        ...files,
      ]),
    },
    {
      name: 'malformed signature text',
      code: 'E_SIGNATURE_INVALID',
      stage: 'open',
      build: gz('badsig', [
        man,
        { name: SIGNATURE_ENTRY, data: Buffer.from('not a minisign signature\n') },
        ...files,
      ]),
    },
    {
      name: 'huge manifest (> 1 MiB)',
      code: 'E_PKG_MANIFEST_TOO_LARGE',
      stage: 'open',
      build: gz('hugeman', [
        { name: MANIFEST_ENTRY, data: Buffer.concat([man.data, Buffer.alloc(1024 * 1024, 0x20)]) },
        sig,
        ...files,
      ]),
    },
    {
      name: 'huge signature entry',
      code: 'E_PKG_MANIFEST_TOO_LARGE',
      stage: 'open',
      build: gz('hugesig', [
        man,
        { name: SIGNATURE_ENTRY, data: Buffer.concat([sig.data, Buffer.alloc(8192, 0x0a)]) },
        ...files,
      ]),
    },
    // --- signed manifests that do not validate
    {
      name: 'manifest invalid JSON (signed)',
      code: 'E_PKG_MANIFEST',
      stage: 'open',
      build: gz('badjson', [...signedRaw(Buffer.from('{"format": "cmpkg/1",'), key), ...files]),
    },
    {
      name: 'manifest invalid UTF-8 (signed)',
      code: 'E_PKG_MANIFEST',
      stage: 'open',
      build: gz('badutf8', [...signedRaw(Buffer.from([0x7b, 0xff, 0x7d]), key), ...files]),
    },
    {
      name: 'manifest signer.publicKey is not a key',
      code: 'E_PKG_MANIFEST',
      stage: 'open',
      build: gz('badsigner', [
        ...signedRaw(Buffer.from(man.data.toString().replace(key.encoded, 'bm90IGEga2V5')), key),
        ...files,
      ]),
    },
    {
      name: 'manifest schema: negative size (signed)',
      code: 'E_PKG_MANIFEST',
      stage: 'open',
      build: gz('negsize', [
        ...resigned((m) => {
          (m.files[0] as { size: number }).size = -1;
        }),
        ...files,
      ]),
    },
    {
      name: 'manifest schema: unknown format (signed)',
      code: 'E_PKG_MANIFEST',
      stage: 'open',
      build: gz('format2', [
        ...resigned((m) => {
          (m as { format: string }).format = 'cmpkg/2';
        }),
        ...files,
      ]),
    },
    {
      name: 'manifest schema: path outside the rules (signed)',
      code: 'E_PKG_MANIFEST',
      stage: 'open',
      build: gz('badpath', [
        ...resigned((m) => {
          m.files.push({ path: 'bin/run.sh', size: 1, sha256: '0'.repeat(64) });
        }),
        ...files,
      ]),
    },
    {
      name: 'manifest schema: files names cmpkg.json (signed)',
      code: 'E_PKG_MANIFEST',
      stage: 'open',
      build: gz('listsman', [
        ...resigned((m) => {
          m.files.push({ path: MANIFEST_ENTRY, size: man.data.length, sha256: sha256Hex(man.data) });
        }),
        ...files,
      ]),
    },
    {
      name: 'manifest schema: a data path not listed in files (signed)',
      code: 'E_PKG_MANIFEST',
      stage: 'open',
      build: gz('dataunlisted', [
        ...resigned((m) => {
          m.files = m.files.filter((f) => f.path !== largeEntry);
        }),
        ...files.filter((f) => f.name !== largeEntry),
      ]),
    },
    {
      name: 'manifest schema: unknown key (signed)',
      code: 'E_PKG_MANIFEST',
      stage: 'open',
      build: gz('unknownkey', [
        ...resigned((m) => {
          (m as unknown as Record<string, unknown>).postinstall = 'rm -rf /';
        }),
        ...files,
      ]),
    },
    // --- expectations
    {
      name: 'validly signed package of another plugin (expect pluginId)',
      code: 'E_PKG_UNEXPECTED',
      stage: 'open',
      options: { expect: { pluginId: 'sample' } },
      build: gz('otherplugin', otherEntries),
    },
    {
      name: 'validly signed package of another version (expect version)',
      code: 'E_PKG_UNEXPECTED',
      stage: 'open',
      options: { expect: { version: '1.1.0' } },
      build: gz('otherversion', nextEntries),
    },
    {
      name: 'trustedKeys without the signer',
      code: 'E_UNTRUSTED_KEY',
      stage: 'open',
      options: { trustedKeys: [other] },
      build: gz('untrusted', entries),
    },
    // --- entries
    {
      name: "another version's signed manifest spliced with this version's files",
      code: 'E_PKG_DIGEST_MISMATCH',
      stage: 'open',
      build: gz('splice', [...(nextEntries.slice(0, 2) as Entry[]), ...files]),
    },
    {
      name: 'one flipped byte in the large data entry',
      code: 'E_PKG_DIGEST_MISMATCH',
      stage: 'open',
      build: gz(
        'flip-large',
        replaced(largeEntry, { name: largeEntry, data: flip(large.data, large.data.length - 10) }),
      ),
    },
    {
      name: 'one flipped byte in the README',
      code: 'E_PKG_DIGEST_MISMATCH',
      stage: 'open',
      build: gz('flip-small', replaced('README.md', { name: 'README.md', data: flip(readmeEntry.data, 2) })),
    },
    {
      name: 'extra file',
      code: 'E_PKG_UNLISTED_FILE',
      stage: 'open',
      build: gz('extra', [...entries, { name: 'data/extra.ndjson', data: Buffer.from('{}\n') }]),
    },
    {
      name: 'extra file claiming 8 GiB',
      code: 'E_PKG_UNLISTED_FILE',
      stage: 'open',
      build: async (d) =>
        writeGz(
          d,
          'extra-huge',
          Buffer.concat([
            await tarOf(entries, false),
            patchHeader(await piece({ name: 'data/huge.ndjson', data: Buffer.alloc(0) }), (h) =>
              setSize(h, 8 * 1024 ** 3),
            ),
          ]),
        ),
    },
    {
      name: 'missing file',
      code: 'E_PKG_MISSING_FILE',
      stage: 'open',
      build: gz('missing', replaced(largeEntry, null)),
    },
    {
      name: 'duplicate entry',
      code: 'E_PKG_DUPLICATE_ENTRY',
      stage: 'open',
      build: gz('dup', [...entries, readmeEntry]),
    },
    {
      name: 'duplicate cmpkg.json later',
      code: 'E_PKG_DUPLICATE_ENTRY',
      stage: 'open',
      build: gz('dupman', [...entries, man]),
    },
    {
      name: 'duplicate cmpkg.json as the second entry',
      code: 'E_PKG_DUPLICATE_ENTRY',
      stage: 'open',
      build: gz('dupman2', [man, man, sig, ...files]),
    },
    {
      name: 'duplicate cmpkg.sig later',
      code: 'E_PKG_DUPLICATE_ENTRY',
      stage: 'open',
      build: gz('dupsig', [...entries, sig]),
    },
    {
      name: 'entry larger than signed (valid signature)',
      code: 'E_PKG_SIZE_MISMATCH',
      stage: 'open',
      build: gz(
        'larger',
        replaced('README.md', {
          name: 'README.md',
          data: Buffer.concat([readmeEntry.data, Buffer.from('rm -rf /\n')]),
        }),
      ),
    },
    {
      name: 'entry smaller than signed (valid signature)',
      code: 'E_PKG_SIZE_MISMATCH',
      stage: 'open',
      build: gz(
        'smaller',
        replaced('README.md', { name: 'README.md', data: readmeEntry.data.subarray(0, 4) }),
      ),
    },
    {
      name: 'listed entry whose header claims 3 GiB',
      code: 'E_PKG_SIZE_MISMATCH',
      stage: 'open',
      build: async (d) =>
        writeGz(
          d,
          'claims',
          Buffer.concat([
            await tarOf([man, sig, ...files.filter((f) => f.name !== 'README.md')], false),
            patchHeader(await piece({ name: 'README.md', data: Buffer.alloc(0) }), (h) =>
              setSize(h, 3 * 1024 ** 3),
            ),
          ]),
        ),
    },
    // --- names
    {
      name: 'absolute path',
      code: 'E_PKG_UNSAFE_PATH',
      stage: 'open',
      build: gz('abs', [...entries, { name: `/tmp/${ESCAPE}`, data: Buffer.from('x') }]),
      escapes: () => [`/tmp/${ESCAPE}`],
    },
    {
      name: '".." path',
      code: 'E_PKG_UNSAFE_PATH',
      stage: 'open',
      build: gz('dotdot', [...entries, { name: `../../${ESCAPE}`, data: Buffer.from('x') }]),
      escapes: escapeUp,
    },
    {
      name: '".." segment inside a path',
      code: 'E_PKG_UNSAFE_PATH',
      stage: 'open',
      build: gz('dotdot2', [...entries, { name: `data/../../${ESCAPE}`, data: Buffer.from('x') }]),
      escapes: escapeUp,
    },
    {
      name: '"./"-prefixed name of a listed file',
      code: 'E_PKG_UNSAFE_PATH',
      stage: 'open',
      build: gz('dotslash', replaced('README.md', { name: './README.md', data: readmeEntry.data })),
    },
    {
      name: '"./cmpkg.json" as the first entry',
      code: 'E_PKG_UNSAFE_PATH',
      stage: 'open',
      build: gz('dotslash-man', [{ name: `./${MANIFEST_ENTRY}`, data: man.data }, sig, ...files]),
    },
    {
      name: 'empty path segment',
      code: 'E_PKG_UNSAFE_PATH',
      stage: 'open',
      build: gz('emptyseg', replaced(largeEntry, { name: 'data//entries.ndjson', data: large.data })),
    },
    {
      name: 'backslash',
      code: 'E_PKG_UNSAFE_PATH',
      stage: 'open',
      build: gz('backslash', [...entries, { name: `..\\..\\${ESCAPE}`, data: Buffer.from('x') }]),
    },
    {
      name: 'control character in a name',
      code: 'E_PKG_UNSAFE_PATH',
      stage: 'open',
      build: gz('control', [...entries, { name: 'data/\u001b[2Jx.ndjson', data: Buffer.from('x') }]),
    },
    {
      name: 'non-ASCII name (valid UTF-8)',
      code: 'E_PKG_UNSAFE_PATH',
      stage: 'open',
      build: gz('nonascii', [...entries, { name: 'data/café.ndjson', data: Buffer.from('x') }]),
    },
    {
      name: 'invalid UTF-8 in the tar header name',
      code: 'E_PKG_UNSAFE_PATH',
      stage: 'open',
      build: async (d) =>
        writeGz(
          d,
          'rawname',
          Buffer.concat([
            await tarOf(entries, false),
            patchHeader(await piece({ name: 'data/x.ndjson', data: Buffer.from('x') }), (h) =>
              rawName(h, Buffer.from([0x64, 0x61, 0x74, 0x61, 0x2f, 0xff, 0xfe, 0x2e, 0x6e])),
            ),
            END,
          ]),
        ),
    },
    {
      name: 'invalid UTF-8 in a pax path',
      code: 'E_PKG_UNSAFE_PATH',
      stage: 'open',
      build: async (d) =>
        writeGz(
          d,
          'paxname',
          Buffer.concat([
            await tarOf(entries, false),
            await record('x', paxRecord('path', Buffer.from([0x64, 0x2f, 0xc3, 0x28]))),
            await piece({ name: 'data/x.ndjson', data: Buffer.from('x') }),
            END,
          ]),
        ),
    },
    {
      name: 'NUL in a pax path',
      code: 'E_PKG_UNSAFE_PATH',
      stage: 'open',
      build: async (d) =>
        writeGz(
          d,
          'paxnul',
          Buffer.concat([
            await tarOf(entries, false),
            await record('x', paxRecord('path', Buffer.from('README.md\0/../../x'))),
            await piece({ name: 'data/x.ndjson', data: Buffer.from('x') }),
            END,
          ]),
        ),
    },
    {
      name: 'GNU long name climbing out',
      code: 'E_PKG_UNSAFE_PATH',
      stage: 'open',
      build: async (d) =>
        writeGz(
          d,
          'gnulong',
          Buffer.concat([
            await tarOf(entries, false),
            await record('L', Buffer.from(`${'a/'.repeat(60)}${'../'.repeat(62)}${ESCAPE}\0`)),
            await piece({ name: 'data/x.ndjson', data: Buffer.from('x') }),
            END,
          ]),
        ),
      escapes: escapeUp,
    },
    {
      name: 'pax global header naming the next entry ../..',
      code: 'E_PKG_UNSAFE_PATH',
      stage: 'open',
      build: async (d) =>
        writeGz(
          d,
          'paxglobal',
          Buffer.concat([
            await tarOf(entries, false),
            await record('g', paxRecord('path', Buffer.from(`../../${ESCAPE}`))),
            await record('x', paxRecord('mtime', Buffer.from('0'))),
            await piece({ name: 'data/x.ndjson', data: Buffer.from('x') }),
            END,
          ]),
        ),
      escapes: escapeUp,
    },
    {
      name: 'pax path renaming a listed entry to an absolute path',
      code: 'E_PKG_UNSAFE_PATH',
      stage: 'open',
      build: async (d) =>
        writeGz(
          d,
          'paxabs',
          Buffer.concat([
            await tarOf([man, sig, ...files.filter((f) => f.name !== 'README.md')], false),
            await record('x', paxRecord('path', Buffer.from(`/tmp/${ESCAPE}`))),
            await piece(readmeEntry),
            END,
          ]),
        ),
      escapes: () => [`/tmp/${ESCAPE}`],
    },
    // --- entry types
    {
      name: 'symlink',
      code: 'E_PKG_LINK',
      stage: 'open',
      build: gz(
        'symlink',
        replaced('README.md', {
          name: 'README.md',
          data: Buffer.alloc(0),
          header: { type: 'symlink', linkname: '/etc/passwd' },
        }),
      ),
    },
    {
      name: 'symlink as the first entry',
      code: 'E_PKG_LINK',
      stage: 'open',
      build: gz('symlink-first', [
        { name: MANIFEST_ENTRY, data: Buffer.alloc(0), header: { type: 'symlink', linkname: '/etc/passwd' } },
        sig,
        ...files,
      ]),
    },
    {
      name: 'hardlink',
      code: 'E_PKG_LINK',
      stage: 'open',
      build: gz(
        'hardlink',
        replaced('README.md', {
          name: 'README.md',
          data: Buffer.alloc(0),
          header: { type: 'link', linkname: MANIFEST_ENTRY },
        }),
      ),
    },
    {
      name: 'character device',
      code: 'E_PKG_SPECIAL_FILE',
      stage: 'open',
      build: gz(
        'chardev',
        replaced('README.md', {
          name: 'README.md',
          data: Buffer.alloc(0),
          header: { type: 'character-device', devmajor: 1, devminor: 3 },
        }),
      ),
    },
    {
      name: 'block device',
      code: 'E_PKG_SPECIAL_FILE',
      stage: 'open',
      build: gz(
        'blockdev',
        replaced('README.md', {
          name: 'README.md',
          data: Buffer.alloc(0),
          header: { type: 'block-device', devmajor: 8, devminor: 0 },
        }),
      ),
    },
    {
      name: 'fifo',
      code: 'E_PKG_SPECIAL_FILE',
      stage: 'open',
      build: gz(
        'fifo',
        replaced('README.md', { name: 'README.md', data: Buffer.alloc(0), header: { type: 'fifo' } }),
      ),
    },
    {
      name: 'directory entry',
      code: 'E_PKG_SPECIAL_FILE',
      stage: 'open',
      build: gz('directory', [
        man,
        sig,
        { name: 'migrations', data: Buffer.alloc(0), header: { type: 'directory', mode: 0o755 } },
        ...files,
      ]),
    },
    {
      name: 'contiguous file',
      code: 'E_PKG_SPECIAL_FILE',
      stage: 'open',
      build: gz(
        'contiguous',
        replaced('README.md', {
          name: 'README.md',
          data: readmeEntry.data,
          header: { type: 'contiguous-file' },
        }),
      ),
    },
    {
      name: 'unknown typeflag (volume label)',
      code: 'E_PKG_SPECIAL_FILE',
      stage: 'open',
      build: async (d) =>
        writeGz(
          d,
          'typeV',
          Buffer.concat([
            await tarOf([man, sig, ...files.filter((f) => f.name !== 'README.md')], false),
            patchHeader(await piece(readmeEntry), (h) => {
              h[156] = 'V'.charCodeAt(0);
            }),
            END,
          ]),
        ),
    },
    // --- contents the signature covers but that are wrong
    {
      name: 'migration whose content checksum differs from the manifest (files sha256 valid, signed)',
      code: 'E_PKG_CHECKSUM',
      stage: 'load',
      build: async (d) => {
        const [m, s, tampered] = tamperedMigration();
        return writeGz(d, 'checksum', await tarOf([m, s, ...replaced(migration.name, tampered).slice(2)]));
      },
    },
    {
      name: 'packed migration that does not parse (signed)',
      code: 'E_PKG_CHECKSUM',
      stage: 'load',
      build: async (d) => {
        const data = Buffer.from('{"format": "portable-migration-v1", "migration": {}}\n');
        const [m, s] = resigned((mf) => {
          const f = mf.files.find((x) => x.path === migration.name);
          if (f) Object.assign(f, { size: data.length, sha256: sha256Hex(data) });
        });
        return writeGz(
          d,
          'unparsable',
          await tarOf([m, s, ...replaced(migration.name, { name: migration.name, data }).slice(2)]),
        );
      },
    },
    {
      name: 'malformed rotation.json (signed)',
      code: 'E_ROTATION_INVALID',
      stage: 'open',
      build: async (d) => {
        const data = Buffer.from('[{"format": "cmpkg-rotation/1"}]\n');
        const [m, s] = resigned((mf) => {
          const f = mf.files.find((x) => x.path === 'rotation.json');
          if (f) Object.assign(f, { size: data.length, sha256: sha256Hex(data) });
        });
        return writeGz(
          d,
          'rotation',
          await tarOf([m, s, ...replaced('rotation.json', { name: 'rotation.json', data }).slice(2)]),
        );
      },
    },
  ];
  return { valid: valid.file, plugin, key, other, manifest, largeEntry, cases };
}

function flip(data: Buffer, at: number): Buffer {
  const out = Buffer.from(data);
  out[at] = (out[at] ?? 0) ^ 0x01;
  return out;
}

/** Truncations of the valid archive's gzip stream at points inside the manifest, inside the large data entry, and in the trailer. */
function truncations(validTar: Buffer, entries: readonly Entry[]): HostileCase[] {
  const gzBytes = gzipSync(validTar, { level: 9 });
  // Where each entry's data lies in the tar stream.
  const ranges = new Map<string, [number, number]>();
  let at = 0;
  for (const e of entries) {
    const headers = e.name.length > 100 ? 3 * 512 : 512;
    ranges.set(e.name, [at + headers, at + headers + e.data.length]);
    at += headers + Math.ceil(e.data.length / 512) * 512;
  }
  /** The first cut whose inflated prefix ends inside `entry`'s data. */
  const cutInside = (entry: string): number => {
    const [start, end] = ranges.get(entry) ?? [0, 0];
    for (let cut = 20; cut < gzBytes.length; cut += 64) {
      const inflated = inflatedLength(gzBytes.subarray(0, cut));
      if (inflated > start && inflated < end) return cut;
    }
    throw new Error(`corpus: no cut inside ${entry}`);
  };
  const cut = (name: string, length: () => number): HostileCase => ({
    name,
    code: 'E_PKG_TRUNCATED',
    stage: 'open',
    build: async (d) => {
      const file = join(d, `cut-${length()}.cmpkg`);
      await writeFile(file, gzBytes.subarray(0, length()));
      return file;
    },
  });
  return [
    cut('truncated gzip: inside the gzip header', () => 6),
    cut('truncated gzip: inside the manifest', () => cutInside(MANIFEST_ENTRY)),
    cut('truncated gzip: inside the large data entry', () => cutInside('data/entries.ndjson')),
    cut('truncated gzip: inside the trailer', () => gzBytes.length - 3),
  ];
}

function inflatedLength(prefix: Buffer): number {
  try {
    // A sync flush returns whatever the prefix decodes to without requiring the end of the stream.
    return gunzipSync(prefix, { finishFlush: zlibConstants.Z_SYNC_FLUSH }).length;
  } catch {
    return 0;
  }
}
