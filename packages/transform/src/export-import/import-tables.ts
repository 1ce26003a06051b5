import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, extname, join } from 'node:path';
import {
  atomically,
  type BulkColumn,
  DataTransferError,
  decodeJsonValue,
  type PortableValue,
  type TableSnapshot,
  UsageError,
} from '@cmpkg/core';
import { isRowError, RowError, runBatchLoop } from '../batch-loop.js';
import { orderByForeignKeys } from '../copy/table-order.js';
import type { DatabaseHandle } from '../database-handle.js';
import type { ProgressEvent } from '../progress.js';
import { RejectLog } from '../reject-log.js';
import { EXPORT_FORMAT, EXPORT_MANIFEST, type ExportManifest } from './export-tables.js';
import { type NdjsonLine, readNdjsonLines } from './ndjson.js';

/**
 * Options of {@link importTables}.
 *
 * @example
 * const options: ImportOptions = { db, input: './export', mode: 'merge', skipErrors: true, rejectFile: 'rejects.ndjson' };
 */
export interface ImportOptions {
  db: DatabaseHandle;
  /** An `.ndjson` file, or a directory written by `exportTables` (or holding `.ndjson` files). */
  input: string;
  /** The table a single file goes into; default: the file name without `.ndjson`. */
  table?: string;
  /**
   * `insert` (default): a row whose key exists is an error. `merge`: such a row updates the
   * existing one (by primary key). `replace`: the table's rows are deleted first (same transaction).
   */
  mode?: 'insert' | 'merge' | 'replace';
  batchSize?: number;
  /** Write the good rows and list the bad ones in `rejectFile`, instead of importing nothing. */
  skipErrors?: boolean;
  /** NDJSON `{ file, line, error, row }` per rejected row; written only with `skipErrors` or `validateOnly`. */
  rejectFile?: string;
  /** Check every row (decoding and constraints, inside a transaction that is rolled back); write nothing. */
  validateOnly?: boolean;
  onProgress?: (event: ProgressEvent) => void;
  signal?: AbortSignal;
}

/**
 * One imported file.
 *
 * @example
 * const t: ImportTableReport = { table: 'users', file: 'users.ndjson', rows: 10, written: 9, rejected: 1 };
 */
export interface ImportTableReport {
  table: string;
  file: string;
  /** Rows (non-blank lines) read. */
  rows: number;
  written: number;
  rejected: number;
}

/**
 * A row that was (or, under `validateOnly`, would be) rejected.
 *
 * @example
 * const p: ImportProblem = { file: 'users.ndjson', line: 4, error: 'unknown field "emali"' };
 */
export interface ImportProblem {
  file: string;
  line: number;
  error: string;
}

/**
 * What {@link importTables} did.
 *
 * @example
 * if (report.rejected > 0) console.error(`${report.rejected} rows rejected, see ${report.rejectFile}`);
 */
export interface ImportReport {
  input: string;
  mode: 'insert' | 'merge' | 'replace';
  tables: ImportTableReport[];
  rows: number;
  written: number;
  rejected: number;
  validateOnly: boolean;
  /** The first {@link MAX_PROBLEMS} rejected rows. */
  problems: ImportProblem[];
  rejectFile?: string;
  durationMs: number;
}

/**
 * How many problems a report lists; the reject file has them all.
 *
 * @example
 * if (report.rejected > MAX_PROBLEMS) console.log(`first ${MAX_PROBLEMS} shown; see ${report.rejectFile}`);
 */
export const MAX_PROBLEMS = 100;

interface ImportFile {
  table: string;
  path: string;
  /** The name messages use (relative to the input directory). */
  label: string;
  /** From export.json: the columns written and the checksum and row count to expect. */
  columns?: BulkColumn[];
  sha256?: string;
  rows?: number;
}

