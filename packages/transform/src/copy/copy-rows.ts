import type { BulkColumn, PortableValue } from '@cmpkg/core';
import { compileMapping, type MappingEntry } from '../mapping/compile.js';
import type { TransformRegistry } from '../registry.js';
import type { CopyTablePlan } from './copy-plan.js';

/**
 * How a table's rows are read and turned into target rows: the source columns and SQL expressions
 * to read, and a function from one read row to the target columns' values (in the plan's order).
 *
 * @example
 * for await (const batch of readTable(from, { table: plan.source, columns: mapper.readColumns, extra: mapper.extra, key, batchSize })) {
 *   batch.rows.forEach((row, i) => console.log(mapper.map(row, batch.extras[i] ?? [])));
 * }
 */
export interface RowMapper {
  readColumns: BulkColumn[];
  /** SQL expressions the source evaluates (`expression` mappings), with the mapping field they come from. */
  extra: Array<{ alias: string; expression: string; field: string }>;
  /** Target values in the order of the plan's `targetColumns`; throws `RowError` / `E_TRANSFORM_FAILED`. */
  map(row: readonly PortableValue[], extras: readonly unknown[]): PortableValue[];
  /** The row's key for messages (`id=5`). */
  describeRow(row: readonly PortableValue[]): string;
}

/**
 * Compiles a table's copy with the one mapping compiler: copied columns become plain field
 * mappings, computed columns keep the mapping file's entries (so messages name
 * `tables.<table>.mapping[i]` as written). Unknown columns, functions or custom transforms are
 * `E_MAPPING` naming the file and field, raised before anything is written.
 *
 * @example
 * const mapper = compileCopyRows(plan.tables[0]!, { file: 'mapping.json' });
 */
export function compileCopyRows(
  plan: CopyTablePlan,
  options: { registry?: TransformRegistry; file?: string } = {},
): RowMapper {
  const user = plan.userMapping;
  // The file's entries first, at their own indexes; then one plain entry per copied column.
  const entries: MappingEntry[] = [...user];
  const order: string[] = user.map((m) => m.target);
  plan.sources.forEach((s, i) => {
    if (!('read' in s)) return;
    const target = plan.targetColumns[i]!.name;
    entries.push({ source: plan.readColumns[s.read]!.name, target });
    order.push(target);
  });
  const compiled = compileMapping({
    source: { table: plan.source, columns: plan.readColumns },
    targets: [{ table: plan.target, columns: plan.targetColumns }],
    mapping: entries,
    ...(plan.key ? { key: plan.key } : {}),
    ...(options.registry ? { registry: options.registry } : {}),
    ...(options.file ? { origin: options.file } : {}),
    field: `tables.${plan.source}.mapping`,
  });
  // Compiled values come in entry order; the target's columns are in the plan's order.
  const position = new Map(order.map((name, i) => [name, i]));
  const permutation = plan.targetColumns.map((c) => position.get(c.name)!);
  const identity = permutation.every((p, i) => p === i) && permutation.length === order.length;
  const extra = compiled.extras.map((e) => {
    const i = user.findIndex(
      (m) => m.transform?.type === 'expression' && m.transform.definition === e.expression,
    );
    return { ...e, field: `tables.${plan.source}.mapping[${Math.max(i, 0)}].transform.definition` };
  });
  return {
    readColumns: compiled.readColumns,
    extra,
    map(row, extras) {
      const values = compiled.mapRow(row, extras)[0]!;
      return identity ? values : permutation.map((i) => values[i] ?? null);
    },
    describeRow: (row) => compiled.describeRow(row),
  };
}
