import { type BulkColumn, ENGINES, type Engine, ID_PATTERN, isPortableType, PackageError } from '@cmpkg/core';
import semver from 'semver';
import { z } from 'zod';
import pkg from '../package.json' with { type: 'json' };

/**
 * The `format` of a `.cmpkg` manifest (DESIGN.md §5).
 *
 * @example
 * if (manifest.format !== PACKAGE_FORMAT) throw new Error('not a cmpkg/1 package');
 */
export const PACKAGE_FORMAT = 'cmpkg/1';
/**
 * The manifest entry: always the first entry of the archive.
 *
 * @example
 * join(pkg.dir, MANIFEST_ENTRY); // '<dir>/cmpkg.json'
 */
export const MANIFEST_ENTRY = 'cmpkg.json';
/**
 * The minisign signature over the exact bytes of `cmpkg.json`: always the second entry.
 *
 * @example
 * readFileSync(join(pkg.dir, SIGNATURE_ENTRY), 'utf8');
 */
export const SIGNATURE_ENTRY = 'cmpkg.sig';
/**
 * The optional key rotation statements (a JSON array); listed in `files` like any other entry.
 *
 * @example
 * manifest.files.some((f) => f.path === ROTATION_ENTRY);
 */
export const ROTATION_ENTRY = 'rotation.json';
/**
 * The optional README of a package; listed in `files`.
 *
 * @example
 * manifest.files.some((f) => f.path === README_ENTRY);
 */
export const README_ENTRY = 'README.md';
/**
 * The largest `cmpkg.json` a reader accepts by default (1 MiB): it is buffered before it is verified.
 *
 * @example
 * await openPackage(file, { limits: { maxManifestBytes: DEFAULT_MAX_MANIFEST_BYTES / 2 } });
 */
export const DEFAULT_MAX_MANIFEST_BYTES = 1024 * 1024;
/**
 * The largest `cmpkg.sig` a reader accepts (4 KiB; a minisign signature file is about 300 bytes).
 *
 * @example
 * if (sig.byteLength > MAX_SIGNATURE_BYTES) throw new Error('signature too large');
 */
export const MAX_SIGNATURE_BYTES = 4096;
/**
 * `createdBy` of packages written by this packager: the tool and its version, never a user or host,
 * so the same inputs pack to the same bytes anywhere.
 *
 * @example
 * manifest.createdBy === CREATED_BY; // 'cmpkg/0.1.0'
 */
export const CREATED_BY = `cmpkg/${pkg.version}`;

/**
 * Table names a package may carry data for: they become file names (`data/<table>.ndjson`), so they
 * are kept to characters that are safe and portable on every file system.
 *
 * @example
 * TABLE_NAME_PATTERN.test('entries'); // true
 * TABLE_NAME_PATTERN.test('../etc'); // false
 */
export const TABLE_NAME_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

/**
 * The signed description of a package (`cmpkg.json`). `files` lists every entry except `cmpkg.json`
 * and `cmpkg.sig`. Deviation from DESIGN §5 (documented): `signer` carries the signer's public key,
 * so a first install can pin it (trust on first use).
 *
 * @example
 * const manifest: PackageManifest = parseManifest(bytes, 'sample-1.0.0.cmpkg');
 * manifest.files.map((f) => f.path);
 */
export interface PackageManifest {
  format: 'cmpkg/1';
  plugin: { id: string; version: string; name?: string; description?: string };
  engines: Engine[];
  /** Plugin id → semver range. */
  requires: Record<string, string>;
  /** In the order they were packed (the planner's order); `path` is `migrations/NNNN-<id>.json`. */
  migrations: Array<{ id: string; version: string; path: string; checksum: string }>;
  data: Array<{ table: string; path: string; format: 'ndjson'; rows: number; columns: BulkColumn[] }>;
  files: Array<{ path: string; size: number; sha256: string }>;
  /** `publicKey` is the minisign base64 line (`PublicKey.encoded`). */
  signer: { keyId: string; publicKey: string };
  createdAt: string;
  /** `cmpkg/<packager version>`. */
  createdBy: string;
}

/**
 * `migrations/NNNN-<id>.json`: NNNN is the 1-based position in the manifest, four digits (more past 9999).
 *
 * @example
 * migrationEntryPath(1, '0001_init'); // 'migrations/0001-0001_init.json'
 */
export function migrationEntryPath(position: number, id: string): string {
  return `migrations/${String(position).padStart(4, '0')}-${id}.json`;
}

/**
 * `data/<table>.ndjson`.
 *
 * @example
 * dataEntryPath('entries'); // 'data/entries.ndjson'
 */
export function dataEntryPath(table: string): string {
  return `data/${table}.ndjson`;
}

