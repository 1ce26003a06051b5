import type { BulkColumn, BulkWriter, Dialect, PortableValue } from '@cmpkg/core';
import { atomically, DataTransferError, ValueDecodeError } from '@cmpkg/core';
import type { CheckpointStore } from './checkpoint-store.js';
import type { DatabaseHandle } from './database-handle.js';
import { type ProgressEvent, ProgressTracker } from './progress.js';
import type { RejectLog } from './reject-log.js';
import type { ReadBatch } from './table-reader.js';
import { createUpdateWriter } from './update-writer.js';

/**
 * A table the loop writes, through one `Dialect.bulkWriter`.
 *
 * @example
 * const target: BatchTarget = { table: 'users', columns: [{ name: 'id', type: 'bigint' }], mode: 'merge', key: ['id'] };
 */
export interface BatchTarget {
  table: string;
  columns: readonly BulkColumn[];
  /**
   * `insert` (default), `merge` (upsert on `key`), or `update` (existing rows by `key`, which must
   * be among `columns`; the other columns are set).
   */
  mode?: 'insert' | 'merge' | 'update';
  key?: readonly string[];
}

/**
 * One input row's values per target (index = target index); `null`/`undefined` writes nothing to
 * that target.
 *
 * @example
 * const mapped: MappedRow = [[1, 'Ada'], null]; // a row for the first target only
 */
export type MappedRow = readonly (readonly PortableValue[] | null | undefined)[];

/**
 * A row that cannot be written (a failed validation rule, a value that does not fit): thrown by a
 * `mapRow` callback, it sends the row to the reject log, or stops the run with `E_DATA` under the
 * `abort` policy. Any other error thrown by `mapRow` stops the run as it is.
 *
 * @example
 * throw new RowError('email: not an email address', { field: 'email', rule: 'email' });
 */
export class RowError extends Error {
  readonly field: string | undefined;
  readonly rule: string | undefined;
  constructor(message: string, info: { field?: string; rule?: string; cause?: unknown } = {}) {
    super(message, info.cause === undefined ? undefined : { cause: info.cause });
    this.name = 'RowError';
    this.field = info.field;
    this.rule = info.rule;
  }
}

/**
 * A batch of input rows and, for checkpoints, the key of its last row.
 *
 * @example
 * const batch: InputBatch<PortableValue[]> = { rows: [[1, 'a']], lastKey: [1] };
 */
export interface InputBatch<T> {
  rows: readonly T[];
  lastKey?: readonly PortableValue[] | null;
}

/**
 * Options of {@link runBatchLoop}.
 *
 * @example
 * const options: BatchLoopOptions<PortableValue[]> = {
 *   db: target, name: 'users', targets: [{ table: 'users', columns }],
 *   input: readTable(source, { table: 'users', columns, key: ['id'], batchSize: 1000 }),
 *   mapRow: (row) => [row], describeRow: (row) => `id=${row[0]}`,
 * };
 */
export interface BatchLoopOptions<T, B extends InputBatch<T> = InputBatch<T>> {
  /** The database written to. */
  db: DatabaseHandle;
  /** What is being processed, for messages, progress and the checkpoint (usually the source table). */
  name: string;
  targets: readonly BatchTarget[];
  input: AsyncIterable<B>;
  /**
   * Maps one input row (`index` in its `batch`, for data that travels beside the rows such as
   * {@link ReadBatch} `extras`); `null` skips it. Throw {@link RowError} for a bad row.
   */
  mapRow: (row: T, index: number, batch: B) => MappedRow | null;
  /** The row's key or place (`id=5`, `users.ndjson:12`) for messages and the reject log. */
  describeRow: (row: T) => string;
  /** The reject log entry of a row; default `{ table, key, error, field?, rule? }`. */
  rejectRecord?: (row: T, error: Error, description: string) => Record<string, unknown>;
  /** `abort` (default): the first bad row stops the run with `E_DATA`. `reject`: bad rows go to `rejects`. */
  onError?: 'abort' | 'reject';
  rejects?: RejectLog;
  /** Save the last key after every batch (in the batch's transaction) and `done` at the end. */
  checkpoint?: { store: CheckpointStore; jobId: string; rowsDone?: number };
  phase?: ProgressEvent['phase'];
  totalRows?: number;
  onProgress?: (event: ProgressEvent) => void;
  signal?: AbortSignal;
  /**
   * Read the next batch while this one is written. Only for a source on another connection than the
   * target (a copy between databases): the read and the write then run at the same time.
   */
  prefetch?: boolean;
}

/**
 * What {@link runBatchLoop} did.
 *
 * @example
 * const { rowsRead, rowsWritten, rowsRejected } = await runBatchLoop(options);
 */
export interface BatchLoopResult {
  /** Input rows of this run (not counting rows of a resumed run's earlier batches). */
  rowsRead: number;
  /** Rows written, summed over the targets. */
  rowsWritten: number;
  rowsRejected: number;
  batches: number;
  lastKey: PortableValue[] | null;
}

