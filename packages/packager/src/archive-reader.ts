import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, type Gunzip } from 'node:zlib';
import {
  isCmpkgError,
  type Migration,
  PackageError,
  type Plugin,
  parseJsonMigration,
  sha256Hex,
} from '@cmpkg/core';
import semver from 'semver';
import tar from 'tar-stream';
import { ArchiveDigest } from './archive-digest.js';
import { type PublicKey, parsePublicKey, samePublicKey } from './keys.js';
import {
  DEFAULT_MAX_MANIFEST_BYTES,
  isSafeEntryPath,
  MANIFEST_ENTRY,
  MAX_SIGNATURE_BYTES,
  type PackageManifest,
  parseManifestJson,
  ROTATION_ENTRY,
  SIGNATURE_ENTRY,
  validateManifest,
} from './manifest.js';
import { parseRotations, type RotationStatement } from './rotation.js';
import { type MinisignSignature, parseSignature, verifyMessage } from './signature.js';

/**
 * Options of {@link openPackage}, {@link verifyPackage} and `inspectPackage`.
 *
 * @example
 * const options: OpenPackageOptions = { trustedKeys: [await readPublicKey('publisher.pub')], expect: { pluginId: 'sample' } };
 */
export interface OpenPackageOptions {
  /** When given, the signer must be one of these keys (E_UNTRUSTED_KEY). Without it the signature is checked against manifest.signer only. */
  trustedKeys?: readonly PublicKey[];
  /** A validly signed package of another plugin or version → E_PKG_UNEXPECTED. */
  expect?: { pluginId?: string; version?: string };
  /** Parent of the fresh temp directory (default os.tmpdir()). */
  tempRoot?: string;
  limits?: {
    /** Largest `cmpkg.json` accepted (default 1 MiB): it is buffered before it is verified. */
    maxManifestBytes?: number;
    /** Largest archive (compressed bytes) accepted; default unlimited. */
    maxArchiveBytes?: number;
    /** Largest total of the signed entry sizes accepted (what extraction writes); default unlimited. */
    maxExtractedBytes?: number;
  };
}

/**
 * A package whose every entry has verified, extracted into a fresh temporary directory. The caller
 * owns the directory: call `dispose()` (idempotent) when done.
 *
 * @example
 * const pkg = await openPackage('sample-1.0.0.cmpkg');
 * try { const plugin = await pkg.loadPlugin(); } finally { await pkg.dispose(); }
 */
export interface VerifiedPackage {
  /** The archive path (or '<stream>'). */
  file: string;
  manifest: PackageManifest;
  manifestBytes: Uint8Array;
  signature: MinisignSignature;
  signer: PublicKey;
  /** Fresh temp directory holding every verified entry (cmpkg.json, cmpkg.sig, migrations/…, data/…). */
  dir: string;
  /** `sha256:<hex>` of the archive bytes. */
  digest: string;
  /** `sha512-<base64>` (npm SRI) of the archive bytes. */
  integrity: string;
  /** Archive bytes. */
  size: number;
  /** True when `trustedKeys` were given (and so the signer is one of them). */
  trusted: boolean;
  /** Loads the packed migrations as a core Plugin (checksums checked against the manifest: E_PKG_CHECKSUM). */
  loadPlugin(): Promise<Plugin>;
  /** From rotation.json, [] when absent. */
  rotation: RotationStatement[];
  /** Removes `dir`; idempotent. */
  dispose(): Promise<void>;
}

/**
 * What {@link verifyPackage} reports.
 *
 * @example
 * const s: PackageSummary = await verifyPackage('sample-1.0.0.cmpkg');
 * console.log(`${s.pluginId}@${s.version} signed by ${s.keyId}`);
 */
export interface PackageSummary {
  file: string;
  pluginId: string;
  version: string;
  keyId: string;
  digest: string;
  integrity: string;
  size: number;
  /** Entries listed in the manifest's `files`. */
  files: number;
  /** True when `trustedKeys` were given and the signer is one of them. */
  trusted: boolean;
}

/** Read size of the archive and gunzip's output chunks: few, large chunks keep per-chunk costs low. */
const CHUNK = 1024 * 1024;
/** Entries up to this size are verified in memory before they touch the disk. */
const SMALL_ENTRY = 256 * 1024;
const BLOCK = 512;
/** Room for one entry's headers: its ustar header plus a pax or GNU long-name header (paths ≤ 255). */
const ENTRY_OVERHEAD = 4 * BLOCK;
/** The end-of-archive blocks and the padding tar writers add to fill a record (GNU: 10 KiB). */
const END_SLACK = 64 * 1024;
/**
 * How far the compressed input may run ahead of what gunzip consumed: more means gunzip stopped
 * taking input (bytes after the end of the gzip stream, which zlib silently skips).
 */