/**
 * Imports NDJSON files (from {@link exportTables}, or written by hand) into existing tables. Values
 * are decoded with the target table's introspected types (`decodeJsonValue`); a field the table does
 * not have is an error naming `file:line` and the field. Tables are written parents first (foreign
 * key order), all in one transaction: any bad row imports nothing — unless `skipErrors`, where bad
 * rows go to the reject file and the rest commits. A directory's `export.json` checksums are checked
 * first. Fields missing from a row are written as NULL.
 *
 * Called while the connection is in a transaction (an install that imports inside its own), the
 * import runs in a savepoint of it instead: it commits nothing, a failure undoes only the import,
 * and the caller's COMMIT or ROLLBACK decides. Auto-increment columns are synchronised after the
 * rows are written (after the COMMIT, or inside the caller's transaction).
 *
 * @example
 * const report = await importTables({ db, input: './export', mode: 'replace' });
 */
export async function importTables(options: ImportOptions): Promise<ImportReport> {
  const started = performance.now();
  const { db, signal } = options;
  const mode = options.mode ?? 'insert';
  if (!['insert', 'merge', 'replace'].includes(mode)) {
    throw new UsageError(`import: unknown mode "${mode}"; expected insert, merge or replace`);
  }
  const batchSize = options.batchSize ?? 10_000;
  const validateOnly = options.validateOnly === true;
  const collectErrors = options.skipErrors === true || validateOnly;
  const files = await listInput(options);
  const snapshot = await db.dialect.introspect(db.connection, {
    tables: [...new Set(files.map((f) => f.table))],
  });
  const byName = new Map(snapshot.tables.map((t) => [t.name, t]));
  for (const f of files) {
    if (!byName.has(f.table)) {
      throw new DataTransferError(
        'E_MAPPING',
        `${f.label}: no table "${f.table}" in ${db.connection.displayUrl}`,
        {
          details: { file: f.label, table: f.table },
        },
      );
    }
    if (mode === 'merge' && !byName.get(f.table)?.primaryKey?.columns.length) {
      throw new DataTransferError(
        'E_MAPPING',
        `${f.label}: merge needs a primary key, and table ${f.table} has none`,
        {
          details: { file: f.label, table: f.table },
        },
      );
    }
  }
  const order = orderByForeignKeys(
    files.map((f) => ({ name: f.table, foreignKeys: byName.get(f.table)!.foreignKeys, f })),
  );

  const rejectTemp = join(
    options.rejectFile ? dirname(options.rejectFile) : tmpdir(),
    `.cmpkg-rejects.${process.pid}.${randomBytes(4).toString('hex')}.tmp`,
  );
  const rejects = collectErrors ? await RejectLog.open(rejectTemp) : undefined;
  const reports: ImportTableReport[] = [];
  const conn = db.connection;
  try {
    // One transaction, or a savepoint of the caller's (which then decides): any bad row imports nothing.
    try {
      await atomically(conn, 'cmpkg_import', async () => {
        if (mode === 'replace') {
          // Children first, so no foreign key blocks a delete.
          for (const { name } of [...order].reverse()) {
            try {
              await conn.execute(`DELETE FROM ${db.dialect.quoteIdentifier(name)}`);
            } catch (err) {
              if (!isRowError(db.dialect, err)) throw err;
              throw new DataTransferError(
                'E_DATA',
                `replace: the rows of ${name} cannot be deleted, other tables reference them (import those tables in the same run): ${(err as Error).message}`,
                { cause: err, details: { table: name } },
              );
            }
          }
        }
        for (const { f } of order) {
          signal?.throwIfAborted();
          reports.push(await importFile(db, f, byName.get(f.table)!, mode, batchSize, rejects, options));
        }
        // A validation run writes every row to find the bad ones, then undoes them all.
        if (validateOnly) throw VALIDATED;
      });
    } catch (err) {
      if (err !== VALIDATED) throw err;
    }
    if (!validateOnly) {
      for (const { f } of order) {
        for (const c of byName.get(f.table)!.columns) {
          if (c.autoIncrement) await db.dialect.syncAutoIncrement(conn, f.table, c.name);
        }
      }
    }
    if (rejects) await rejects.flush();
    const problems = rejects ? await readProblems(rejectTemp) : [];
    // Without skipErrors/validateOnly nothing is rejected (a bad row fails the import): no file.
    const rejectFile = rejects ? options.rejectFile : undefined;
    if (rejectFile) await rename(rejectTemp, rejectFile);
    else await rm(rejectTemp, { force: true });
    const sum = (k: 'rows' | 'written' | 'rejected') => reports.reduce((n, r) => n + r[k], 0);
    return {
      input: options.input,
      mode,
      tables: reports,
      rows: sum('rows'),
      written: validateOnly ? 0 : sum('written'),
      rejected: sum('rejected'),
      validateOnly,
      problems,
      ...(rejectFile ? { rejectFile } : {}),
      durationMs: Math.round(performance.now() - started),
    };
  } catch (err) {
    await rejects?.discard();
    await rm(rejectTemp, { force: true });
    throw err;
  }
}