/**
 * The file name a package is written to by default: `<id>-<version>.cmpkg`.
 *
 * @example
 * packageFileName({ plugin: { id: 'sample', version: '1.0.0' } }); // 'sample-1.0.0.cmpkg'
 */
export function packageFileName(manifest: Pick<PackageManifest, 'plugin'>): string {
  return `${manifest.plugin.id}-${manifest.plugin.version}.cmpkg`;
}

/** One path segment: ASCII letters, digits, `_`, `-` and `.`; never `.`/`..`/a dotfile (no leading dot). */
const SAFE_SEGMENT = '[A-Za-z0-9_][A-Za-z0-9._-]*';
const SAFE_PATH = new RegExp(`^${SAFE_SEGMENT}(?:/${SAFE_SEGMENT})*$`);
const MAX_PATH_LENGTH = 255;

/**
 * Whether an entry name is safe to extract anywhere: relative, `/`-separated, non-empty segments of
 * ASCII letters, digits, `_`, `-` and `.` that do not start with a dot (so no `.`, `..`, `./`
 * prefixes, hidden files), at most 255 characters. Everything else — absolute paths, backslashes,
 * control characters, NUL, U+FFFD from invalid UTF-8, any non-ASCII — is refused, because a name that
 * means one thing here can mean another on Windows, macOS (normalisation) or a case-insensitive disk.
 *
 * @example
 * isSafeEntryPath('data/entries.ndjson'); // true
 * isSafeEntryPath('../etc/passwd'); // false
 * isSafeEntryPath('a\\b'); // false
 */
export function isSafeEntryPath(name: string): boolean {
  return name.length <= MAX_PATH_LENGTH && SAFE_PATH.test(name);
}

const MIGRATION_PATH = /^migrations\/(\d{4,})-([a-z0-9][a-z0-9._-]*)\.json$/;
const DATA_PATH = /^data\/([A-Za-z0-9_][A-Za-z0-9_.-]{0,127})\.ndjson$/;

/**
 * Whether a path is one a `cmpkg/1` package may list in `files`: a packed migration, a data file,
 * `README.md` or `rotation.json` (and a safe path, see {@link isSafeEntryPath}).
 *
 * @example
 * isPackagePath('migrations/0001-init.json'); // true
 * isPackagePath('bin/run.sh'); // false
 */
export function isPackagePath(path: string): boolean {
  if (!isSafeEntryPath(path)) return false;
  return (
    path === README_ENTRY || path === ROTATION_ENTRY || MIGRATION_PATH.test(path) || DATA_PATH.test(path)
  );
}

function groupOf(path: string): number {
  if (path === MANIFEST_ENTRY) return 0;
  if (path === SIGNATURE_ENTRY) return 1;
  if (path.startsWith('migrations/')) return 2;
  if (path.startsWith('data/')) return 3;
  if (path === README_ENTRY) return 4;
  if (path === ROTATION_ENTRY) return 5;
  return 6;
}

/**
 * The order of entries in an archive and in `files`: `cmpkg.json`, `cmpkg.sig`, then migrations,
 * data, `README.md`, `rotation.json`, each group by path in code-unit order (never the locale's).
 * Migrations come before data so a streaming reader meets the schema before the rows that fill it.
 *
 * @example
 * ['README.md', 'data/a.ndjson', 'migrations/0001-a.json'].sort(compareEntryPaths);
 * // ['migrations/0001-a.json', 'data/a.ndjson', 'README.md']
 */
export function compareEntryPaths(a: string, b: string): number {
  const ga = groupOf(a);
  const gb = groupOf(b);
  if (ga !== gb) return ga - gb;
  return a < b ? -1 : a > b ? 1 : 0;
}

const SHA256_HEX = /^[0-9a-f]{64}$/;
const CHECKSUM = /^sha256:[0-9a-f]{64}$/;
const ID = z.string().regex(ID_PATTERN, { message: 'must match [a-z0-9][a-z0-9._-]* (lower-case)' });
const VERSION = z.string().refine((v) => semver.valid(v) !== null, { message: 'must be a semver version' });
const ISO_DATE = z
  .string()
  .refine((v) => !Number.isNaN(Date.parse(v)), { message: 'must be an ISO-8601 date' });
const SIZE = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

/**
 * The zod schema of `cmpkg.json` (`cmpkg/1`). Objects are strict: a signed manifest with a key this
 * reader does not know is refused rather than half understood. Cross-field rules: every path obeys
 * {@link isPackagePath}, `files` paths are unique (also ignoring case), migration `i` is at
 * `migrations/NNNN-<id>.json` with NNNN = i + 1, data of table `t` at `data/t.ndjson`, every
 * migration and data path is listed in `files`, and every listed migration/data file is described.
 *
 * @example
 * const result = PackageManifestSchema.safeParse(JSON.parse(text));
 */
