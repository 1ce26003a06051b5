import { DataTransferError, type PortableValue } from '@cmpkg/core';
import { ContentChecksum, tableChecksum } from '../content-checksum.js';
import type { DatabaseHandle } from '../database-handle.js';
import { type ProgressEvent, ProgressTracker } from '../progress.js';
import { type ReadBatch, readTable } from '../table-reader.js';
import type { CopyPlan, CopyTablePlan } from './copy-plan.js';
import type { RowMapper } from './copy-rows.js';

/**
 * The verification of one copied table: both sides' row counts and content checksums.
 *
 * @example
 * const ok = (v: TableVerification) => v.verified;
 */
export interface TableVerification {
  sourceRows: number;
  targetRows: number;
  sourceChecksum: string;
  targetChecksum: string;
  verified: boolean;
}

/**
 * The source side of a table as the target should hold it: every row the copy reads (after its
 * filter), through the copy's mapping, summed with the target column types.
 */
async function sourceChecksum(
  from: DatabaseHandle,
  plan: CopyTablePlan,
  mapper: RowMapper,
  batchSize: number,
  signal?: AbortSignal,
): Promise<ContentChecksum> {
  const sum = new ContentChecksum();
  const types = plan.targetColumns.map((c) => c.type);
  const batches: AsyncGenerator<ReadBatch> = readTable(from, {
    table: plan.source,
    columns: mapper.readColumns,
    key: plan.key ?? [],
    extra: mapper.extra.map((e) => ({ alias: e.alias, expression: e.expression })),
    ...(plan.filter !== undefined ? { where: plan.filter } : {}),
    batchSize,
    ...(signal ? { signal } : {}),
  });
  for await (const batch of batches) {
    batch.rows.forEach((row: PortableValue[], i) => {
      sum.add(types, mapper.map(row, batch.extras[i] ?? []));
    });
  }
  return sum;
}

/**
 * Verifies one copied table: recomputes the source checksum unless the copy accumulated it, reads
 * the target's, and throws `E_VERIFY_FAILED` (naming the table, both counts and checksums) when
 * they differ.
 *
 * @example
 * const v = await verifyTable({ from, to, plan: plan.tables[0]!, mapper, batchSize: 10_000 });
 */
export async function verifyTable(o: {
  from: DatabaseHandle;
  to: DatabaseHandle;
  plan: CopyTablePlan;
  mapper: RowMapper;
  sourceChecksum?: ContentChecksum | undefined;
  batchSize: number;
  signal?: AbortSignal;
  onProgress?: (event: ProgressEvent) => void;
}): Promise<TableVerification> {
  const { plan, to } = o;
  const source = o.sourceChecksum ?? (await sourceChecksum(o.from, plan, o.mapper, o.batchSize, o.signal));
  const key = plan.definition.primaryKey?.columns;
  const target = await tableChecksum(to, plan.target, plan.targetColumns, key, {
    batchSize: o.batchSize,
    ...(o.signal ? { signal: o.signal } : {}),
  });
  const result: TableVerification = {
    sourceRows: source.rows,
    targetRows: target.rows,
    sourceChecksum: source.digest(),
    targetChecksum: target.checksum,
    verified: source.rows === target.rows && source.digest() === target.checksum,
  };
  o.onProgress?.(new ProgressTracker('verify', plan.target).update(target.rows, true));
  if (!result.verified) {
    const what =
      source.rows !== target.rows
        ? `${source.rows} source row(s) but ${target.rows} in the target`
        : `the same ${source.rows} row count but different content (source ${result.sourceChecksum}, target ${result.targetChecksum})`;
    throw new DataTransferError('E_VERIFY_FAILED', `table ${plan.source} → ${plan.target}: ${what}`, {
      details: { table: plan.target, source: plan.source, ...result },
    });
  }
  return result;
}

/**
 * Verifies copied tables against their sources (as {@link verifyTable}), one after the other; the
 * first mismatch throws `E_VERIFY_FAILED`.
 *
 * @example
 * const results = await verifyPlan({ from, to, plan, mappers, batchSize: 10_000 });
 */
export async function verifyPlan(o: {
  from: DatabaseHandle;
  to: DatabaseHandle;
  plan: CopyPlan;
  mappers: ReadonlyMap<string, RowMapper>;
  batchSize: number;
  signal?: AbortSignal;
  onProgress?: (event: ProgressEvent) => void;
}): Promise<Map<string, TableVerification>> {
  const out = new Map<string, TableVerification>();
  for (const t of o.plan.tables) {
    out.set(
      t.target,
      await verifyTable({
        from: o.from,
        to: o.to,
        plan: t,
        mapper: o.mappers.get(t.source)!,
        batchSize: o.batchSize,
        ...(o.signal ? { signal: o.signal } : {}),
        ...(o.onProgress ? { onProgress: o.onProgress } : {}),
      }),
    );
  }
  return out;
}
