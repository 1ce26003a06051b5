import type { PortableValue, SchemaSnapshot, TableSnapshot, Transform, ValidationRule } from '@cmpkg/core';
import { atomically, canonicalJson, DataTransferError, sha256Hex, UsageError } from '@cmpkg/core';
import { type BatchTarget, runBatchLoop } from './batch-loop.js';
import { CheckpointStore } from './checkpoint-store.js';
import type { DatabaseHandle } from './database-handle.js';
import { type CompiledMapping, compileMapping, type MappingEntry } from './mapping/compile.js';
import { type ProgressEvent, ProgressTracker } from './progress.js';
import { defaultRegistry, type TransformRegistry } from './registry.js';
import { RejectLog } from './reject-log.js';
import { chooseKey, type ReadBatch, readTable } from './table-reader.js';

/**
 * A transform as written in a migration (`required`, `severity` may be left out).
 *
 * @example
 * const spec: TransformSpec = {
 *   kind: 'convert', source: 'users', target: 'people',
 *   mapping: [{ source: 'id', target: 'id' }, { source: 'email', target: 'mail', transform: { type: 'function', definition: 'lower' } }],
 * };
 */
export type TransformSpec = Omit<Transform, 'mapping' | 'validation'> & {
  mapping: readonly MappingEntry[];
  validation?: readonly (Omit<ValidationRule, 'severity'> & { severity?: 'error' | 'warning' })[];
};

/**
 * Options of {@link runTransform}.
 *
 * @example
 * const options: RunTransformOptions = { source: db, onError: 'reject', rejectFile: 'rejects.ndjson', commit: 'batch', jobId: 'users-v2' };
 */
export interface RunTransformOptions {
  source: DatabaseHandle;
  /** Defaults to `source`. */
  target?: DatabaseHandle;
  registry?: TransformRegistry;
  /** `abort` (default): the first bad row stops the run (E_DATA). `reject`: bad rows go to `rejectFile`. */
  onError?: 'abort' | 'reject';
  rejectFile?: string;
  /**
   * `end` (default): one transaction; any failure leaves the target untouched. `batch`: a commit and
   * a checkpoint per batch; an interrupted run resumes where it stopped when run again with the same `jobId`.
   */
  commit?: 'end' | 'batch';
  /** Key of the checkpoints (`commit: 'batch'`); default: derived from the spec and databases. */
  jobId?: string;
  signal?: AbortSignal;
  onProgress?: (event: ProgressEvent) => void;
  /** Allow the single `INSERT … SELECT` (default true). */
  fastPath?: boolean;
}

/**
 * What a transform did.
 *
 * @example
 * const { rowsWritten, rowsRejected, fastPath } = await runTransform(spec, { source: db });
 */
export interface TransformResult {
  rowsRead: number;
  rowsWritten: number;
  rowsRejected: number;
  /** Rules of severity `warning` that failed, with how many rows failed each. */
  warnings: Array<{ field: string; rule: string; message: string; count: number }>;
  /** True when the whole transform ran as `INSERT … SELECT` / `UPDATE` statements in the database. */
  fastPath: boolean;
  /** True when checkpoints of an earlier, interrupted run of the same job were picked up. */
  resumed: boolean;
  durationMs: number;
}

type Kind = NonNullable<Transform['kind']>;

interface SourcePlan {
  table: TableSnapshot;
  key: string[];
  compiled: CompiledMapping;
  /** What the loop writes (enrich in place: an update by key with the key values appended). */
  targets: BatchTarget[];
  /** Source row -> values of the key to append (enrich in place). */
  keyIndexes: number[];
}

/** A checked, compiled transform: everything known before anything is written. */
interface TransformPlan {
  kind: Kind;
  sources: SourcePlan[];
  targetTables: TableSnapshot[];
  inPlace: boolean;
}

const toArray = (v: string | readonly string[]): string[] => (typeof v === 'string' ? [v] : [...v]);

async function snapshotOf(
  from: SchemaSnapshot | DatabaseHandle,
  tables: readonly string[],
): Promise<SchemaSnapshot> {
  if ('format' in from) return from;
  return from.dialect.introspect(from.connection, {
    tables: [...new Set(tables)],
    includeHistoryTables: true,
  });
}

function mappingError(message: string, field?: string): never {
  throw new DataTransferError('E_MAPPING', `transform: ${field ? `${field}: ` : ''}${message}`, {
    details: field ? { field } : {},
  });
}

