import { readFile } from 'node:fs/promises';
import {
  canonicalJson,
  DataTransferError,
  type ForeignKeyDefinition,
  isCmpkgError,
  type PortableType,
  type PortableValue,
  sha256Hex,
  type TableSnapshot,
} from '@cmpkg/core';
import { isRowError, runBatchLoop } from '../batch-loop.js';
import { CHECKPOINT_TABLE, type Checkpoint, CheckpointStore } from '../checkpoint-store.js';
import { ContentChecksum } from '../content-checksum.js';
import type { DatabaseHandle } from '../database-handle.js';
import { type ProgressEvent, ProgressTracker } from '../progress.js';
import type { TransformRegistry } from '../registry.js';
import { chooseKey, type ReadBatch, readTable } from '../table-reader.js';
import { type CopyMapping, mappingError, parseCopyMappingText } from './copy-mapping.js';
import { type CopyPlan, type CopyTablePlan, planCopy } from './copy-plan.js';
import { compileCopyRows, type RowMapper } from './copy-rows.js';
import { type TableVerification, verifyPlan, verifyTable } from './verify-copy.js';

/**
 * Rows per batch (and per commit) of a copy. Measured on 1M rows SQLite → PostgreSQL: 5,000 is as
 * fast as 10,000 or 25,000 and keeps the two batches in flight (one read ahead) small.
 */
const DEFAULT_COPY_BATCH = 5_000;

/**
 * Options of {@link copyDatabase}.
 *
 * @example
 * const options: CopyOptions = { from: { dialect: sqlite, connection: a }, to: { dialect: pg, connection: b }, tables: ['users'] };
 */
export interface CopyOptions {
  from: DatabaseHandle;
  to: DatabaseHandle;
  /**
   * Source tables to copy; default: every table except `cmpkg_*` (plus the history tables, see
   * `history`). An unknown name is `E_USAGE`.
   */
  tables?: string[];
  /**
   * Also copy cmpkg's history tables (`cmpkg_migrations`, `cmpkg_steps`, `cmpkg_executions`,
   * `cmpkg_plugins`, `cmpkg_package_migrations`), so a database moved to another engine keeps its
   * migration history and `cmpkg status` there shows what was applied. Default: true when `tables` is not given.
   */
  history?: boolean;
  mapping?: CopyMapping;
  /** A mapping file (JSON, see {@link parseCopyMapping}); used when `mapping` is not given. */
  mappingFile?: string;
  /** Rows per read, write and commit; default 5 000. */
  batchSize?: number;
  /** Drop existing target tables first. Default: a non-empty existing target table is `E_TARGET_NOT_EMPTY`. */
  replace?: boolean;
  /** Compare row counts and content checksums of every copied table; default true. */
  verify?: boolean;
  /** Names the checkpoints an interrupted copy resumes from; default: derived from from/to/tables/mapping. */
  jobId?: string;
  registry?: TransformRegistry;
  signal?: AbortSignal;
  onProgress?: (event: ProgressEvent) => void;
}

/**
 * What happened to one table.
 *
 * @example
 * const ok = report.tables.every((t: CopyTableReport) => t.verified !== false);
 */
export interface CopyTableReport {
  source: string;
  target: string;
  /** Rows copied (including those of an interrupted earlier run that this one resumed). */
  rows: number;
  sourceRows: number;
  targetRows: number;
  sourceChecksum?: string;
  targetChecksum?: string;
  /** `null` when verification was switched off. */
  verified: boolean | null;
  resumed: boolean;
  durationMs: number;
  rowsPerSecond: number;
  /** Indexes and foreign keys created after the data. */
  indexes: number;
  foreignKeys: number;
  /** `table.column` of every generated key moved past the copied values. */
  sequencesReset: string[];
  warnings: string[];
}

/**
 * What {@link copyDatabase} did.
 *
 * @example
 * console.log(`${report.rows} rows in ${report.durationMs} ms, verified: ${report.verified}`);
 */
