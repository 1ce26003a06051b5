import type { TableDefinition } from '@cmpkg/core';

/**
 * Tables with every referenced (parent) table before the tables that reference it, so rows can be
 * inserted while foreign keys are enforced. Ties keep the input order; tables in a reference cycle
 * (or self-references) keep their input order among themselves, since no order satisfies them.
 *
 * @example
 * orderByForeignKeys([posts, authors]).map((t) => t.name); // ['authors', 'posts']
 */
export function orderByForeignKeys<T extends Pick<TableDefinition, 'name' | 'foreignKeys'>>(
  tables: readonly T[],
): T[] {
  const names = new Set(tables.map((t) => t.name));
  const placed = new Set<string>();
  const out: T[] = [];
  let rest = [...tables];
  while (rest.length > 0) {
    const ready = rest.filter((t) =>
      t.foreignKeys.every(
        (fk) =>
          fk.referencedTable === t.name || !names.has(fk.referencedTable) || placed.has(fk.referencedTable),
      ),
    );
    // A cycle: nothing is ready; take the first remaining table to break it.
    const next = ready.length > 0 ? ready : rest.slice(0, 1);
    for (const t of next) {
      placed.add(t.name);
      out.push(t);
    }
    rest = rest.filter((t) => !placed.has(t.name));
  }
  return out;
}