const RAW_LEAD = 32 * CHUNK;

/** An entry's content stream (tar-stream's `Source`, which its types do not export by name). */
type EntryStream = tar.ExtractEvents['entry'][1];

const padded = (size: number) => Math.ceil(size / BLOCK) * BLOCK;

/** Where the reader is: which entries it has met, and how much it will still inflate. */
interface ReadState {
  archive: string;
  dir: string;
  options: OpenPackageOptions;
  maxManifestBytes: number;
  entries: number;
  manifestBytes?: Buffer;
  signatureBytes?: Buffer;
  /** Set once the manifest and signature verified. */
  verified?: {
    manifest: PackageManifest;
    signature: MinisignSignature;
    signer: PublicKey;
    files: Map<string, PackageManifest['files'][number]>;
  };
  /** The second entry was not `cmpkg.sig`: entries are skipped looking for a misplaced one. */
  lookingForSignature?: { second: string };
  seen: Set<string>;
  dirs: Set<string>;
  /** Decompressed bytes accepted so far, and the cap. */
  inflated: number;
  cap: number;
  raw: number;
  /** Whether the archive starts with the gzip magic: tells trailing bytes from input that is not gzip. */
  gzipMagic?: boolean;
  error?: PackageError;
}

function pkgError(
  state: Pick<ReadState, 'archive'>,
  code: ConstructorParameters<typeof PackageError>[0],
  message: string,
  details: Record<string, unknown> = {},
  cause?: unknown,
): PackageError {
  return new PackageError(code, `${state.archive}: ${message}`, {
    details: { file: state.archive, ...details },
    ...(cause !== undefined ? { cause } : {}),
  });
}

/** An entry name for a message: quoted and escaped, so control characters cannot reach a terminal. */
const shown = (name: string) => JSON.stringify(name.length > 160 ? `${name.slice(0, 160)}…` : name);

/** Every tar-stream entry type that is not a regular file, and the code it is refused with. */
function classifyType(type: string | null | undefined): 'file' | 'E_PKG_LINK' | 'E_PKG_SPECIAL_FILE' {
  if (type === 'file') return 'file';
  if (type === 'link' || type === 'symlink') return 'E_PKG_LINK';
  // character-device, block-device, directory, fifo, contiguous-file, and unknown (null) typeflags.
  return 'E_PKG_SPECIAL_FILE';
}

/** The checks every entry passes first, whatever its position: a regular file with a safe name. */
function checkEntryHeader(state: ReadState, header: tar.Header): void {
  const kind = classifyType(header.type);
  if (kind !== 'file') {
    const what = kind === 'E_PKG_LINK' ? 'a link' : `a ${header.type ?? 'non-regular'} entry`;
    throw pkgError(
      state,
      kind,
      `entry ${shown(header.name)} is ${what}; a package holds regular files only`,
      {
        entry: header.name,
        type: header.type,
      },
    );
  }
  if (!isSafeEntryPath(header.name)) {
    throw pkgError(
      state,
      'E_PKG_UNSAFE_PATH',
      `entry ${shown(header.name)} has an unsafe name (absolute, "..", ".", empty segments, backslash, control or non-ASCII characters, or invalid UTF-8)`,
      { entry: header.name },
    );
  }
}

/** Reads a whole (small, size-checked) entry into one buffer. */
async function readEntry(stream: AsyncIterable<Buffer>, size: number): Promise<Buffer> {
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  for await (const chunk of stream) {
    // tar-stream never gives more than the header's size; guarded anyway.
    if (at + chunk.length > size) throw new Error('entry longer than its header says');
    chunk.copy(out, at);
    at += chunk.length;
  }
  return at === size ? out : out.subarray(0, at);
}

/** Sums what the verified manifest allows the tar stream to hold, and so what gunzip may inflate. */
function capFor(manifest: PackageManifest, manifestSize: number, signatureSize: number): number {
  let cap = 2 * ENTRY_OVERHEAD + padded(manifestSize) + padded(signatureSize) + END_SLACK;
  for (const f of manifest.files) cap += ENTRY_OVERHEAD + padded(f.size);
  return cap;
}

function unverifiedCap(state: ReadState): number {
  return 2 * ENTRY_OVERHEAD + padded(state.maxManifestBytes) + padded(MAX_SIGNATURE_BYTES) + END_SLACK;
}

/** Best effort: the cap the (unverified) manifest claims, used only while looking for a misplaced signature. */
function claimedCap(state: ReadState): number {
  try {
    const raw = parseManifestJson(state.manifestBytes ?? Buffer.alloc(0), state.archive) as {
      files?: Array<{ size?: unknown }>;
    };
    let cap = unverifiedCap(state);
    for (const f of raw.files ?? []) {
      if (typeof f.size === 'number' && Number.isSafeInteger(f.size) && f.size >= 0)
        cap += ENTRY_OVERHEAD + padded(f.size);
    }
    return cap;
  } catch {
    return unverifiedCap(state);
  }
}