export interface CopyReport {
  from: string;
  to: string;
  tables: CopyTableReport[];
  rows: number;
  durationMs: number;
  /** True when every table was verified; false when verification was switched off. */
  verified: boolean;
  jobId: string;
}

/** Job ids of the markers that say which target tables a job created (and so may drop). */
const createdJob = (jobId: string) => `${jobId}:created`;

/**
 * Copies tables between two databases of any engines: introspect the source, check the mapping
 * (before anything is written), create the target tables without indexes or foreign keys, copy the
 * rows in batches (each committed with a checkpoint), create indexes and foreign keys, move
 * generated keys past the copied values, and verify row counts and content checksums.
 *
 * A mapping, data, custom-function or constraint error drops the tables the job created (and empties
 * the existing empty tables it wrote to), so the target is as before. An interruption (the signal,
 * a lost connection, a killed process) keeps the checkpoints: the next `copyDatabase` with the same
 * options (same `jobId`) skips finished tables and continues the others after their last committed
 * row. `replace` drops existing target tables first; those cannot come back on a later error.
 *
 * @example
 * const report = await copyDatabase({
 *   from: { dialect: sqlite, connection: await sqlite.connect('sqlite:./app.db') },
 *   to: { dialect: pg, connection: await pg.connect('postgres://localhost/app') },
 *   mappingFile: 'mapping.json',
 * });
 */