export const PackageManifestSchema = z
  .object({
    format: z.literal(PACKAGE_FORMAT),
    plugin: z
      .object({
        id: ID,
        version: VERSION,
        name: z.string().optional(),
        description: z.string().optional(),
      })
      .strict(),
    engines: z.array(z.enum(ENGINES)),
    requires: z.record(
      ID,
      z.string().refine((r) => semver.validRange(r) !== null, { message: 'must be a semver range' }),
    ),
    migrations: z.array(
      z
        .object({
          id: ID,
          version: VERSION,
          path: z.string(),
          checksum: z.string().regex(CHECKSUM, { message: 'must be sha256:<64 hex digits>' }),
        })
        .strict(),
    ),
    data: z.array(
      z
        .object({
          table: z.string().regex(TABLE_NAME_PATTERN, { message: 'must match [A-Za-z0-9_][A-Za-z0-9_.-]*' }),
          path: z.string(),
          format: z.literal('ndjson'),
          rows: SIZE,
          columns: z
            .array(
              z
                .object({
                  name: z.string().min(1),
                  type: z.string().refine(isPortableType, { message: 'must be a portable type' }),
                })
                .strict(),
            )
            .min(1),
        })
        .strict(),
    ),
    files: z.array(
      z
        .object({
          path: z.string().refine(isPackagePath, {
            message: 'must be migrations/NNNN-<id>.json, data/<table>.ndjson, README.md or rotation.json',
          }),
          size: SIZE,
          sha256: z.string().regex(SHA256_HEX, { message: 'must be 64 lower-case hex digits' }),
        })
        .strict(),
    ),
    signer: z
      .object({
        keyId: z.string().regex(/^[0-9A-F]{16}$/, { message: 'must be 16 upper-case hex digits' }),
        publicKey: z.string().regex(/^[A-Za-z0-9+/]{56}$/, { message: 'must be a minisign public key line' }),
      })
      .strict(),
    createdAt: ISO_DATE,
    createdBy: z.string().min(1).max(200),
  })
  .strict()
  .superRefine((m, ctx) => {
    const listed = new Set<string>();
    const folded = new Set<string>();
    m.files.forEach((f, i) => {
      // A case-insensitive disk would extract two names that differ only in case into one file.
      const key = f.path.toLowerCase();
      if (folded.has(key))
        ctx.addIssue({ code: 'custom', path: ['files', i, 'path'], message: 'listed twice' });
      folded.add(key);
      listed.add(f.path);
    });
    const described = new Set<string>();
    const ids = new Set<string>();
    m.migrations.forEach((entry, i) => {
      if (ids.has(entry.id))
        ctx.addIssue({ code: 'custom', path: ['migrations', i, 'id'], message: 'duplicate id' });
      ids.add(entry.id);
      const expected = migrationEntryPath(i + 1, entry.id);
      if (entry.path !== expected) {
        ctx.addIssue({ code: 'custom', path: ['migrations', i, 'path'], message: `must be "${expected}"` });
      } else if (!listed.has(entry.path)) {
        ctx.addIssue({ code: 'custom', path: ['migrations', i, 'path'], message: 'not listed in files' });
      }
      described.add(entry.path);
    });
    const tables = new Set<string>();
    m.data.forEach((entry, i) => {
      if (tables.has(entry.table))
        ctx.addIssue({ code: 'custom', path: ['data', i, 'table'], message: 'duplicate table' });
      tables.add(entry.table);
      const expected = dataEntryPath(entry.table);
      if (entry.path !== expected) {
        ctx.addIssue({ code: 'custom', path: ['data', i, 'path'], message: `must be "${expected}"` });
      } else if (!listed.has(entry.path)) {
        ctx.addIssue({ code: 'custom', path: ['data', i, 'path'], message: 'not listed in files' });
      }
      described.add(entry.path);
    });
    m.files.forEach((f, i) => {
      if ((f.path.startsWith('migrations/') || f.path.startsWith('data/')) && !described.has(f.path)) {
        ctx.addIssue({
          code: 'custom',
          path: ['files', i, 'path'],
          message: 'not described by migrations or data',
        });
      }
    });
  });

function fieldPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out === '' ? String(p) : `.${String(p)}`;
  }
  return out;
}

/**
 * Parses and validates `cmpkg.json` bytes. Throws `PackageError` `E_PKG_MANIFEST` naming `source`
 * (the archive), the entry and the first field that is wrong (`details.field`, every issue in
 * `details.issues`).
 *
 * @example
 * const manifest = parseManifest(readFileSync(join(dir, 'cmpkg.json')), 'sample-1.0.0.cmpkg');
 */