/** The manifest → signer → signature → trust → schema → expectations sequence of the contract. */
function verifyManifest(state: ReadState): NonNullable<ReadState['verified']> {
  const bytes = state.manifestBytes ?? Buffer.alloc(0);
  const sigBytes = state.signatureBytes ?? Buffer.alloc(0);
  const raw = parseManifestJson(bytes, state.archive) as {
    signer?: { keyId?: unknown; publicKey?: unknown };
  };
  const signerField = typeof raw === 'object' && raw !== null ? raw.signer : undefined;
  const encoded = signerField?.publicKey;
  if (typeof encoded !== 'string') {
    throw pkgError(state, 'E_PKG_MANIFEST', `${MANIFEST_ENTRY}: field "signer.publicKey" is missing`, {
      entry: MANIFEST_ENTRY,
      field: 'signer.publicKey',
    });
  }
  let signer: PublicKey;
  try {
    signer = parsePublicKey(encoded, `${state.archive}: ${MANIFEST_ENTRY} signer.publicKey`);
  } catch (err) {
    throw pkgError(
      state,
      'E_PKG_MANIFEST',
      `${MANIFEST_ENTRY}: field "signer.publicKey" is not a minisign public key`,
      { entry: MANIFEST_ENTRY, field: 'signer.publicKey' },
      err,
    );
  }
  let sigText: string;
  try {
    sigText = new TextDecoder('utf-8', { fatal: true }).decode(sigBytes);
  } catch (err) {
    throw pkgError(
      state,
      'E_SIGNATURE_INVALID',
      `${SIGNATURE_ENTRY}: not UTF-8 text`,
      { entry: SIGNATURE_ENTRY },
      err,
    );
  }
  const source = `${state.archive}: ${SIGNATURE_ENTRY}`;
  const signature = parseSignature(sigText, source);
  if (signature.keyId !== signer.keyId) {
    // The signature is not by the key the manifest names: the package contradicts itself.
    throw pkgError(
      state,
      'E_SIGNATURE_INVALID',
      `${SIGNATURE_ENTRY} is by key ${signature.keyId}, but ${MANIFEST_ENTRY} names signer ${signer.keyId}`,
      { entry: SIGNATURE_ENTRY, keyId: signature.keyId, signerKeyId: signer.keyId },
    );
  }
  verifyMessage(bytes, signature, signer, { source });
  const trustedKeys = state.options.trustedKeys;
  if (trustedKeys !== undefined && !trustedKeys.some((k) => samePublicKey(k, signer))) {
    throw pkgError(
      state,
      'E_UNTRUSTED_KEY',
      `signed by key ${signer.keyId}, which is not a trusted key (${trustedKeys.map((k) => k.keyId).join(', ') || 'none given'})`,
      { keyId: signer.keyId, trusted: trustedKeys.map((k) => k.keyId) },
    );
  }
  const manifest = validateManifest(raw, state.archive);
  if (manifest.signer.keyId !== signer.keyId) {
    throw pkgError(
      state,
      'E_PKG_MANIFEST',
      `${MANIFEST_ENTRY}: field "signer.keyId" is ${manifest.signer.keyId}, but signer.publicKey has key id ${signer.keyId}`,
      { entry: MANIFEST_ENTRY, field: 'signer.keyId' },
    );
  }
  const expected = state.options.expect;
  if (expected?.pluginId !== undefined && expected.pluginId !== manifest.plugin.id) {
    throw pkgError(
      state,
      'E_PKG_UNEXPECTED',
      `is a package of plugin "${manifest.plugin.id}", not "${expected.pluginId}"`,
      { pluginId: manifest.plugin.id, expected: expected.pluginId },
    );
  }
  if (expected?.version !== undefined) {
    const same =
      semver.valid(expected.version) !== null
        ? semver.eq(expected.version, manifest.plugin.version)
        : expected.version === manifest.plugin.version;
    if (!same) {
      throw pkgError(
        state,
        'E_PKG_UNEXPECTED',
        `is version ${manifest.plugin.version} of plugin "${manifest.plugin.id}", not ${expected.version}`,
        { version: manifest.plugin.version, expected: expected.version },
      );
    }
  }
  const maxExtracted = state.options.limits?.maxExtractedBytes;
  const total = manifest.files.reduce((n, f) => n + f.size, 0);
  if (maxExtracted !== undefined && total > maxExtracted) {
    throw pkgError(
      state,
      'E_PKG_TOO_LARGE',
      `expands to ${total} bytes, more than the limit of ${maxExtracted}`,
      {
        bytes: total,
        limit: maxExtracted,
      },
    );
  }
  return { manifest, signature, signer, files: new Map(manifest.files.map((f) => [f.path, f])) };
}