export async function copyDatabase(options: CopyOptions): Promise<CopyReport> {
  const started = performance.now();
  const { from, to, signal } = options;
  const batchSize = options.batchSize ?? DEFAULT_COPY_BATCH;
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new DataTransferError('E_MAPPING', `batch size must be a whole number >= 1, got ${batchSize}`);
  }
  const { plan, mappers, mapping } = await planAndPrepare(options);
  if (options.verify !== false && to.dialect.engine === 'mysql') {
    // The target side of a verification is read in key order, and MySQL has no row address to
    // page by: refuse now rather than after copying every row.
    const keyless = plan.tables.find((t) => targetKey(t) === undefined);
    if (keyless) {
      throw new DataTransferError(
        'E_DATA',
        `table ${keyless.source}: its copy ${keyless.target} on mysql would have no primary key or unique not-null key, so it cannot be read back to verify it; add a key to the source table, or copy without verification (verify: false, --no-verify)`,
        { details: { table: keyless.source, target: keyless.target } },
      );
    }
  }
  const jobId =
    options.jobId ??
    `copy-${sha256Hex(
      canonicalJson({
        from: from.connection.displayUrl,
        to: to.connection.displayUrl,
        tables: plan.tables.map((t) => [t.source, t.target]),
        mapping: mapping ?? null,
      }),
    ).slice(0, 32)}`;

  // Target state, all before the first write.
  const before = await to.dialect.introspect(to.connection, { includeHistoryTables: true });
  const checkpointTableExisted = before.tables.some((t) => t.name === CHECKPOINT_TABLE);
  // Opened (created) only after the checks below when it does not exist: a refused copy leaves no trace.
  let store = checkpointTableExisted ? await CheckpointStore.open(to) : undefined;
  const checkpoints = new Map((store ? await store.list(jobId) : []).map((c) => [c.table, c]));
  const created = new Set((store ? await store.list(createdJob(jobId)) : []).map((c) => c.table));
  const resuming = checkpoints.size > 0 || created.size > 0;
  const existing = new Map(before.tables.map((t) => [t.name, t]));
  const toReplace: string[] = [];
  const adopted = new Set<string>();
  for (const t of plan.tables) {
    const table = existing.get(t.target);
    const ours = checkpoints.has(t.target) || created.has(t.target);
    if (!table || ours) continue;
    if (options.replace) {
      toReplace.push(t.target);
      continue;
    }
    if (await hasRows(to, t.target)) {
      throw new DataTransferError(
        'E_TARGET_NOT_EMPTY',
        `target table ${t.target} already holds rows; copy with replace (--replace) to drop it first`,
        { details: { table: t.target } },
      );
    }
    checkColumns(table, t, options.mappingFile);
    adopted.add(t.target);
  }
  for (const t of plan.tables) {
    if (existing.has(t.target) && !created.has(t.target) && checkpoints.has(t.target)) adopted.add(t.target);
  }
  // A table that stays and references one that `replace` drops would block the drop half-way (or,
  // on SQLite, keep a dangling reference): refuse while nothing is dropped yet.
  const dropping = new Set(toReplace);
  for (const table of before.tables) {
    if (dropping.has(table.name)) continue;
    const fk = table.foreignKeys.find((f) => dropping.has(f.referencedTable));
    if (fk) {
      throw new DataTransferError(
        'E_TARGET_NOT_EMPTY',
        `cannot replace target table ${fk.referencedTable}: table ${table.name}, which is not copied, references it (foreign key ${fk.name ?? fk.columns.join(', ')}); copy ${table.name} too or drop that foreign key first`,
        { details: { table: fk.referencedTable, referencedBy: table.name } },
      );
    }
  }

  store ??= await CheckpointStore.open(to);
  const reports = new Map<string, CopyTableReport>();
  const checksums = new Map<string, ContentChecksum>();
  const sqliteTarget = to.dialect.engine === 'sqlite';
  const foreignKeysWere = sqliteTarget ? await sqliteForeignKeys(to) : undefined;
  try {
    // Children before parents: a parent referenced by a foreign key cannot be dropped first.
    for (const name of [...toReplace].reverse()) await runDdl(to, { kind: 'dropTable', table: name });
    // SQLite takes foreign keys only in CREATE TABLE; enforcement is off while rows arrive in key order.
    if (sqliteTarget) await to.connection.execute('PRAGMA foreign_keys = OFF');
    for (const t of plan.tables) {
      if (adopted.has(t.target) || (existing.has(t.target) && !toReplace.includes(t.target))) continue;
      // Marked before it exists: a crash in between leaves a marker for a missing table, never an
      // unmarked table of ours that a later cleanup would not drop.
      await store.save(createdJob(jobId), t.target, null, 0, 'done');
      created.add(t.target);
      const definition = sqliteTarget ? { ...t.definition, foreignKeys: t.foreignKeys } : t.definition;
      await runDdl(to, { kind: 'createTable', table: definition });
    }

    for (const t of plan.tables) {
      signal?.throwIfAborted();
      const copied = await copyTable(options, t, store, jobId, checkpoints.get(t.target), batchSize, mappers);
      reports.set(t.target, copied.report);
      if (copied.checksum) checksums.set(t.target, copied.checksum);
    }

    for (const t of plan.tables) {
      const report = reports.get(t.target)!;
      if (created.has(t.target)) {
        const made = await createIndexesAndKeys(to, t, sqliteTarget);
        report.indexes = made.indexes;
        report.foreignKeys = made.foreignKeys;
        options.onProgress?.(new ProgressTracker('indexes', t.target).update(report.rows, true));
      }
      for (const column of t.autoIncrement) {
        await to.dialect.syncAutoIncrement(to.connection, t.target, column);
        report.sequencesReset.push(`${t.target}.${column}`);
      }
    }
    if (sqliteTarget) await sqliteForeignKeyCheck(to, plan);

    if (options.verify !== false) {
      for (const t of plan.tables) {
        signal?.throwIfAborted();
        const report = reports.get(t.target)!;
        const outcome = await verifyTable({
          from,
          to,
          plan: t,
          mapper: mappers.get(t.source)!,
          sourceChecksum: checksums.get(t.target),
          batchSize,
          ...(signal ? { signal } : {}),
          ...(options.onProgress ? { onProgress: options.onProgress } : {}),
        });
        Object.assign(report, outcome);
      }
    } else {
      for (const report of reports.values()) report.verified = null;
    }

    await clearJob(to, store, jobId);
    if (!checkpointTableExisted || resuming) await dropCheckpointsIfEmpty(to);
  } catch (err) {
    if (!isInterruption(err, options, [from, to])) {
      await cleanUp(to, plan, created, adopted, store, jobId, !checkpointTableExisted || resuming).catch(
        () => undefined,
      );
    }
    throw err;
  } finally {
    if (foreignKeysWere !== undefined) {
      await to.connection
        .execute(`PRAGMA foreign_keys = ${foreignKeysWere ? 'ON' : 'OFF'}`)
        .catch(() => undefined);
    }
  }

  const tables = plan.tables.map((t) => reports.get(t.target)!);
  return {
    from: from.connection.displayUrl,
    to: to.connection.displayUrl,
    tables,
    rows: tables.reduce((n, t) => n + t.rows, 0),
    durationMs: Math.round(performance.now() - started),
    verified: options.verify !== false && tables.every((t) => t.verified === true),
    jobId,
  };
}

