/**
 * The one error hierarchy of cmpkg.
 *
 * Every error carries a stable `code` (for scripts and `--json` output), an optional `cause`, and a
 * `category` that decides the CLI exit code in exactly one place (`exitCodeFor` in `@cmpkg/cli`):
 *
 * | category  | meaning                                   | exit |
 * |-----------|-------------------------------------------|------|
 * | `input`   | bad input or usage; names file/field/line | 2    |
 * | `safety`  | refused for safety (drift, lock, ...)     | 3    |
 * | `failure` | the operation itself failed               | 1    |
 */
export type ErrorCategory = 'input' | 'safety' | 'failure';

/** Where in a file a problem is: `file` and, when known, a `line` and/or a dotted `field` path. */
export interface SourceLocation {
  file?: string;
  line?: number;
  field?: string;
}

export interface CmpkgErrorOptions {
  cause?: unknown;
  /** Extra machine-readable facts shown in `--json` output. */
  details?: Record<string, unknown>;
}

/**
 * Base class of every error cmpkg throws on purpose.
 *
 * @example
 * try { await migrator.up(); } catch (e) {
 *   if (e instanceof CmpkgError) console.error(e.code, e.message);
 * }
 */
export class CmpkgError extends Error {
  readonly code: string;
  readonly category: ErrorCategory;
  readonly details: Record<string, unknown>;

  constructor(code: string, category: ErrorCategory, message: string, options: CmpkgErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.category = category;
    this.details = options.details ?? {};
  }

  /** A plain object for `--json` output. */
  toJSON(): {
    name: string;
    code: string;
    category: ErrorCategory;
    message: string;
    details: Record<string, unknown>;
  } {
    return {
      name: this.name,
      code: this.code,
      category: this.category,
      message: this.message,
      details: this.details,
    };
  }
}

function locate(loc: SourceLocation): string {
  const parts: string[] = [];
  if (loc.file) parts.push(loc.line ? `${loc.file}:${loc.line}` : loc.file);
  if (loc.field) parts.push(`field "${loc.field}"`);
  return parts.join(' ');
}

// ---------------------------------------------------------------- input (exit 2)

/** Bad command-line usage: unknown option values, missing arguments. */
export class UsageError extends CmpkgError {
  constructor(message: string, options?: CmpkgErrorOptions) {
    super('E_USAGE', 'input', message, options);
  }
}

/** A config file that cannot be read or does not validate. */
export class ConfigError extends CmpkgError {
  readonly location: SourceLocation;
  constructor(message: string, location: SourceLocation = {}, options?: CmpkgErrorOptions) {
    const where = locate(location);
    super('E_CONFIG', 'input', where ? `${where}: ${message}` : message, {
      ...options,
      details: { ...location, ...options?.details },
    });
    this.location = location;
  }
}

/**
 * A migration file that cannot be parsed or validated. The message always starts with the file,
 * and names the line (SQL headers, JSON syntax) or the field (schema violations).
 */
export class MigrationParseError extends CmpkgError {
  readonly location: SourceLocation;
  constructor(
    code:
      | 'E_PARSE'
      | 'E_INVALID_JSON'
      | 'E_SCHEMA'
      | 'E_UNKNOWN_HEADER'
      | 'E_DUPLICATE_ID'
      | 'E_PLUGIN_MISMATCH',
    message: string,
    location: SourceLocation,
    options?: CmpkgErrorOptions,
  ) {
    const where = locate(location);
    super(code, 'input', where ? `${where}: ${message}` : message, {
      ...options,
      details: { ...location, ...options?.details },
    });
    this.location = location;
  }
}

export type PlanErrorCode =
  | 'E_CYCLE'
  | 'E_MISSING_DEPENDENCY'
  | 'E_CONFLICT'
  | 'E_NO_SQL_FOR_ENGINE'
  | 'E_OUT_OF_ORDER'
  | 'E_UNKNOWN_TARGET'
  | 'E_ENGINE_DEPENDENCY'
  | 'E_UNKNOWN_TRANSFORM'
  | 'E_TRANSFORM_UNAVAILABLE'
  /** A run inside the caller's transaction planned a migration that needs its own transactions (or none). */
  | 'E_NOT_TRANSACTIONAL';