async function ensureDir(state: ReadState, path: string): Promise<void> {
  const parent = dirname(path);
  if (state.dirs.has(parent)) return;
  await mkdir(parent, { recursive: true });
  state.dirs.add(parent);
}

/** A write that exists in the temporary directory only (`wx`: never through or over anything). */
async function writeNew(state: ReadState, entry: string, data: Uint8Array): Promise<void> {
  const target = join(state.dir, entry);
  await ensureDir(state, target);
  try {
    await writeFile(target, data, { flag: 'wx' });
  } catch (err) {
    throw writeError(state, entry, err);
  }
}

function writeError(state: ReadState, entry: string, err: unknown): PackageError {
  if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
    // Only a case-insensitive disk gets here: the names differ, the files do not.
    return pkgError(
      state,
      'E_PKG_DUPLICATE_ENTRY',
      `entry ${shown(entry)} collides with another entry`,
      { entry },
      err,
    );
  }
  if (isCmpkgError(err)) return err as PackageError;
  return pkgError(
    state,
    'E_PKG_FORMAT',
    `cannot extract entry ${shown(entry)}: ${err instanceof Error ? err.message : String(err)}`,
    { entry },
    err,
  );
}

function waitFor(stream: WriteStream, event: 'drain' | 'close'): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const done = () => {
      stream.off('error', failed);
      resolve();
    };
    const failed = (err: Error) => {
      stream.off(event, done);
      reject(err);
    };
    stream.once(event, done);
    stream.once('error', failed);
  });
}

/** Streams a large entry to disk, hashing in the same pass; returns its sha256 hex, compared by the caller. */
async function extractLarge(state: ReadState, entry: string, stream: AsyncIterable<Buffer>): Promise<string> {
  const hash = createHash('sha256');
  const target = join(state.dir, entry);
  await ensureDir(state, target);
  const out = createWriteStream(target, { flags: 'wx', highWaterMark: CHUNK });
  let failure: unknown;
  out.on('error', (err) => {
    failure ??= err;
  });
  try {
    for await (const chunk of stream) {
      if (failure !== undefined) break;
      hash.update(chunk);
      if (!out.write(chunk)) await waitFor(out, 'drain');
    }
    if (failure === undefined) {
      out.end();
      await waitFor(out, 'close');
    }
  } catch (err) {
    failure ??= err;
  }
  if (failure !== undefined) {
    if (!out.closed) {
      out.destroy();
      await new Promise<void>((resolve) => (out.closed ? resolve() : out.once('close', () => resolve())));
    }
    throw writeError(state, entry, failure);
  }
  return hash.digest('hex');
}

/** Handles one entry; throws a PackageError to refuse the archive. */
async function onEntry(state: ReadState, header: tar.Header, stream: EntryStream): Promise<void> {
  const index = state.entries++;
  const body = stream as unknown as AsyncIterable<Buffer>;
  checkEntryHeader(state, header);
  const name = header.name;

  if (state.lookingForSignature) {
    if (name === SIGNATURE_ENTRY) {
      throw pkgError(
        state,
        'E_PKG_ENTRY_ORDER',
        `${SIGNATURE_ENTRY} must be the second entry, but the second is ${shown(state.lookingForSignature.second)}`,
        { entry: SIGNATURE_ENTRY },
      );
    }
    for await (const _ of body) {
      // Skipped unread: only its name matters here.
    }
    return;
  }

  if (index === 0) {
    if (name !== MANIFEST_ENTRY) {
      throw pkgError(
        state,
        'E_PKG_ENTRY_ORDER',
        `the first entry must be ${MANIFEST_ENTRY}, not ${shown(name)}`,
        {
          entry: name,
        },
      );
    }
    if (header.size > state.maxManifestBytes) {
      throw pkgError(
        state,
        'E_PKG_MANIFEST_TOO_LARGE',
        `${MANIFEST_ENTRY} is ${header.size} bytes, more than the limit of ${state.maxManifestBytes}`,
        { entry: MANIFEST_ENTRY, size: header.size },
      );
    }
    state.manifestBytes = await readEntry(body, header.size);
    state.seen.add(name);
    return;
  }

  if (index === 1) {
    if (name === MANIFEST_ENTRY) {
      throw pkgError(state, 'E_PKG_DUPLICATE_ENTRY', `entry ${shown(name)} appears twice`, { entry: name });
    }
    if (name !== SIGNATURE_ENTRY) {
      // Keep reading (without extracting) to tell a missing signature from a misplaced one.
      state.lookingForSignature = { second: name };
      state.cap = claimedCap(state);
      for await (const _ of body) {
        // Skipped unread.
      }
      return;
    }
    if (header.size > MAX_SIGNATURE_BYTES) {
      throw pkgError(
        state,
        'E_PKG_MANIFEST_TOO_LARGE',
        `${SIGNATURE_ENTRY} is ${header.size} bytes, more than the limit of ${MAX_SIGNATURE_BYTES}`,
        { entry: SIGNATURE_ENTRY, size: header.size },
      );
    }
    state.signatureBytes = await readEntry(body, header.size);
    state.seen.add(name);
    state.verified = verifyManifest(state);
    state.cap = capFor(state.verified.manifest, state.manifestBytes?.length ?? 0, header.size);
    await writeNew(state, MANIFEST_ENTRY, state.manifestBytes ?? Buffer.alloc(0));
    await writeNew(state, SIGNATURE_ENTRY, state.signatureBytes);
    return;
  }

  const verified = state.verified;
  if (!verified) throw new Error('unreachable: entries after the signature before verification');
  if (state.seen.has(name)) {
    throw pkgError(state, 'E_PKG_DUPLICATE_ENTRY', `entry ${shown(name)} appears twice`, { entry: name });
  }
  const listed = verified.files.get(name);
  if (!listed) {
    throw pkgError(
      state,
      'E_PKG_UNLISTED_FILE',
      `entry ${shown(name)} is not listed in the signed manifest`,
      {
        entry: name,
      },
    );
  }
  if (header.size !== listed.size) {
    throw pkgError(
      state,
      'E_PKG_SIZE_MISMATCH',
      `entry ${shown(name)} is ${header.size} bytes, the signed manifest says ${listed.size}`,
      { entry: name, size: header.size, expected: listed.size },
    );
  }
  state.seen.add(name);
  if (header.size <= SMALL_ENTRY) {
    // Small entries are checked before they are written: nothing unverified reaches the disk.
    const data = await readEntry(body, header.size);
    checkDigest(state, name, sha256Hex(data), listed.sha256);
    await writeNew(state, name, data);
  } else {
    checkDigest(state, name, await extractLarge(state, name, body), listed.sha256);
  }
}