/**
 * What `copyDatabase` and `verifyCopy` both start with: the source introspected, the copy planned
 * (every table, column and mapping checked) and the row mappers compiled.
 */
async function planAndPrepare(
  options: VerifyCopyOptions,
): Promise<{ plan: CopyPlan; mappers: Map<string, RowMapper>; mapping: CopyMapping | undefined }> {
  const { from, to } = options;
  const mapping =
    options.mapping ?? (options.mappingFile ? await readMappingFile(options.mappingFile) : undefined);
  const history = options.history ?? options.tables === undefined;
  const source = await from.dialect.introspect(from.connection, { includeHistoryTables: history });
  const plan = planCopy({
    source,
    target: to.dialect,
    history,
    ...(options.tables ? { tables: options.tables } : {}),
    ...(mapping ? { mapping } : {}),
    ...(options.mappingFile ? { mappingFile: options.mappingFile } : {}),
    chooseKey,
  });
  return { plan, mappers: await prepareSource(from, plan, options), mapping };
}

async function readMappingFile(file: string): Promise<CopyMapping> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw mappingError(file, '', `cannot read the mapping file: ${(err as Error).message}`);
  }
  return parseCopyMappingText(text, file);
}

/**
 * Checks what only the source can tell before anything is written: that every filter and SQL
 * expression runs, that MySQL tables have a key to page by; and compiles the field mappings.
 */
async function prepareSource(
  from: DatabaseHandle,
  plan: CopyPlan,
  options: VerifyCopyOptions,
): Promise<Map<string, RowMapper>> {
  const mappers = new Map<string, RowMapper>();
  const q = (n: string) => from.dialect.quoteIdentifier(n);
  for (const t of plan.tables) {
    if (t.key === undefined && from.dialect.engine === 'mysql') {
      throw new DataTransferError(
        'E_DATA',
        `table ${t.source} has no primary key or unique not-null key; cmpkg pages by key on mysql, so add one (or leave the table out)`,
        { details: { table: t.source } },
      );
    }
    const mapper = compileCopyRows(t, {
      ...(options.registry ? { registry: options.registry } : {}),
      ...(options.mappingFile ? { file: options.mappingFile } : {}),
    });
    mappers.set(t.source, mapper);
    const probes: Array<{ field: string; sql: string }> = [];
    if (t.filter !== undefined) {
      probes.push({
        field: `tables.${t.source}.filter`,
        sql: `SELECT 1 FROM ${q(t.source)} WHERE (${t.filter}) AND 1 = 0`,
      });
    }
    for (const e of mapper.extra) {
      probes.push({ field: e.field, sql: `SELECT (${e.expression}) FROM ${q(t.source)} WHERE 1 = 0` });
    }
    for (const probe of probes) {
      try {
        await from.connection.execute(probe.sql);
      } catch (err) {
        throw mappingError(
          options.mappingFile,
          probe.field,
          `the source cannot run it: ${(err as Error).message}`,
        );
      }
    }
  }
  return mappers;
}