/** The plan cannot be made: the migrations, the history and the target do not fit together. */
export class PlanError extends CmpkgError {
  constructor(code: PlanErrorCode, message: string, options?: CmpkgErrorOptions) {
    super(code, 'input', message, options);
  }
}

/** Codes of {@link DataTransferError}, each with its category (and so its exit code). */
const DATA_TRANSFER_CODES = {
  /** A mapping names an unknown table, column or function, or is malformed (exit 2). */
  E_MAPPING: 'input',
  /** A row cannot be written: a value that does not fit its column, a failed validation rule, a
   * constraint the row violates, a malformed line in an import file (exit 2). */
  E_DATA: 'input',
  /** A target table already holds rows and the operation would mix them (exit 3). */
  E_TARGET_NOT_EMPTY: 'safety',
  /** A host-registered `custom` transform threw (exit 1). */
  E_TRANSFORM_FAILED: 'failure',
  /** A copied table's row count or content checksum differs from its source (exit 1). */
  E_VERIFY_FAILED: 'failure',
  /** Stopped by a signal (Ctrl-C): committed batches stay, and the same command resumes (exit 1). */
  E_INTERRUPTED: 'failure',
} as const satisfies Record<string, ErrorCategory>;

export type DataTransferErrorCode = keyof typeof DATA_TRANSFER_CODES;

/**
 * A copy, export, import or transform that cannot go on. The message names the table, column, file
 * and line or row key where they are known (also in `details`).
 *
 * @example
 * throw new DataTransferError('E_MAPPING', 'mapping.json field "tables.users.columns.emali": no column "emali" in users');
 */
export class DataTransferError extends CmpkgError {
  constructor(code: DataTransferErrorCode, message: string, options?: CmpkgErrorOptions) {
    super(code, DATA_TRANSFER_CODES[code], message, options);
  }
}

/**
 * Every code a `.cmpkg` package, key or install can fail with, and its category. Input codes (exit 2)
 * are malformed or hostile archives and keys; safety codes (exit 3) are refusals (a bad or untrusted
 * signature, a downgrade, unmet requirements); failure codes (exit 1) are installs that ran and failed.
 */
export const PACKAGE_CODES = {
  /** Not a gzip-compressed tar, or a tar header that cannot be read (exit 2). */
  E_PKG_FORMAT: 'input',
  /** The gzip or tar stream ends early (exit 2). */
  E_PKG_TRUNCATED: 'input',
  /** The first entries are not `cmpkg.json` then `cmpkg.sig` (exit 2). */
  E_PKG_ENTRY_ORDER: 'input',
  /** No `cmpkg.sig` entry (exit 2). */
  E_PKG_NO_SIGNATURE: 'input',
  /** `cmpkg.json` is not valid JSON or does not match the `cmpkg/1` schema; names the field (exit 2). */
  E_PKG_MANIFEST: 'input',
  /** `cmpkg.json` (or `cmpkg.sig`) is larger than the reader accepts (exit 2). */
  E_PKG_MANIFEST_TOO_LARGE: 'input',
  /** An entry name that is absolute, has `..`, a backslash, a control character or invalid UTF-8 (exit 2). */
  E_PKG_UNSAFE_PATH: 'input',
  /** A symbolic or hard link entry (exit 2). */
  E_PKG_LINK: 'input',
  /** A device, FIFO, directory or other non-regular entry (exit 2). */
  E_PKG_SPECIAL_FILE: 'input',
  /** An entry the signed manifest does not list (exit 2). */
  E_PKG_UNLISTED_FILE: 'input',
  /** A file the signed manifest lists is not in the archive (exit 2). */
  E_PKG_MISSING_FILE: 'input',
  /** The same entry name twice (exit 2). */
  E_PKG_DUPLICATE_ENTRY: 'input',
  /** An entry whose size differs from its signed size (exit 2). */
  E_PKG_SIZE_MISMATCH: 'input',
  /** An entry whose SHA-256 differs from its signed digest (exit 2). */
  E_PKG_DIGEST_MISMATCH: 'input',
  /** The archive expands past what the signed manifest accounts for (gzip bomb, trailing data) (exit 2). */
  E_PKG_TOO_LARGE: 'input',
  /** A packed migration's checksum differs from the manifest's, or it does not parse (exit 2). */
  E_PKG_CHECKSUM: 'input',
  /** A key file that cannot be read: wrong format, wrong algorithm, bad checksum (exit 2). */
  E_KEY_FORMAT: 'input',
  /** An encrypted secret key without a passphrase, or with a wrong one (exit 2). */
  E_KEY_PASSPHRASE: 'input',
  /** A package cannot be built from these inputs (a code step, a migration above the version) (exit 2). */
  E_PACK_INPUT: 'input',
  /** The signature does not verify: the manifest or signature was altered (exit 3). */
  E_SIGNATURE_INVALID: 'safety',
  /** Signed by a key other than the trusted or pinned one, without a valid rotation statement (exit 3). */
  E_UNTRUSTED_KEY: 'safety',
  /** A rotation statement that is malformed, for another plugin, or not signed by the key it rotates from (exit 3). */
  E_ROTATION_INVALID: 'safety',
  /** A validly signed package that is not the plugin or version that was asked for (exit 3). */
  E_PKG_UNEXPECTED: 'safety',
  /** The package is older than the installed version and no downgrade was allowed (exit 3). */
  E_DOWNGRADE: 'safety',
  /** The installed version has the same number but different contents (exit 3). */
  E_VERSION_CONFLICT: 'safety',
  /** A plugin the package `requires` is missing or outside the range (exit 3). */
  E_REQUIRES_UNMET: 'safety',
  /** The package does not support the connected engine (exit 3). */
  E_ENGINE_UNSUPPORTED: 'safety',
  /** An install failed and the database was put back as it was; `cause` says why (exit 1). */
  E_INSTALL_FAILED: 'failure',
  /** An install failed and undoing it failed too; `details` says what is left (exit 1). */
  E_INSTALL_INCOMPLETE: 'failure',
} as const satisfies Record<string, ErrorCategory>;