function checkDigest(state: ReadState, name: string, actual: string, expected: string): void {
  if (actual !== expected) {
    throw pkgError(
      state,
      'E_PKG_DIGEST_MISMATCH',
      `entry ${shown(name)}: sha256 ${actual} differs from the signed manifest (${expected})`,
      { entry: name, sha256: actual, expected },
    );
  }
}

/** True once every signed file is extracted: anything the tar stream still holds is trailing data. */
function complete(state: ReadState): boolean {
  return state.verified !== undefined && state.seen.size === state.verified.files.size + 2;
}

/** A gunzip or tar-stream failure as a PackageError with the code that says what happened. */
function classify(state: ReadState, err: unknown, origin: 'input' | 'gzip' | 'tar'): PackageError {
  if (isCmpkgError(err)) return err as PackageError;
  const message = err instanceof Error ? err.message : String(err);
  const code = (err as NodeJS.ErrnoException).code;
  if (origin === 'input') {
    return pkgError(state, 'E_PKG_FORMAT', `cannot read the package: ${message}`, {}, err);
  }
  if (origin === 'gzip') {
    if (state.raw === 0) return pkgError(state, 'E_PKG_FORMAT', 'is empty (not a .cmpkg package)', {}, err);
    if (code === 'Z_BUF_ERROR' || /unexpected end/i.test(message)) {
      return pkgError(state, 'E_PKG_TRUNCATED', `the gzip stream ends early (${message})`, {}, err);
    }
    // zlib reads a second member after the first one ends; a bad header there is trailing data.
    if (/incorrect header check/.test(message) && state.gzipMagic === true) {
      return pkgError(state, 'E_PKG_TOO_LARGE', 'has data after the end of the gzip stream', {}, err);
    }
    if (/incorrect header check/.test(message)) {
      return pkgError(state, 'E_PKG_FORMAT', 'is not gzip-compressed (not a .cmpkg package)', {}, err);
    }
    return pkgError(state, 'E_PKG_FORMAT', `the gzip stream is corrupt (${message})`, {}, err);
  }
  if (complete(state)) {
    return pkgError(state, 'E_PKG_TOO_LARGE', `has data after the last signed entry (${message})`, {}, err);
  }
  if (/unexpected end/i.test(message)) {
    return pkgError(state, 'E_PKG_TRUNCATED', `the tar stream ends early (${message})`, {}, err);
  }
  return pkgError(state, 'E_PKG_FORMAT', `not a readable tar archive (${message})`, {}, err);
}