/** Checks and compiles a transform against the source and target schemas. */
function planTransform(
  spec: TransformSpec,
  source: SchemaSnapshot,
  target: SchemaSnapshot,
  registry: TransformRegistry,
  now: string,
): TransformPlan {
  const sourceNames = toArray(spec.source);
  const targetNames = toArray(spec.target);
  const kind: Kind =
    spec.kind ?? (sourceNames.length > 1 ? 'merge' : targetNames.length > 1 ? 'split' : 'convert');
  if (kind !== 'merge' && sourceNames.length !== 1) {
    mappingError(
      `a ${kind} transform reads one source table (got ${sourceNames.join(', ')}); use kind "merge"`,
      'source',
    );
  }
  if (kind !== 'split' && targetNames.length !== 1) {
    mappingError(
      `a ${kind} transform writes one target table (got ${targetNames.join(', ')}); use kind "split"`,
      'target',
    );
  }
  const findTable = (snap: SchemaSnapshot, name: string, field: string, role: string) =>
    snap.tables.find((t) => t.name === name) ??
    mappingError(`unknown ${role} table ${JSON.stringify(name)} in ${snap.schema || snap.engine}`, field);
  const targetTables = targetNames.map((n, i) =>
    findTable(target, n, targetNames.length > 1 ? `target[${i}]` : 'target', 'target'),
  );
  const sameDb = source === target;
  const inPlace =
    sameDb && sourceNames.length === 1 && targetNames.length === 1 && sourceNames[0] === targetNames[0];
  if (inPlace && kind !== 'enrich') {
    mappingError(
      `source and target are both ${sourceNames[0]}; only kind "enrich" updates a table in place`,
      'target',
    );
  }
  if (kind === 'copy') {
    spec.mapping.forEach((m, i) => {
      if (m.transform)
        mappingError(
          'a copy maps columns as they are; use kind "convert" for transforms',
          `mapping[${i}].transform`,
        );
    });
  }
  const validation = spec.validation?.map((v) => ({ ...v, severity: v.severity ?? 'error' }));

  const sources = sourceNames.map((name, s): SourcePlan => {
    const table = findTable(source, name, sourceNames.length > 1 ? `source[${s}]` : 'source', 'source');
    const key = chooseKey(table) ?? [];
    if (key.length === 0 && source.engine === 'mysql') {
      throw new DataTransferError(
        'E_DATA',
        `table ${name} has no primary key or unique not-null key; cmpkg pages by key on mysql, so add one`,
        { details: { table: name } },
      );
    }
    const compiled = compileMapping({
      source: { table: name, columns: table.columns },
      targets: targetTables.map((t) => ({ table: t.name, columns: t.columns })),
      mapping: spec.mapping,
      ...(validation ? { validation } : {}),
      key,
      registry,
      origin: `transform ${sourceNames.join(', ')} -> ${targetNames.join(', ')}`,
      run: { now },
    });
    let targets: BatchTarget[] = compiled.targets;
    let keyIndexes: number[] = [];
    if (inPlace) {
      if (key.length === 0)
        mappingError(`enrich of ${name} in place needs a primary key or unique not-null key`, 'source');
      const written = compiled.targets[0]!.columns;
      if (written.some((c) => key.includes(c.name))) {
        mappingError(`enrich in place cannot change the key (${key.join(', ')}) of ${name}`, 'mapping');
      }
      keyIndexes = key.map((k) => compiled.readColumns.findIndex((c) => c.name === k));
      targets = [
        {
          table: name,
          columns: [...written, ...key.map((_k, j) => compiled.readColumns[keyIndexes[j]!]!)],
          mode: 'update',
          key,
        },
      ];
    } else if (kind === 'merge') {
      // Later sources update the rows earlier ones wrote, by the target's key when it is mapped.
      const t = compiled.targets[0]!;
      const targetKey = chooseKey(targetTables[0]!);
      if (targetKey?.every((k) => t.columns.some((c) => c.name === k))) {
        targets = [{ ...t, mode: 'merge', key: targetKey }];
      }
    }
    return { table, key, compiled, targets, keyIndexes };
  });
  return { kind, sources, targetTables, inPlace };
}

/**
 * Checks a transform without running it: unknown tables, columns, functions, custom names (in
 * `registry`), malformed parameters, lookups and rules are `E_MAPPING` errors naming the field.
 * `source`/`target` are databases or snapshots of them (`target` defaults to `source`).
 *
 * @example
 * await checkTransform(spec, db); // throws DataTransferError('E_MAPPING', …) on a problem
 */
export async function checkTransform(
  spec: TransformSpec,
  source: SchemaSnapshot | DatabaseHandle,
  options: { target?: SchemaSnapshot | DatabaseHandle; registry?: TransformRegistry } = {},
): Promise<void> {
  const other = options.target === source ? undefined : options.target;
  const sourceSnap = await snapshotOf(
    source,
    other ? toArray(spec.source) : [...toArray(spec.source), ...toArray(spec.target)],
  );
  const targetSnap = other ? await snapshotOf(other, toArray(spec.target)) : sourceSnap;
  planTransform(spec, sourceSnap, targetSnap, options.registry ?? defaultRegistry, new Date().toISOString());
}