export type PackageErrorCode = keyof typeof PACKAGE_CODES;

/**
 * A `.cmpkg` archive, key, signature or install problem. The message names the archive and entry
 * (or key file, field) where they are known; `details.entry` / `details.file` carry them too.
 *
 * @example
 * throw new PackageError('E_PKG_DIGEST_MISMATCH', 'sample-1.0.0.cmpkg: data/entries.ndjson: sha256 differs from the signed manifest');
 */
export class PackageError extends CmpkgError {
  constructor(code: PackageErrorCode, message: string, options?: CmpkgErrorOptions) {
    super(code, PACKAGE_CODES[code], message, options);
  }
}

/**
 * Every code the registry (server and client) fails with, and its category. The registry answers
 * each with one HTTP status (its `errors.ts` maps them in one place) and a JSON body
 * `{ "error": { "code", "message" } }`; the CLI's client turns that body back into this error, so a
 * refusal on the server exits the same way as one on the host.
 */
export const REGISTRY_CODES = {
  /** A malformed request: invalid JSON body, a missing or wrong field, a bad name or parameter (400, exit 2). */
  E_REGISTRY_BAD_REQUEST: 'input',
  /** No such plugin, version, tag, tarball or token (404, exit 2). */
  E_REGISTRY_NOT_FOUND: 'input',
  /** A version spec that is neither a valid semver range nor a dist-tag name (400, exit 2). */
  E_REGISTRY_INVALID_RANGE: 'input',
  /** The plugin exists but no version satisfies the range (404, exit 2). */
  E_REGISTRY_NO_MATCH: 'input',
  /** The upload is larger than the registry accepts (413, exit 2). */
  E_REGISTRY_TOO_LARGE: 'input',
  /** The archive is a package of another plugin than the URL names, or the name is reserved (400, exit 2). */
  E_REGISTRY_NAME_MISMATCH: 'input',
  /** No token, an unknown token or a revoked one (401, exit 3). */
  E_REGISTRY_UNAUTHORIZED: 'safety',
  /** A valid token that may not do this: not the plugin's owner, not an admin (403, exit 3). */
  E_REGISTRY_FORBIDDEN: 'safety',
  /** The archive is signed by a key that is not registered for the plugin (403, exit 3). */
  E_REGISTRY_KEY_NOT_REGISTERED: 'safety',
  /** The version is already published; a published version is never replaced (409, exit 3). */
  E_REGISTRY_VERSION_EXISTS: 'safety',
  /** A download whose bytes do not match the integrity the registry published (exit 3). */
  E_REGISTRY_INTEGRITY: 'safety',
  /** Too many requests; retry after the time the registry gives (429, exit 1). */
  E_REGISTRY_RATE_LIMITED: 'failure',
  /** The registry cannot be reached or answered with a server error (exit 1). */
  E_REGISTRY_UNAVAILABLE: 'failure',
  /** The registry answered with something that is not what its API promises (exit 1). */
  E_REGISTRY_RESPONSE: 'failure',
  /** The registry could not store or read a blob or a row (500, exit 1). */
  E_REGISTRY_STORAGE: 'failure',
} as const satisfies Record<string, ErrorCategory>;