async function copyTable(
  options: CopyOptions,
  t: CopyTablePlan,
  store: CheckpointStore,
  jobId: string,
  checkpoint: Checkpoint | undefined,
  batchSize: number,
  mappers: ReadonlyMap<string, RowMapper>,
): Promise<{ report: CopyTableReport; checksum?: ContentChecksum }> {
  const started = performance.now();
  const { from, to, signal } = options;
  const mapper = mappers.get(t.source)!;
  const report: CopyTableReport = {
    source: t.source,
    target: t.target,
    rows: 0,
    sourceRows: 0,
    targetRows: 0,
    verified: null,
    resumed: checkpoint !== undefined,
    durationMs: 0,
    rowsPerSecond: 0,
    indexes: 0,
    foreignKeys: 0,
    sequencesReset: [],
    warnings: [...t.warnings],
  };
  if (checkpoint?.status === 'done') {
    // Counts as the earlier run wrote them; a verification replaces them with measured ones.
    report.rows = checkpoint.rowsDone;
    report.sourceRows = checkpoint.rowsDone;
    report.targetRows = checkpoint.rowsDone;
    return { report };
  }
  // Re-read with key types, so a resumed read continues after exactly the right key.
  const key = t.key ?? [];
  const keyTypes = key.map((k) => t.readColumns.find((c) => c.name === k)?.type ?? ('text' as PortableType));
  const cp = checkpoint ? await store.get(jobId, t.target, keyTypes) : undefined;
  // The source side of verification, summed while the rows stream by; a copy that is not verified
  // skips the hashing (a third of the client's time).
  const sum = options.verify !== false ? new ContentChecksum() : undefined;
  const types = t.targetColumns.map((c) => c.type);
  const input = readTable(from, {
    table: t.source,
    columns: mapper.readColumns,
    key,
    extra: mapper.extra.map((e) => ({ alias: e.alias, expression: e.expression })),
    ...(t.filter !== undefined ? { where: t.filter } : {}),
    batchSize,
    ...(cp?.lastKey ? { after: cp.lastKey } : {}),
    ...(signal ? { signal } : {}),
  });
  const result = await runBatchLoop<PortableValue[], ReadBatch>({
    db: to,
    name: t.target,
    targets: [{ table: t.target, columns: t.targetColumns }],
    input,
    mapRow: (row, index, batch) => {
      const values = mapper.map(row, batch.extras[index] ?? []);
      sum?.add(types, values);
      return [values];
    },
    describeRow: (row) => mapper.describeRow(row),
    checkpoint: { store, jobId, rowsDone: cp?.rowsDone ?? 0 },
    phase: 'copy',
    prefetch: from.connection !== to.connection,
    ...(t.filter === undefined ? { totalRows: t.estimatedRows } : {}),
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    ...(signal ? { signal } : {}),
  });
  report.rows = (cp?.rowsDone ?? 0) + result.rowsRead;
  report.sourceRows = report.rows;
  report.targetRows = report.rows;
  report.durationMs = Math.round(performance.now() - started);
  report.rowsPerSecond =
    report.durationMs > 0 ? Math.round((result.rowsRead * 1000) / report.durationMs) : result.rowsRead;
  // A resumed table's earlier rows were not seen by this run: its checksum is recomputed when verified.
  return report.resumed || !sum ? { report } : { report, checksum: sum };
}

async function runDdl(
  db: DatabaseHandle,
  change: Parameters<DatabaseHandle['dialect']['renderDdl']>[0],
): Promise<void> {
  for (const sql of db.dialect.renderDdl(change)) await db.connection.execute(sql);
}

async function hasRows(db: DatabaseHandle, table: string): Promise<boolean> {
  const { rows } = await db.connection.execute(
    `SELECT 1 AS x FROM ${db.dialect.quoteIdentifier(table)} LIMIT 1`,
  );
  return rows.length > 0;
}