/** Hashes the archive bytes (digest and integrity) and counts them on their way to gunzip. */
class RawTap extends Transform {
  readonly hash = new ArchiveDigest();
  constructor(
    private readonly state: ReadState,
    private readonly gunzip: Gunzip,
    private readonly fail: (err: PackageError) => void,
  ) {
    super({ highWaterMark: CHUNK });
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    const state = this.state;
    state.raw += chunk.length;
    const max = state.options.limits?.maxArchiveBytes;
    if (max !== undefined && state.raw > max) {
      const err = pkgError(state, 'E_PKG_TOO_LARGE', `is larger than the limit of ${max} bytes`, {
        limit: max,
      });
      this.fail(err);
      callback(err);
      return;
    }
    if (state.raw - this.gunzip.bytesWritten > RAW_LEAD) {
      const err = pkgError(state, 'E_PKG_TOO_LARGE', 'has data after the end of the gzip stream');
      this.fail(err);
      callback(err);
      return;
    }
    if (state.gzipMagic === undefined)
      state.gzipMagic = chunk.length >= 2 && chunk[0] === 0x1f && chunk[1] === 0x8b;
    this.hash.update(chunk);
    callback(null, chunk);
  }
}

/**
 * Streams a `.cmpkg` archive, verifies everything, and extracts it into a fresh temporary directory
 * (`mkdtemp(<tempRoot>/cmpkg-pkg-)`), in one pass and without buffering the archive (only
 * `cmpkg.json` and `cmpkg.sig` are held in memory, size-capped). Order of checks: `cmpkg.json` first
 * (≤ `maxManifestBytes`, default 1 MiB), `cmpkg.sig` second (≤ 4 KiB) → the signature against the
 * manifest's `signer` → `trustedKeys` → the manifest schema → `expect` → then each entry: a regular
 * file, a safe name, not seen before, listed, its header size equal to the signed size, its sha256
 * computed while it is written (`wx`); gunzip's output is capped at what the signed sizes account
 * for (gzip bombs and trailing data stop there). Every listed file must be present.
 *
 * On any error the streams are destroyed (a caller's stream too), the temporary directory is
 * removed, and a `PackageError` is thrown whose message names the archive and the entry:
 * E_PKG_FORMAT, E_PKG_TRUNCATED, E_PKG_ENTRY_ORDER, E_PKG_NO_SIGNATURE, E_PKG_MANIFEST,
 * E_PKG_MANIFEST_TOO_LARGE, E_PKG_UNSAFE_PATH, E_PKG_LINK, E_PKG_SPECIAL_FILE, E_PKG_UNLISTED_FILE,
 * E_PKG_MISSING_FILE, E_PKG_DUPLICATE_ENTRY, E_PKG_SIZE_MISMATCH, E_PKG_DIGEST_MISMATCH,
 * E_PKG_TOO_LARGE, E_SIGNATURE_INVALID (also: signed by a key other than the manifest's signer),
 * E_UNTRUSTED_KEY, E_PKG_UNEXPECTED, E_ROTATION_INVALID.
 *
 * @example
 * const pkg = await openPackage('sample-1.0.0.cmpkg', { trustedKeys: [pinned], expect: { pluginId: 'sample' } });
 * try {
 *   const plugin = await pkg.loadPlugin();
 *   console.log(plugin.migrations.length, pkg.digest);
 * } finally {
 *   await pkg.dispose();
 * }
 */
