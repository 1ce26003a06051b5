import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import {
  type BulkColumn,
  DataTransferError,
  decodeValue,
  encodeJsonValue,
  type PortableType,
  parsePortableType,
  type TableSnapshot,
  UsageError,
} from '@cmpkg/core';
import { type DatabaseHandle, placeholder, sqlParam } from '../database-handle.js';
import { type ProgressEvent, ProgressTracker } from '../progress.js';
import { chooseKey, readTable } from '../table-reader.js';
import { openAtomicWriter, type TextSink } from './ndjson.js';

/**
 * The `format` of `export.json`.
 *
 * @example
 * if (manifest.format !== EXPORT_FORMAT) throw new Error('not a cmpkg export');
 */
export const EXPORT_FORMAT = 'cmpkg-export/1';
/**
 * The manifest a directory export writes next to its `.ndjson` files.
 *
 * @example
 * const manifest = JSON.parse(await readFile(join(dir, EXPORT_MANIFEST), 'utf8')) as ExportManifest;
 */
export const EXPORT_MANIFEST = 'export.json';

/**
 * Options of {@link exportTables}.
 *
 * @example
 * const options: ExportOptions = { db, tables: ['orders'], out: './backup', dateColumn: 'created_at', since: '2024-01-01' };
 */
export interface ExportOptions {
  db: DatabaseHandle;
  tables: string[];
  /**
   * A directory (one `<table>.ndjson` per table and an `export.json`), a `.ndjson` file (one table),
   * or `-` for `stream` (one table).
   */
  out: string;
  stream?: Writable;
  /** With `since`/`until`: export rows whose `dateColumn` is >= `since` and < `until`. */
  dateColumn?: string;
  since?: string;
  until?: string;
  /** An SQL condition AND-ed to the date range. */
  where?: string;
  batchSize?: number;
  onProgress?: (event: ProgressEvent) => void;
  signal?: AbortSignal;
}

/**
 * One exported table, as listed in `export.json`.
 *
 * @example
 * const entry: ExportTableReport = { table: 'users', file: 'users.ndjson', rows: 2, columns: [{ name: 'id', type: 'bigint' }], sha256: '…', bytes: 40 };
 */
export interface ExportTableReport {
  table: string;
  /** The file name (relative to the export directory), or the path/`-` given as `out`. */
  file: string;
  rows: number;
  columns: BulkColumn[];
  /** SHA-256 (hex) of the file's bytes. */
  sha256: string;
  bytes: number;
}

/**
 * What {@link exportTables} wrote.
 *
 * @example
 * console.log(`${report.rows} rows into ${report.out}`);
 */
export interface ExportReport {
  out: string;
  tables: ExportTableReport[];
  rows: number;
  /** The `export.json` path of a directory export. */
  manifest?: string;
  warnings: string[];
  durationMs: number;
}

/**
 * The content of `export.json`.
 *
 * @example
 * const manifest = JSON.parse(readFileSync('out/export.json', 'utf8')) as ExportManifest;
 */
export interface ExportManifest {
  format: typeof EXPORT_FORMAT;
  createdAt: string;
  /** The source database (`displayUrl`: no password). */
  source: string;
  tables: Array<{ table: string; file: string; rows: number; columns: BulkColumn[]; sha256: string }>;
}

/**
 * Exports tables as NDJSON: one JSON object per line per row, keys the column names, values as
 * `encodeJsonValue` spells them (exact decimals and times as strings, blobs base64, 64-bit integers
 * beyond 2^53 as strings). Rows are read in key order, a batch at a time. Every file is written to
 * a temporary file, and all are renamed into place only once every one is complete (the manifest
 * last): on any error the temporary files are removed, files of an earlier export in the same
 * directory stay as they were, and a directory the export created is removed.
 *
 * @example
 * await exportTables({ db, tables: ['users', 'orders'], out: './export', where: "status = 'paid'" });
 */