/** An existing empty target table takes the rows only if it has every column the copy writes. */
function checkColumns(table: TableSnapshot, t: CopyTablePlan, file: string | undefined): void {
  const have = new Set(table.columns.map((c) => c.name));
  const missing = t.targetColumns.filter((c) => !have.has(c.name)).map((c) => c.name);
  if (missing.length > 0) {
    throw mappingError(
      file,
      `tables.${t.source}`,
      `the existing target table ${t.target} has no column(s) ${missing.join(', ')}; copy with replace (--replace) to recreate it`,
    );
  }
}

/** Creates the indexes and foreign keys the target table does not have yet (a resumed run may have made some). */
async function createIndexesAndKeys(
  to: DatabaseHandle,
  t: CopyTablePlan,
  sqliteTarget: boolean,
): Promise<{ indexes: number; foreignKeys: number }> {
  const snapshot = await to.dialect.introspect(to.connection, { tables: [t.target] });
  const current = snapshot.tables.find((s) => s.name === t.target);
  const indexNames = new Set((current?.indexes ?? []).map((i) => i.name.toLowerCase()));
  let indexes = 0;
  for (const index of t.indexes) {
    if (!indexNames.has(index.name.toLowerCase())) {
      await constraintAsDataError(to, `table ${t.target}: unique index ${index.name} cannot be created`, () =>
        runDdl(to, { kind: 'createIndex', table: t.target, index }),
      );
    }
    indexes++;
  }
  if (sqliteTarget) return { indexes, foreignKeys: t.foreignKeys.length };
  const same = (a: ForeignKeyDefinition, b: ForeignKeyDefinition) =>
    a.name !== undefined && b.name !== undefined
      ? a.name.toLowerCase() === b.name.toLowerCase()
      : a.referencedTable === b.referencedTable && a.columns.join() === b.columns.join();
  let foreignKeys = 0;
  for (const foreignKey of t.foreignKeys) {
    if (!(current?.foreignKeys ?? []).some((fk) => same(fk, foreignKey))) {
      await constraintAsDataError(
        to,
        `table ${t.target}: foreign key ${foreignKey.name ?? foreignKey.columns.join(', ')} → ${foreignKey.referencedTable} cannot be created (rows reference missing ${foreignKey.referencedTable} rows)`,
        () => runDdl(to, { kind: 'addForeignKey', table: t.target, foreignKey }),
      );
    }
    foreignKeys++;
  }
  return { indexes, foreignKeys };
}

/** The copied rows break a constraint (duplicates for a unique index, orphans for a foreign key): a data error. */
async function constraintAsDataError(
  db: DatabaseHandle,
  message: string,
  run: () => Promise<void>,
): Promise<void> {
  try {
    await run();
  } catch (err) {
    if (!isRowError(db.dialect, err)) throw err;
    throw new DataTransferError('E_DATA', `${message}: ${(err as Error).message}`, { cause: err });
  }
}

async function sqliteForeignKeys(db: DatabaseHandle): Promise<boolean> {
  const { rows } = await db.connection.execute<{ foreign_keys: unknown }>('PRAGMA foreign_keys');
  return Number(rows[0]?.foreign_keys ?? 0) === 1;
}

/** Rows copied while SQLite enforcement was off must still satisfy their foreign keys. */
async function sqliteForeignKeyCheck(to: DatabaseHandle, plan: CopyPlan): Promise<void> {
  for (const t of plan.tables) {
    if (t.foreignKeys.length === 0) continue;
    const { rows } = await to.connection.execute<Record<string, unknown>>(
      `PRAGMA foreign_key_check(${to.dialect.quoteIdentifier(t.target)})`,
    );
    const first = rows[0];
    if (first) {
      throw new DataTransferError(
        'E_DATA',
        `table ${t.target}: ${rows.length} row(s) reference missing rows of ${String(first.parent)} (first at rowid ${String(first.rowid)})`,
        { details: { table: t.target, parent: first.parent, violations: rows.length } },
      );
    }
  }
}