/**
 * Runs a transform (DESIGN §4). Kinds:
 *
 * - `copy`: one source table to one target table, columns as they are (no transforms).
 * - `convert`: one source to one target through the mapping.
 * - `merge`: several sources, each read in turn through the same mapping, into one target; when
 *   the target's primary key is mapped, rows are upserted by it (later sources win).
 * - `split`: one source to several targets; each mapping's `target` is `table.column`; every
 *   source row gives one row in each target.
 * - `enrich`: derived columns (functions, lookups, SQL expressions such as subqueries on other
 *   tables). With the source as target, the rows are updated in place by key; otherwise like convert.
 *
 * Everything is checked first (`E_MAPPING`, nothing written). Then, when source and target share
 * the connection and every mapping has an SQL form (no custom function, no validation rules, no
 * reject policy), one `INSERT … SELECT` per target (`UPDATE` for enrich in place) does the work;
 * if that statement fails, the streaming path runs instead and reports the row. The streaming path
 * reads keyset pages, maps and validates each row, and writes through the bulk writers in
 * {@link runBatchLoop}.
 *
 * @example
 * const result = await runTransform(
 *   { kind: 'convert', source: 'users', target: 'people', mapping: [{ source: 'id', target: 'id' }, { source: 'email', target: 'mail', transform: { type: 'function', definition: 'lower' } }] },
 *   { source: db },
 * );
 */