/** Thrown through `atomically` to roll a validation run back; never escapes `importTables`. */
const VALIDATED: unique symbol = Symbol('validated');

async function importFile(
  db: DatabaseHandle,
  f: ImportFile,
  table: TableSnapshot,
  mode: 'insert' | 'merge' | 'replace',
  batchSize: number,
  rejects: RejectLog | undefined,
  options: ImportOptions,
): Promise<ImportTableReport> {
  const tableColumns = new Map(table.columns.map((c) => [c.name, c]));
  for (const c of f.columns ?? []) {
    if (!tableColumns.has(c.name)) {
      throw new DataTransferError(
        'E_DATA',
        `${f.label}: column "${c.name}" (listed in ${EXPORT_MANIFEST}) is not in table ${f.table}`,
        { details: { file: f.label, table: f.table, field: c.name } },
      );
    }
  }
  // The target's types decide how values are read, whatever types the export recorded.
  const columns: BulkColumn[] = (f.columns ?? table.columns).map((c) => ({
    name: c.name,
    type: tableColumns.get(c.name)?.type ?? 'text',
  }));
  const index = new Map(columns.map((c, i) => [c.name, i]));
  const unknownField = (field: string) =>
    index.has(field)
      ? undefined
      : `unknown field "${field}": table ${f.table} has no column "${field}" (it has ${table.columns.map((c) => c.name).join(', ')})`;
  const result = await runBatchLoop<NdjsonLine>({
    db,
    name: f.table,
    targets: [
      {
        table: f.table,
        columns,
        mode: mode === 'merge' ? 'merge' : 'insert',
        ...(mode === 'merge' ? { key: table.primaryKey?.columns ?? [] } : {}),
      },
    ],
    input: batches(readNdjsonLines(f.path, options.signal), batchSize),
    mapRow: (line) => {
      let row: unknown;
      try {
        row = JSON.parse(line.text);
      } catch (err) {
        throw new RowError(`invalid JSON (${(err as Error).message})`, { cause: err });
      }
      if (typeof row !== 'object' || row === null || Array.isArray(row)) {
        throw new RowError('expected one JSON object per line (a row)');
      }
      const values: PortableValue[] = new Array(columns.length).fill(null);
      for (const [field, json] of Object.entries(row)) {
        const problem = unknownField(field);
        if (problem) throw new RowError(problem, { field });
        const i = index.get(field)!;
        try {
          values[i] = decodeJsonValue(columns[i]!.type, json);
        } catch (err) {
          throw new RowError(`field "${field}": ${(err as Error).message}`, { field, cause: err });
        }
      }
      return [values];
    },
    describeRow: (line) => `${f.label}:${line.line}`,
    rejectRecord: (line, error) => ({
      file: f.label,
      line: line.line,
      error: error.message,
      row: parseOrText(line.text),
    }),
    onError: rejects ? 'reject' : 'abort',
    ...(rejects ? { rejects } : {}),
    phase: 'import',
    ...(f.rows !== undefined ? { totalRows: f.rows } : {}),
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  });
  return {
    table: f.table,
    file: f.label,
    rows: result.rowsRead,
    written: result.rowsWritten,
    rejected: result.rowsRejected,
  };
}