/**
 * Whether an error interrupted the copy (keep the checkpoints to resume) rather than showing that it
 * cannot succeed (undo it).
 */
function isInterruption(err: unknown, options: CopyOptions, dbs: readonly DatabaseHandle[]): boolean {
  if (options.signal?.aborted) return true;
  if (err instanceof Error && err.name === 'AbortError') return true;
  if (isCmpkgError(err)) return err.code === 'E_CONNECTION';
  return dbs.some((db) => {
    const cls = db.dialect.classifyError(err);
    return cls === 'transient' || cls === 'timeout';
  });
}

async function cleanUp(
  to: DatabaseHandle,
  plan: CopyPlan,
  created: ReadonlySet<string>,
  adopted: ReadonlySet<string>,
  store: CheckpointStore,
  jobId: string,
  dropCheckpoints: boolean,
): Promise<void> {
  for (const t of [...plan.tables].reverse()) {
    if (created.has(t.target)) await runDdl(to, { kind: 'dropTable', table: t.target });
    else if (adopted.has(t.target)) {
      await to.connection.execute(`DELETE FROM ${to.dialect.quoteIdentifier(t.target)}`);
    }
  }
  await clearJob(to, store, jobId);
  if (dropCheckpoints) await dropCheckpointsIfEmpty(to);
}

/**
 * Forgets a job's checkpoints and its "created" markers together: a kill in between would leave
 * markers without checkpoints, and the next run would copy the finished tables again (duplicate
 * keys) and then drop them as its own.
 */
async function clearJob(to: DatabaseHandle, store: CheckpointStore, jobId: string): Promise<void> {
  await to.connection.execute('BEGIN');
  try {
    await store.clear(jobId);
    await store.clear(createdJob(jobId));
    await to.connection.execute('COMMIT');
  } catch (err) {
    await to.connection.execute('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

/** The key the target table can be paged by once its indexes exist, if any. */
function targetKey(t: CopyTablePlan): string[] | undefined {
  if (t.definition.primaryKey && t.definition.primaryKey.columns.length > 0)
    return t.definition.primaryKey.columns;
  // chooseKey reads only the key, the columns' nullability and the indexes.
  return chooseKey({ ...t.definition, indexes: t.indexes } as TableSnapshot);
}

/** The checkpoint table this job brought into the target goes again once nothing uses it. */
async function dropCheckpointsIfEmpty(to: DatabaseHandle): Promise<void> {
  if (!(await hasRows(to, CHECKPOINT_TABLE)))
    await runDdl(to, { kind: 'dropTable', table: CHECKPOINT_TABLE });
}

/**
 * Options of {@link verifyCopy}: the copy's own options (the same tables and mapping), without
 * what only a copy uses.
 *
 * @example
 * const options: VerifyCopyOptions = { from, to, tables: ['users'] };
 */
export type VerifyCopyOptions = Omit<CopyOptions, 'replace' | 'verify' | 'jobId'>;

/**
 * Verifies an earlier copy (for example one run with `verify: false`) without copying: plans it
 * exactly as {@link copyDatabase} would, then compares every table's row count and content
 * checksum. Throws `E_VERIFY_FAILED` at the first table that differs; resolves with every table's
 * counts and checksums otherwise.
 *
 * @example
 * await copyDatabase({ from, to, verify: false });
 * const tables = await verifyCopy({ from, to }); // [{ source: 'users', target: 'users', verified: true, ... }]
 */
export async function verifyCopy(
  options: VerifyCopyOptions,
): Promise<Array<{ source: string; target: string } & TableVerification>> {
  const { from, to } = options;
  const batchSize = options.batchSize ?? DEFAULT_COPY_BATCH;
  const { plan, mappers } = await planAndPrepare(options);
  const results = await verifyPlan({
    from,
    to,
    plan,
    mappers,
    batchSize,
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
  });
  return plan.tables.map((t) => ({ source: t.source, target: t.target, ...results.get(t.target)! }));
}