export async function exportTables(options: ExportOptions): Promise<ExportReport> {
  const started = performance.now();
  const { db, out, signal } = options;
  const batchSize = options.batchSize ?? 10_000;
  if (options.tables.length === 0) throw new UsageError('export: name at least one table');
  if ((options.since !== undefined || options.until !== undefined) && options.dateColumn === undefined) {
    throw new UsageError('export: --since/--until need --date-column');
  }
  const single = out === '-' || out.toLowerCase().endsWith('.ndjson');
  if (single && options.tables.length !== 1) {
    throw new UsageError(
      `export: ${out === '-' ? 'standard output' : out} takes one table; write several into a directory`,
    );
  }
  if (out === '-' && !options.stream) throw new UsageError('export: output "-" needs a stream');

  const snapshot = await db.dialect.introspect(db.connection, { tables: options.tables });
  const tables = options.tables.map((name) => {
    const table = snapshot.tables.find((t) => t.name === name);
    if (!table) {
      throw new DataTransferError('E_MAPPING', `no table "${name}" in ${db.connection.displayUrl}`, {
        details: { table: name },
      });
    }
    return table;
  });
  const warnings: string[] = [];
  const plans = tables.map((table) => planExport(db, table, options, warnings));

  // The first directory this export created, removed again if it fails.
  const createdDir = single ? undefined : await mkdir(out, { recursive: true });
  // Every file stays a temporary file until all are complete: a failure half-way must neither
  // leave some tables of this export nor replace files of an earlier export in the same place.
  const sinks: TextSink[] = [];
  const reports: ExportTableReport[] = [];
  try {
    for (const { table, columns, where, params } of plans) {
      const file = single ? out : `${table.name}.ndjson`;
      const path = single ? out : join(out, file);
      const sink = await openAtomicWriter(path, options.stream);
      sinks.push(sink);
      const tracker = new ProgressTracker('export', table.name, { totalRows: table.rowCount });
      tracker.start();
      const names = columns.map((c) => JSON.stringify(c.name));
      let rows = 0;
      for await (const batch of readTable(db, {
        table: table.name,
        columns,
        key: chooseKey(table) ?? [],
        ...(where ? { where, params } : {}),
        batchSize,
        ...(signal ? { signal } : {}),
      })) {
        let text = '';
        for (const row of batch.rows) {
          // Built by hand: faster than an object per row, and a column named __proto__ stays a key.
          text += '{';
          for (let i = 0; i < columns.length; i++) {
            if (i > 0) text += ',';
            text += `${names[i]}:${JSON.stringify(encodeJsonValue(columns[i]!.type, row[i] ?? null))}`;
          }
          text += '}\n';
        }
        await sink.write(text);
        rows += batch.rows.length;
        options.onProgress?.(tracker.update(rows));
      }
      const { sha256, bytes } = await sink.finish();
      options.onProgress?.(tracker.update(rows, true));
      reports.push({ table: table.name, file, rows, columns, sha256, bytes });
    }
    let manifest: string | undefined;
    if (!single) {
      manifest = join(out, EXPORT_MANIFEST);
      const content: ExportManifest = {
        format: EXPORT_FORMAT,
        createdAt: new Date().toISOString(),
        source: db.connection.displayUrl,
        tables: reports.map(({ table, file, rows, columns, sha256 }) => ({
          table,
          file,
          rows,
          columns,
          sha256,
        })),
      };
      const m = await openAtomicWriter(manifest);
      sinks.push(m);
      await m.write(`${JSON.stringify(content, null, 2)}\n`);
    }
    signal?.throwIfAborted();
    // The manifest last: it names files that must already be in place.
    for (const s of sinks) await s.commit();
    return {
      out,
      tables: reports,
      rows: reports.reduce((n, r) => n + r.rows, 0),
      ...(manifest ? { manifest } : {}),
      warnings,
      durationMs: Math.round(performance.now() - started),
    };
  } catch (err) {
    // A failed export leaves nothing: a directory with some tables would pass for a complete one.
    for (const s of sinks) await s.abort();
    if (createdDir !== undefined) await rm(createdDir, { recursive: true, force: true });
    throw err;
  }
}

interface ExportPlan {
  table: TableSnapshot;
  columns: BulkColumn[];
  where?: string;
  params: unknown[];
}

function planExport(
  db: DatabaseHandle,
  table: TableSnapshot,
  options: ExportOptions,
  warnings: string[],
): ExportPlan {
  const engine = db.dialect.engine;
  const columns: BulkColumn[] = table.columns.map((c) => {
    if (c.type !== null) return { name: c.name, type: c.type };
    warnings.push(`${table.name}.${c.name}: ${c.nativeType} has no portable type; exported as text`);
    return { name: c.name, type: 'text' };
  });
  const conditions: string[] = [];
  const params: unknown[] = [];
  if (options.dateColumn !== undefined && (options.since !== undefined || options.until !== undefined)) {
    const column = columns.find((c) => c.name === options.dateColumn);
    if (!column) {
      throw new DataTransferError(
        'E_MAPPING',
        `--date-column: no column "${options.dateColumn}" in table ${table.name}; it has: ${columns.map((c) => c.name).join(', ')}`,
        { details: { table: table.name, column: options.dateColumn } },
      );
    }
    const q = db.dialect.quoteIdentifier(column.name);
    for (const [bound, op] of [
      [options.since, '>='],
      [options.until, '<'],
    ] as const) {
      if (bound === undefined) continue;
      const value = dateBound(bound, column.type, op === '>=' ? '--since' : '--until');
      params.push(engine === 'sqlite' ? value : sqlParam(engine, value, column.type));
      const p = placeholder(engine, params.length);
      // SQLite stores times as text in more than one spelling; julianday() compares them as times.
      conditions.push(engine === 'sqlite' ? `julianday(${q}) ${op} julianday(${p})` : `${q} ${op} ${p}`);
    }
  }
  if (options.where?.trim()) conditions.push(`(${options.where})`);
  return { table, columns, ...(conditions.length > 0 ? { where: conditions.join(' AND ') } : {}), params };
}

/** Columns a date range applies to: times, and text holding ISO times (how SQLite apps often keep them). */
const DATE_KINDS = new Set(['date', 'timestamp', 'timestamptz', 'text', 'varchar']);

function dateBound(text: string, type: PortableType, option: string): string {
  if (!DATE_KINDS.has(parsePortableType(type).kind)) {
    throw new UsageError(`${option}: the date column must be a date or time column, not ${type}`);
  }
  try {
    return String(decodeValue(type, text));
  } catch (err) {
    throw new UsageError(`${option} ${JSON.stringify(text)}: ${(err as Error).message}`);
  }
}