export async function openPackage(
  source: string | NodeJS.ReadableStream,
  options: OpenPackageOptions = {},
): Promise<VerifiedPackage> {
  const archive = typeof source === 'string' ? source : '<stream>';
  const maxManifestBytes = options.limits?.maxManifestBytes ?? DEFAULT_MAX_MANIFEST_BYTES;
  if (typeof source === 'string') {
    let size: number;
    try {
      const info = await stat(source);
      if (!info.isFile()) throw new Error('not a regular file');
      size = info.size;
    } catch (err) {
      throw pkgError(
        { archive },
        'E_PKG_FORMAT',
        `cannot read the package: ${err instanceof Error ? err.message : String(err)}`,
        {},
        err,
      );
    }
    const max = options.limits?.maxArchiveBytes;
    if (max !== undefined && size > max) {
      throw pkgError({ archive }, 'E_PKG_TOO_LARGE', `is ${size} bytes, more than the limit of ${max}`, {
        size,
        limit: max,
      });
    }
  }

  const dir = await mkdtemp(join(options.tempRoot ?? tmpdir(), 'cmpkg-pkg-'));
  const state: ReadState = {
    archive,
    dir,
    options,
    maxManifestBytes,
    entries: 0,
    seen: new Set(),
    dirs: new Set([dir]),
    inflated: 0,
    cap: 0,
    raw: 0,
  };
  state.cap = unverifiedCap(state);

  const input: NodeJS.ReadableStream & { destroy?: (err?: Error) => void } =
    typeof source === 'string' ? createReadStream(source, { highWaterMark: CHUNK }) : source;
  // zlib passes stream options through to its Transform; its types only list the zlib ones.
  const gunzip = createGunzip({
    chunkSize: CHUNK,
    ...({ writableHighWaterMark: CHUNK, readableHighWaterMark: CHUNK } as object),
  });
  const extract = tar.extract();
  // The first failure is the one reported; what follows is the teardown it causes.
  const fail = (err: PackageError) => {
    state.error ??= err;
    extract.destroy(err);
    gunzip.destroy(err);
  };
  const tap = new RawTap(state, gunzip, fail);
  // Listeners go on before pipeline() adds its own, so the cause is recorded before the teardown.
  input.on('error', (err: unknown) => {
    state.error ??= classify(state, err, 'input');
  });
  gunzip.on('error', (err) => {
    // An AbortError is pipeline() tearing gunzip down after another stream failed.
    if (err.name !== 'AbortError') state.error ??= classify(state, err, 'gzip');
  });
  // tar-stream's own errors (bad headers, early end) happen between entries; while an entry is being
  // handled, an error is the teardown of a failure the handler reports itself.
  let handling = false;
  let tarError: unknown;
  extract.on('error', (err: unknown) => {
    if (handling) tarError ??= err;
    else state.error ??= classify(state, err, 'tar');
  });
  let working: Promise<void> = Promise.resolve();
  extract.on('entry', (header, stream, next) => {
    // streamx emits 'error' on a destroyed entry stream; without a listener that would be uncaught.
    stream.on('error', () => {});
    handling = true;
    working = onEntry(state, header, stream).then(
      () => {
        handling = false;
        next();
      },
      (err: unknown) => {
        fail(isCmpkgError(err) ? (err as PackageError) : classify(state, err, 'tar'));
        handling = false;
      },
    );
  });

  try {
    await pipeline(input, tap, gunzip, async (inflated: AsyncIterable<Buffer>) => {
      for await (const chunk of inflated) {
        if (state.error) throw state.error;
        state.inflated += chunk.length;
        if (state.inflated > state.cap) {
          fail(
            pkgError(
              state,
              'E_PKG_TOO_LARGE',
              state.verified
                ? `expands past what the signed manifest accounts for (${state.cap} bytes): a gzip bomb or trailing data`
                : `expands past ${state.cap} bytes before its manifest and signature end`,
              { limit: state.cap },
            ),
          );
          throw state.error;
        }
        if (!extract.write(chunk)) await drained(extract, state);
      }
      extract.end(undefined);
      await finished(extract, state);
    });
    await working;
    if (state.error) throw state.error;
    if (state.raw === 0) throw pkgError(state, 'E_PKG_FORMAT', 'is empty (not a .cmpkg package)');
    if (state.raw !== gunzip.bytesWritten) {
      throw pkgError(
        state,
        'E_PKG_TOO_LARGE',
        `has ${state.raw - gunzip.bytesWritten} bytes after the end of the gzip stream`,
      );
    }
    if (state.entries === 0)
      throw pkgError(state, 'E_PKG_FORMAT', `is an empty archive (no ${MANIFEST_ENTRY})`);
    if (!state.verified) {
      throw pkgError(
        state,
        'E_PKG_NO_SIGNATURE',
        `has no ${SIGNATURE_ENTRY} entry (the package is not signed)`,
        {
          entry: SIGNATURE_ENTRY,
        },
      );
    }
    const missing = [...state.verified.files.keys()].filter((path) => !state.seen.has(path));
    if (missing.length > 0) {
      throw pkgError(
        state,
        'E_PKG_MISSING_FILE',
        `entry ${shown(missing[0] ?? '')} is listed in the signed manifest but not in the archive${missing.length > 1 ? ` (and ${missing.length - 1} more)` : ''}`,
        { entry: missing[0], missing },
      );
    }
    const rotation = state.verified.files.has(ROTATION_ENTRY)
      ? parseRotations(await readFile(join(dir, ROTATION_ENTRY), 'utf8'), `${archive}: ${ROTATION_ENTRY}`)
      : [];
    return verifiedPackage(state, {
      rotation,
      digest: tap.hash.digest,
      integrity: tap.hash.integrity,
    });
  } catch (err) {
    const error =
      state.error ??
      (tarError !== undefined
        ? classify(state, tarError, 'tar')
        : isCmpkgError(err)
          ? (err as PackageError)
          : classify(state, err, 'tar'));
    state.error ??= error;
    extract.destroy(error);
    gunzip.destroy();
    input.destroy?.();
    // The entry being handled may still be closing its file: let it finish before removing the dir.
    await working.catch(() => {});
    await rm(dir, { recursive: true, force: true, maxRetries: 3 });
    throw error;
  }
}