export async function runTransform(
  spec: TransformSpec,
  options: RunTransformOptions,
): Promise<TransformResult> {
  const started = performance.now();
  const source = options.source;
  const target = options.target ?? source;
  const sameConnection = target.connection === source.connection;
  const registry = options.registry ?? defaultRegistry;
  const onError = options.onError ?? 'abort';
  // A caller's open transaction on the target (a migration's) is used, never committed: a run
  // inside it is all-or-nothing with it.
  const ownTx = !target.connection.inTransaction;
  const commit = ownTx ? (options.commit ?? 'end') : 'end';
  if (onError === 'reject' && !options.rejectFile) {
    throw new UsageError('transform: onError "reject" needs a rejectFile for the rejected rows');
  }
  const sourceSnap = await snapshotOf(
    source,
    sameConnection ? [...toArray(spec.source), ...toArray(spec.target)] : toArray(spec.source),
  );
  const targetSnap = sameConnection ? sourceSnap : await snapshotOf(target, toArray(spec.target));
  const now = new Date().toISOString();
  const plan = planTransform(spec, sourceSnap, targetSnap, registry, now);

  const result: TransformResult = {
    rowsRead: 0,
    rowsWritten: 0,
    rowsRejected: 0,
    warnings: [],
    fastPath: false,
    resumed: false,
    durationMs: 0,
  };
  const conn = target.connection;

  const jobId =
    options.jobId ??
    `transform:${sha256Hex(
      canonicalJson({ spec, source: source.connection.displayUrl, target: target.connection.displayUrl }),
    ).slice(0, 24)}`;
  const store = commit === 'batch' ? await CheckpointStore.open(target) : undefined;
  const existing = store ? await store.list(jobId) : [];
  result.resumed = existing.length > 0;

  // ---- fast path (never for a resumed job: it would write again the rows earlier batches committed)
  const statements =
    options.fastPath !== false &&
    sameConnection &&
    onError === 'abort' &&
    plan.kind !== 'merge' &&
    !result.resumed
      ? fastPathStatements(spec, plan, source)
      : undefined;
  if (statements) {
    const tracker = new ProgressTracker('transform', plan.sources[0]!.table.name);
    tracker.start();
    const done = await runFastPath(statements, target);
    if (done) {
      result.rowsRead = done.rowsRead;
      result.rowsWritten = done.rowsWritten;
      result.fastPath = true;
      result.durationMs = performance.now() - started;
      tracker.setTotal(done.rowsRead);
      options.onProgress?.(tracker.update(done.rowsRead, true));
      return result;
    }
  }

  // ---- streaming path
  const rejects = options.rejectFile
    ? await RejectLog.open(options.rejectFile, { append: result.resumed })
    : undefined;
  const batchSize = spec.batchSize ?? 1000;

  // commit 'end' (and always inside a caller's transaction): all of it atomically, so a failure
  // takes back every batch written so far and leaves a caller's PostgreSQL transaction usable.
  // commit 'batch': the batch loop commits each batch with its checkpoint.
  const streamAll = async () => {
    for (const sp of plan.sources) {
      const name = sp.table.name;
      const keyTypes = sp.key.map((k) => sp.compiled.readColumns.find((c) => c.name === k)!.type);
      const cp = store ? await store.get(jobId, name, keyTypes) : undefined;
      if (cp?.status === 'done') continue;
      const totalRows = await countRows(source, name, spec.filter);
      const { compiled, keyIndexes } = sp;
      const loop = await runBatchLoop<PortableValue[], ReadBatch>({
        db: target,
        name,
        targets: sp.targets,
        input: readTable(source, {
          table: name,
          columns: compiled.readColumns,
          extra: compiled.extras,
          key: sp.key,
          ...(spec.filter ? { where: spec.filter } : {}),
          batchSize,
          ...(cp?.lastKey ? { after: cp.lastKey } : {}),
          ...(options.signal ? { signal: options.signal } : {}),
        }),
        mapRow: plan.inPlace
          ? (row, i, batch) => {
              const out = compiled.mapRow(row, batch.extras[i]!);
              for (const k of keyIndexes) out[0]!.push(row[k]!);
              return out;
            }
          : (row, i, batch) => compiled.mapRow(row, batch.extras[i]!),
        describeRow: (row) => compiled.describeRow(row),
        onError,
        ...(rejects ? { rejects } : {}),
        ...(store ? { checkpoint: { store, jobId, rowsDone: cp?.rowsDone ?? 0 } } : {}),
        phase: 'transform',
        totalRows,
        ...(options.onProgress ? { onProgress: options.onProgress } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
      });
      result.rowsRead += loop.rowsRead;
      result.rowsWritten += loop.rowsWritten;
      result.rowsRejected += loop.rowsRejected;
    }
    options.signal?.throwIfAborted();
  };
  try {
    if (commit === 'end') await atomically(conn, `cmpkg_transform_${++savepoints}`, streamAll);
    else await streamAll();
    if (rejects && commit === 'end') await rejects.flush();
    if (store) await store.clear(jobId);
  } catch (err) {
    if (rejects && commit === 'end') await rejects.discard();
    throw err;
  }
  const warnings = new Map<string, TransformResult['warnings'][number]>();
  for (const sp of plan.sources) {
    for (const w of sp.compiled.warnings()) {
      const k = `${w.field}\u0000${w.rule}\u0000${w.message}`;
      const seen = warnings.get(k);
      if (seen) seen.count += w.count;
      else warnings.set(k, { ...w });
    }
  }
  result.warnings = [...warnings.values()];
  result.durationMs = performance.now() - started;
  return result;
}

let savepoints = 0;

async function countRows(db: DatabaseHandle, table: string, filter?: string): Promise<number> {
  const { rows } = await db.connection.execute<{ n: unknown }>(
    `SELECT COUNT(*) AS n FROM ${db.dialect.quoteIdentifier(table)}${filter ? ` WHERE ${filter}` : ''}`,
  );
  return Number(rows[0]?.n ?? 0);
}

/** The statements of the fast path, or undefined when some part has no SQL form. */
function fastPathStatements(
  spec: TransformSpec,
  plan: TransformPlan,
  db: DatabaseHandle,
): string[] | undefined {
  const { dialect } = db;
  const q = (n: string) => dialect.quoteIdentifier(n);
  const sp = plan.sources[0]!;
  if (sp.compiled.usesCustom || sp.compiled.hasRules) return undefined;
  const exprs = sp.compiled.sql(dialect.engine, q);
  if (!exprs) return undefined;
  const where = spec.filter ? ` WHERE ${spec.filter}` : '';
  const from = q(sp.table.name);
  if (plan.inPlace) {
    const cols = sp.compiled.targets[0]!.columns;
    const sets = cols.map((c, i) => `${q(c.name)} = ${exprs[0]![i]}`);
    return [`UPDATE ${from} SET ${sets.join(', ')}${where}`];
  }
  return sp.compiled.targets.map(
    (t, i) =>
      `INSERT INTO ${q(t.table)} (${t.columns.map((c) => q(c.name)).join(', ')}) SELECT ${exprs[i]!.join(', ')} FROM ${from}${where}`,
  );
}

/**
 * Runs the fast-path statements atomically (a transaction, or a savepoint of the caller's). On
 * failure nothing of them stays and `undefined` is returned, so the streaming path runs and names
 * the bad row; errors that say nothing about the data (transient, timeout, permission) are rethrown.
 */
async function runFastPath(
  statements: readonly string[],
  db: DatabaseHandle,
): Promise<{ rowsRead: number; rowsWritten: number } | undefined> {
  const conn = db.connection;
  try {
    return await atomically(conn, 'cmpkg_fast_path', async () => {
      let rowsRead = 0;
      let rowsWritten = 0;
      for (const [i, sql] of statements.entries()) {
        const { rowsAffected } = await conn.execute(sql);
        if (i === 0) rowsRead = rowsAffected;
        rowsWritten += rowsAffected;
      }
      return { rowsRead, rowsWritten };
    });
  } catch (err) {
    const cls = db.dialect.classifyError(err);
    if (cls === 'transient' || cls === 'timeout' || cls === 'permission') throw err;
    return undefined;
  }
}