function parseOrText(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

async function* batches(
  lines: AsyncIterable<NdjsonLine>,
  size: number,
): AsyncGenerator<{ rows: NdjsonLine[] }> {
  let rows: NdjsonLine[] = [];
  for await (const line of lines) {
    rows.push(line);
    if (rows.length >= size) {
      yield { rows };
      rows = [];
    }
  }
  if (rows.length > 0) yield { rows };
}

async function readProblems(file: string): Promise<ImportProblem[]> {
  const problems: ImportProblem[] = [];
  for await (const { text } of readNdjsonLines(file)) {
    if (problems.length >= MAX_PROBLEMS) break;
    const entry = JSON.parse(text) as { file: string; line: number; error: string };
    problems.push({ file: entry.file, line: entry.line, error: entry.error });
  }
  return problems;
}

async function fileSha256(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** The files of the input: one file, an export directory (its export.json), or a directory of `.ndjson` files. */
async function listInput(options: ImportOptions): Promise<ImportFile[]> {
  const { input } = options;
  let info: Awaited<ReturnType<typeof stat>>;
  try {
    info = await stat(input);
  } catch (err) {
    throw new UsageError(`import: cannot read ${input}: ${(err as Error).message}`, { cause: err });
  }
  if (!info.isDirectory()) {
    const table = options.table ?? basename(input, extname(input));
    return [{ table, path: input, label: basename(input) }];
  }
  if (options.table !== undefined)
    throw new UsageError('import: --table is for a single file, not a directory');
  const manifestPath = join(input, EXPORT_MANIFEST);
  let manifestText: string | undefined;
  try {
    manifestText = await readFile(manifestPath, 'utf8');
  } catch {
    manifestText = undefined;
  }
  if (manifestText === undefined) {
    const names = (await readdir(input)).filter((n) => n.toLowerCase().endsWith('.ndjson')).sort();
    if (names.length === 0)
      throw new UsageError(`import: ${input} has no .ndjson files and no ${EXPORT_MANIFEST}`);
    return names.map((n) => ({ table: basename(n, extname(n)), path: join(input, n), label: n }));
  }
  const manifest = parseManifest(manifestText, manifestPath);
  const files: ImportFile[] = [];
  for (const t of manifest.tables) {
    const path = join(input, t.file);
    const actual = await fileSha256(path).catch((err: Error) => {
      throw new DataTransferError(
        'E_DATA',
        `${t.file}: listed in ${EXPORT_MANIFEST} but cannot be read: ${err.message}`,
        {
          details: { file: t.file },
        },
      );
    });
    if (actual !== t.sha256) {
      throw new DataTransferError(
        'E_DATA',
        `${t.file}: its SHA-256 (${actual}) differs from ${EXPORT_MANIFEST} (${t.sha256}); the file changed after the export`,
        { details: { file: t.file, expected: t.sha256, actual } },
      );
    }
    files.push({ table: t.table, path, label: t.file, columns: t.columns, sha256: t.sha256, rows: t.rows });
  }
  return files;
}

function parseManifest(text: string, path: string): ExportManifest {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new DataTransferError('E_DATA', `${path}: invalid JSON (${(err as Error).message})`, {
      details: { file: path },
    });
  }
  const m = json as Partial<ExportManifest>;
  const bad = (field: string, what: string) =>
    new DataTransferError('E_DATA', `${path} field "${field}": ${what}`, { details: { file: path, field } });
  if (m?.format !== EXPORT_FORMAT) throw bad('format', `expected "${EXPORT_FORMAT}"`);
  if (!Array.isArray(m.tables)) throw bad('tables', 'expected an array');
  m.tables.forEach((t, i) => {
    if (typeof t?.table !== 'string' || typeof t.file !== 'string' || typeof t.sha256 !== 'string') {
      throw bad(`tables[${i}]`, 'expected { table, file, rows, columns, sha256 }');
    }
    if (basename(t.file) !== t.file)
      throw bad(`tables[${i}].file`, 'must be a file name inside the export directory');
    if (!Array.isArray(t.columns)) throw bad(`tables[${i}].columns`, 'expected an array of { name, type }');
  });
  return m as ExportManifest;
}