export function parseManifest(bytes: Uint8Array, source: string): PackageManifest {
  return validateManifest(parseManifestJson(bytes, source), source);
}

/**
 * {@link parseManifest} of a value {@link parseManifestJson} already returned: for the reader, which
 * looks at the signer before the schema and so should not parse the JSON twice.
 *
 * @example
 * const raw = parseManifestJson(bytes, 'x.cmpkg');
 * const manifest = validateManifest(raw, 'x.cmpkg');
 */
export function validateManifest(raw: unknown, source: string): PackageManifest {
  const parsed = PackageManifestSchema.safeParse(raw);
  if (parsed.success) return parsed.data as PackageManifest;
  const issues = parsed.error.issues.map((issue) => ({
    field: fieldPath(issue.path),
    message: issue.message,
  }));
  const first = issues[0];
  const more = issues.length > 1 ? ` (and ${issues.length - 1} more)` : '';
  throw new PackageError(
    'E_PKG_MANIFEST',
    `${source}: ${MANIFEST_ENTRY}: field "${first?.field || '(root)'}": ${first?.message ?? 'invalid'}${more}`,
    { details: { file: source, entry: MANIFEST_ENTRY, field: first?.field, issues } },
  );
}

/**
 * The JSON value of `cmpkg.json` bytes, not yet validated (strict UTF-8; a BOM is refused as the
 * packager never writes one). `E_PKG_MANIFEST` when it is not UTF-8 JSON.
 *
 * @example
 * const raw = parseManifestJson(bytes, 'x.cmpkg') as { signer?: { publicKey?: string } };
 */
export function parseManifestJson(bytes: Uint8Array, source: string): unknown {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch (err) {
    throw new PackageError('E_PKG_MANIFEST', `${source}: ${MANIFEST_ENTRY}: not valid UTF-8`, {
      cause: err,
      details: { file: source, entry: MANIFEST_ENTRY },
    });
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new PackageError(
      'E_PKG_MANIFEST',
      `${source}: ${MANIFEST_ENTRY}: not valid JSON: ${err instanceof Error ? err.message : String(err)}`,
      { cause: err, details: { file: source, entry: MANIFEST_ENTRY } },
    );
  }
}

/**
 * The bytes of `cmpkg.json` for a manifest: keys in a fixed order, 2-space indent, a trailing
 * newline, UTF-8. Deterministic, so the same package always has the same manifest bytes (and the
 * same signature, ed25519 being deterministic).
 *
 * @example
 * const bytes = serializeManifest(manifest);
 * parseManifest(bytes, 'x.cmpkg'); // equal to manifest
 */
export function serializeManifest(m: PackageManifest): Uint8Array {
  const plugin: Record<string, string> = { id: m.plugin.id, version: m.plugin.version };
  if (m.plugin.name !== undefined) plugin.name = m.plugin.name;
  if (m.plugin.description !== undefined) plugin.description = m.plugin.description;
  const requires: Record<string, string> = {};
  for (const id of Object.keys(m.requires).sort()) requires[id] = m.requires[id] as string;
  const ordered = {
    format: m.format,
    plugin,
    engines: [...m.engines],
    requires,
    migrations: m.migrations.map((e) => ({
      id: e.id,
      version: e.version,
      path: e.path,
      checksum: e.checksum,
    })),
    data: m.data.map((d) => ({
      table: d.table,
      path: d.path,
      format: d.format,
      rows: d.rows,
      columns: d.columns.map((c) => ({ name: c.name, type: c.type })),
    })),
    files: m.files.map((f) => ({ path: f.path, size: f.size, sha256: f.sha256 })),
    signer: { keyId: m.signer.keyId, publicKey: m.signer.publicKey },
    createdAt: m.createdAt,
    createdBy: m.createdBy,
  };
  return new TextEncoder().encode(`${JSON.stringify(ordered, null, 2)}\n`);
}

/**
 * The trusted comment a package signature carries: `cmpkg/1 <id>@<version> sha256:<hex of cmpkg.json>`.
 * Deterministic (no timestamp), so packing is reproducible; `minisign -V` prints it.
 *
 * @example
 * trustedCommentFor(manifest, sha256Hex(bytes)); // 'cmpkg/1 sample@1.0.0 sha256:9f2c…'
 */
export function trustedCommentFor(manifest: Pick<PackageManifest, 'plugin'>, manifestSha256: string): string {
  return `${PACKAGE_FORMAT} ${manifest.plugin.id}@${manifest.plugin.version} sha256:${manifestSha256}`;
}