/**
 * The one streaming loop of transforms, copies and imports. Per input batch: map every row
 * (outside the transaction), BEGIN (unless the caller holds a transaction), write each target
 * through its bulk writer, save the checkpoint, COMMIT, flush the reject log, emit progress.
 *
 * When a write fails with a row error (a constraint, a value the column cannot hold), the batch is
 * retried row by row (each write is savepoint-atomic) to find the bad rows: under `reject` they go
 * to the reject log and the others are written; under `abort` the transaction is rolled back and
 * `E_DATA` names the target table and the first bad row. Any other error (a lost connection, a
 * custom function that threw) rolls back the batch and is rethrown as it is.
 *
 * @example
 * const result = await runBatchLoop({
 *   db, name: 'users', targets: [{ table: 'users_copy', columns }],
 *   input: readTable(db, { table: 'users', columns, key: ['id'], batchSize: 1000 }),
 *   mapRow: (row) => [row], describeRow: (row) => `id=${row[0]}`,
 * });
 */
export async function runBatchLoop<T, B extends InputBatch<T> = InputBatch<T>>(
  options: BatchLoopOptions<T, B>,
): Promise<BatchLoopResult> {
  const { db, name, targets, mapRow, describeRow, signal, checkpoint, rejects } = options;
  const { dialect, connection: conn } = db;
  const policy = options.onError ?? 'abort';
  if (policy === 'reject' && !rejects) {
    throw new DataTransferError('E_MAPPING', `${name}: the reject policy needs a reject log file`);
  }
  // A caller that holds a transaction on the target (its own `commit: 'end'`, an import, a
  // migration's) keeps it: the loop then runs no BEGIN/COMMIT/ROLLBACK and saves no checkpoints.
  // Otherwise each batch is one transaction with its checkpoint.
  const ownTx = !db.connection.inTransaction;
  const rejectRecord =
    options.rejectRecord ??
    ((_row: T, error: Error, key: string) => ({
      table: name,
      key,
      error: error.message,
      ...(error instanceof RowError && error.field !== undefined ? { field: error.field } : {}),
      ...(error instanceof RowError && error.rule !== undefined ? { rule: error.rule } : {}),
    }));
  const startRows = checkpoint?.rowsDone ?? 0;
  const tracker = new ProgressTracker(options.phase ?? 'transform', name, {
    ...(options.totalRows !== undefined ? { totalRows: options.totalRows } : {}),
  });
  tracker.start(startRows);

  const writers: BulkWriter[] = [];
  const result: BatchLoopResult = { rowsRead: 0, rowsWritten: 0, rowsRejected: 0, batches: 0, lastKey: null };
  let inTx = false;
  try {
    for (const t of targets) {
      writers.push(
        t.mode === 'update'
          ? createUpdateWriter(db, t.table, t.columns, t.key ?? [])
          : await dialect.bulkWriter(conn, t.table, t.columns, {
              mode: t.mode ?? 'insert',
              ...(t.key !== undefined ? { key: t.key } : {}),
            }),
      );
    }
    const batches = options.input[Symbol.asyncIterator]();
    let next: Promise<IteratorResult<B>> | undefined = batches.next();
    for (;;) {
      const step: IteratorResult<B> = await (next ?? batches.next());
      next = undefined;
      if (step.done) break;
      const batch = step.value;
      // SQLite's driver is synchronous: without a turn of the event loop per batch, a run between two
      // SQLite files never lets a signal handler (Ctrl-C), a timer or a progress bar run.
      await new Promise<void>((resolve) => setImmediate(resolve));
      signal?.throwIfAborted();
      const rows = batch.rows;
      // Map outside the transaction: custom functions may be slow, and a bad row under `abort`
      // then stops the run before anything of this batch was written.
      const mapped: (MappedRow | null)[] = new Array(rows.length);
      const perTarget: (readonly PortableValue[])[][] = targets.map(() => []);
      const rejected: Record<string, unknown>[] = [];
      for (let i = 0; i < rows.length; i++) {
        const row = rows[i] as T;
        let m: MappedRow | null;
        try {
          m = mapRow(row, i, batch);
        } catch (err) {
          if (!(err instanceof RowError)) throw err;
          const key = describeRow(row);
          if (policy === 'abort') {
            throw new DataTransferError('E_DATA', `${name}: row ${key}: ${err.message}`, {
              cause: err,
              details: { table: name, key, field: err.field, rule: err.rule },
            });
          }
          rejected.push(rejectRecord(row, err, key));
          m = null;
        }
        mapped[i] = m;
        if (m) {
          for (let j = 0; j < targets.length; j++) {
            const values = m[j];
            if (values) perTarget[j]!.push(values);
          }
        }
      }

      if (ownTx) {
        await conn.execute('BEGIN');
        inTx = true;
      }
      const writing = writeWithIsolation({
        db,
        targets,
        writers,
        rows,
        mapped,
        perTarget,
        policy,
        describeRow,
      });
      if (options.prefetch) {
        // Read the next batch while the server loads this one. The timer lets the write's first
        // chunks reach the socket before a synchronous reader (SQLite) holds the thread.
        next = new Promise<void>((resolve) => setTimeout(resolve, 0)).then(() => batches.next());
        // An abandoned read (the write failed) must not become an unhandled rejection.
        next.catch(() => undefined);
      }
      const outcome = await writing;
      for (const f of outcome.failed) rejected.push(rejectRecord(f.row, f.error, describeRow(f.row)));
      if (rejects) await rejects.stage(rejected);
      const lastKey = batch.lastKey ? [...batch.lastKey] : result.lastKey;
      result.rowsRead += rows.length;
      result.rowsWritten += outcome.written;
      result.rowsRejected += rejected.length;
      result.batches++;
      result.lastKey = lastKey;
      if (ownTx && checkpoint) {
        await checkpoint.store.save(checkpoint.jobId, name, lastKey, startRows + result.rowsRead, 'running');
      }
      if (ownTx) {
        signal?.throwIfAborted();
        await conn.execute('COMMIT');
        inTx = false;
        if (rejects) await rejects.flush();
      }
      options.onProgress?.(tracker.update(startRows + result.rowsRead));
    }
    if (ownTx && checkpoint) {
      await conn.execute('BEGIN');
      inTx = true;
      await checkpoint.store.save(
        checkpoint.jobId,
        name,
        result.lastKey,
        startRows + result.rowsRead,
        'done',
      );
      await conn.execute('COMMIT');
      inTx = false;
    }
    options.onProgress?.(tracker.update(startRows + result.rowsRead, true));
    return result;
  } catch (err) {
    if (inTx) {
      await conn.execute('ROLLBACK').catch(() => undefined);
      if (rejects) await rejects.discard();
    }
    throw err;
  } finally {
    for (const w of writers) await w.close().catch(() => undefined);
  }
}