function drained(extract: tar.Extract, state: ReadState): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (extract.destroying || extract.destroyed) {
      reject(state.error ?? new Error('tar extraction stopped'));
      return;
    }
    const onDrain = () => {
      extract.off('close', onClose);
      resolve();
    };
    const onClose = () => {
      extract.off('drain', onDrain);
      reject(state.error ?? new Error('tar extraction stopped'));
    };
    extract.once('drain', onDrain);
    extract.once('close', onClose);
  });
}

function finished(extract: tar.Extract, state: ReadState): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (extract.destroying || extract.destroyed) {
      reject(state.error ?? new Error('tar extraction stopped'));
      return;
    }
    let done = false;
    extract.once('finish', () => {
      done = true;
      resolve();
    });
    extract.once('close', () => {
      if (!done) reject(state.error ?? new Error('tar extraction stopped'));
    });
  });
}

function verifiedPackage(
  state: ReadState,
  extra: { rotation: RotationStatement[]; digest: string; integrity: string },
): VerifiedPackage {
  const verified = state.verified as NonNullable<ReadState['verified']>;
  const { manifest } = verified;
  let plugin: Promise<Plugin> | undefined;
  let disposed: Promise<void> | undefined;
  return {
    file: state.archive,
    manifest,
    manifestBytes: new Uint8Array(state.manifestBytes ?? []),
    signature: verified.signature,
    signer: verified.signer,
    dir: state.dir,
    digest: extra.digest,
    integrity: extra.integrity,
    size: state.raw,
    trusted: state.options.trustedKeys !== undefined,
    rotation: extra.rotation,
    loadPlugin() {
      plugin ??= loadPackedPlugin(state.archive, state.dir, manifest);
      return plugin;
    },
    dispose() {
      disposed ??= rm(state.dir, { recursive: true, force: true, maxRetries: 3 });
      return disposed;
    },
  };
}

/** Parses every packed migration and checks it against the signed manifest. */
async function loadPackedPlugin(archive: string, dir: string, manifest: PackageManifest): Promise<Plugin> {
  const migrations: Migration[] = [];
  const where = (path: string) => `${archive}: ${path}`;
  for (const entry of manifest.migrations) {
    const fail = (message: string, cause?: unknown) =>
      new PackageError('E_PKG_CHECKSUM', `${where(entry.path)}: ${message}`, {
        details: { file: archive, entry: entry.path, migration: entry.id },
        ...(cause !== undefined ? { cause } : {}),
      });
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(await readFile(join(dir, entry.path)));
    } catch (err) {
      throw fail(
        `cannot read the packed migration: ${err instanceof Error ? err.message : String(err)}`,
        err,
      );
    }
    let migration: Migration;
    try {
      migration = parseJsonMigration(
        text,
        `cmpkg:${manifest.plugin.id}@${manifest.plugin.version}/${entry.path}`,
      );
    } catch (err) {
      throw fail(
        `the packed migration does not parse: ${err instanceof Error ? err.message : String(err)}`,
        err,
      );
    }
    if (migration.id !== entry.id || migration.version !== entry.version) {
      throw fail(
        `holds migration ${migration.id}@${migration.version}, the signed manifest says ${entry.id}@${entry.version}`,
      );
    }
    if (migration.pluginId !== '' && migration.pluginId !== manifest.plugin.id) {
      throw fail(
        `migration "${migration.id}" belongs to plugin "${migration.pluginId}", not "${manifest.plugin.id}"`,
      );
    }
    if (migration.checksum !== entry.checksum) {
      throw fail(
        `migration "${entry.id}" has checksum ${migration.checksum}, the signed manifest says ${entry.checksum}`,
      );
    }
    migration.pluginId = manifest.plugin.id;
    migrations.push(migration);
  }
  const plugin: Plugin = { id: manifest.plugin.id, version: manifest.plugin.version, migrations };
  if (manifest.plugin.name !== undefined) plugin.name = manifest.plugin.name;
  if (manifest.plugin.description !== undefined) plugin.description = manifest.plugin.description;
  return plugin;
}

/**
 * Opens (fully verifies and extracts) a package and disposes of it again: what `cmpkg verify` runs.
 * Throws exactly what {@link openPackage} throws.
 *
 * @example
 * const summary = await verifyPackage('sample-1.0.0.cmpkg', { trustedKeys: [key] });
 * summary.trusted; // true
 */
export async function verifyPackage(
  source: string,
  options: OpenPackageOptions = {},
): Promise<PackageSummary> {
  const pkg = await openPackage(source, options);
  try {
    return {
      file: pkg.file,
      pluginId: pkg.manifest.plugin.id,
      version: pkg.manifest.plugin.version,
      keyId: pkg.signer.keyId,
      digest: pkg.digest,
      integrity: pkg.integrity,
      size: pkg.size,
      files: pkg.manifest.files.length,
      trusted: pkg.trusted,
    };
  } finally {
    await pkg.dispose();
  }
}
