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
  | 'E_TRANSFORM_UNAVAILABLE';

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