export type RegistryErrorCode = keyof typeof REGISTRY_CODES;

/**
 * A registry request that was refused or failed, on the server or in a client.
 *
 * @example
 * throw new RegistryError('E_REGISTRY_VERSION_EXISTS', 'sample@1.0.0 is already published; a published version is never replaced');
 */
export class RegistryError extends CmpkgError {
  constructor(code: RegistryErrorCode, message: string, options?: CmpkgErrorOptions) {
    super(code, REGISTRY_CODES[code], message, options);
  }
}

// ---------------------------------------------------------------- safety (exit 3)

/** An applied migration's file no longer matches the checksum recorded when it was applied. */
export class DriftError extends CmpkgError {
  constructor(message: string, options?: CmpkgErrorOptions) {
    super('E_DRIFT', 'safety', message, options);
  }
}

/** The migration lock could not be taken in time; `details.holder` names who holds it, if known. */
export class LockTimeoutError extends CmpkgError {
  constructor(message: string, options?: CmpkgErrorOptions) {
    super('E_LOCK_TIMEOUT', 'safety', message, options);
  }
}

/** A rollback that would need `--force`: no down steps, or steps marked `rollbackSupported: false`. */
export class RollbackRefusedError extends CmpkgError {
  constructor(message: string, options?: CmpkgErrorOptions) {
    super('E_ROLLBACK_REFUSED', 'safety', message, options);
  }
}

/** A backup is required by the plan but the dialect or the database cannot make one. */
export class BackupRequiredError extends CmpkgError {
  constructor(message: string, options?: CmpkgErrorOptions) {
    super('E_BACKUP_REQUIRED', 'safety', message, options);
  }
}

// ---------------------------------------------------------------- failure (exit 1)

/** Connecting to the database failed (host, port and reason in the message). */
export class ConnectionError extends CmpkgError {
  constructor(message: string, options?: CmpkgErrorOptions) {
    super('E_CONNECTION', 'failure', message, options);
  }
}

/** A step of a migration failed while running. `details` names migration, step and statement. */
export class MigrationFailedError extends CmpkgError {
  constructor(
    code: 'E_STEP_FAILED' | 'E_STEP_TIMEOUT' | 'E_VALIDATION_FAILED' | 'E_EXPECTED_CHANGES',
    message: string,
    options?: CmpkgErrorOptions,
  ) {
    super(code, 'failure', message, options);
  }
}

/** Anything unexpected that escaped a driver; wrapped so the CLI can still print one clean line. */
export class InternalError extends CmpkgError {
  constructor(message: string, options?: CmpkgErrorOptions) {
    super('E_INTERNAL', 'failure', message, options);
  }
}

/** True when `err` is a cmpkg error (works across duplicated module copies, unlike `instanceof`). */
export function isCmpkgError(err: unknown): err is CmpkgError {
  return (
    err instanceof CmpkgError ||
    (typeof err === 'object' &&
      err !== null &&
      typeof (err as { code?: unknown }).code === 'string' &&
      typeof (err as { category?: unknown }).category === 'string')
  );
}

/**
 * `err` as a cmpkg error: itself when it is one, otherwise wrapped in an {@link InternalError}
 * with its message and `err` as the `cause`. For places that must report whatever was thrown.
 *
 * @example
 * try { await run(); } catch (err) { const error = asCmpkgError(err); console.error(error.code, error.message); }
 */
export function asCmpkgError(err: unknown): CmpkgError {
  return isCmpkgError(err)
    ? err
    : new InternalError(err instanceof Error ? err.message : String(err), { cause: err });
}