let savepoints = 0;

interface WriteOutcome<T> {
  written: number;
  failed: { row: T; error: Error }[];
}

/**
 * Writes one batch; on a row error, again row by row to isolate the bad rows. With several targets
 * an input row's writes share a savepoint, so a row is written to all its targets or to none.
 */
async function writeWithIsolation<T>(a: {
  db: DatabaseHandle;
  targets: readonly BatchTarget[];
  writers: readonly BulkWriter[];
  rows: readonly T[];
  mapped: readonly (MappedRow | null)[];
  perTarget: readonly (readonly PortableValue[])[][];
  policy: 'abort' | 'reject';
  describeRow: (row: T) => string;
}): Promise<WriteOutcome<T>> {
  const { db, targets, writers, perTarget } = a;
  const conn = db.connection;
  // Each writer's write is atomic on its own; several targets share one savepoint so an input row
  // lands in all of them or in none.
  const savepoint = `cmpkg_batch_${++savepoints}`;
  const together = <R>(work: () => Promise<R>): Promise<R> =>
    targets.length > 1 ? atomically(conn, savepoint, work) : work();
  try {
    const written = await together(async () => {
      let n = 0;
      for (let j = 0; j < targets.length; j++) {
        const rows = perTarget[j]!;
        if (rows.length > 0) n += await writers[j]!.write(rows);
      }
      return n;
    });
    return { written, failed: [] };
  } catch (err) {
    if (!isRowError(db.dialect, err)) throw err;
  }
  const outcome: WriteOutcome<T> = { written: 0, failed: [] };
  for (let i = 0; i < a.rows.length; i++) {
    const m = a.mapped[i];
    if (!m) continue;
    const row = a.rows[i] as T;
    let j = 0;
    try {
      outcome.written += await together(async () => {
        let n = 0;
        for (j = 0; j < targets.length; j++) {
          const values = m[j];
          if (values) n += await writers[j]!.write([values]);
        }
        return n;
      });
    } catch (err) {
      if (!isRowError(db.dialect, err)) throw err;
      const table = targets[j]?.table ?? targets[0]!.table;
      const message = (err as Error).message;
      if (a.policy === 'abort') {
        const key = a.describeRow(row);
        throw new DataTransferError('E_DATA', `table ${table}: row ${key} cannot be written: ${message}`, {
          cause: err,
          details: { table, key, errorClass: db.dialect.classifyError(err) },
        });
      }
      outcome.failed.push({ row, error: err instanceof Error ? err : new Error(message) });
    }
  }
  return outcome;
}

/**
 * True when a failed write is the fault of its rows (a constraint, a value the column cannot hold),
 * so retrying row by row isolates them; false for everything else (a lost connection, a timeout),
 * which must stop the run instead of rejecting every row. What a driver's error means is the
 * dialect's knowledge: its `classifyError` sorts integrity violations and data exceptions into
 * `constraint`. Besides, cmpkg's own value errors (a {@link RowError}, a `ValueDecodeError`, a
 * writer's `E_DATA` such as NaN for MySQL or a row over `max_allowed_packet`) are row errors.
 *
 * @example
 * if (isRowError(dialect, err)) console.error('bad row');
 */
export function isRowError(dialect: Dialect, err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 4; depth++) {
    if (e instanceof ValueDecodeError || e instanceof RowError) return true;
    if (e instanceof DataTransferError && e.code === 'E_DATA') return true;
    e = e.cause;
  }
  return dialect.classifyError(err) === 'constraint';
}
