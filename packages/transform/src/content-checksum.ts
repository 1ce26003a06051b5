import { hash } from 'node:crypto';
import type { BulkColumn, PortableType, PortableValue } from '@cmpkg/core';
import { valueCanonicalizer } from '@cmpkg/core';
import type { DatabaseHandle } from './database-handle.js';
import { chooseKey, readTable } from './table-reader.js';

const LIMB = 0x1_0000_0000;

/**
 * An order-independent checksum of a table's content: the sum modulo 2^128 of the first 16 bytes
 * of sha256(canonical row text) over all rows, where the canonical row text spells each column as
 * `N` for NULL or `<length>:<canonicalValueText>` (length in UTF-16 code units), so no choice of
 * values can make two different rows spell the same text. Two tables hold the same rows (as a
 * multiset) exactly when their sums match (up to hash collisions), whatever order they were read
 * in and whatever engine stores them, so a copy can be verified without sorting either side.
 *
 * @example
 * const sum = new ContentChecksum();
 * sum.add(['integer', 'text'], [1, 'a']);
 * sum.add(['integer', 'text'], [2, 'b']);
 * console.log(sum.rows, sum.digest()); // 2 'sum128:…'
 */
export class ContentChecksum {
  // Four 32-bit limbs, most significant first; carries are folded in on every add.
  readonly #limbs = [0, 0, 0, 0];
  // Callers pass the same types array for every row of a table: its canonicalizers are made once.
  readonly #canonical = new WeakMap<readonly PortableType[], ((value: PortableValue) => string)[]>();
  #rows = 0;

  /** Rows added so far. */
  get rows(): number {
    return this.#rows;
  }

  /** Adds one row whose values have the portable `types`, in the same column order. */
  add(types: readonly PortableType[], row: readonly PortableValue[]): void {
    let canonical = this.#canonical.get(types);
    if (canonical === undefined) {
      canonical = types.map(valueCanonicalizer);
      this.#canonical.set(types, canonical);
    }
    let text = '';
    for (let i = 0; i < canonical.length; i++) {
      const value = row[i] ?? null;
      if (value === null) text += 'N';
      else {
        const v = canonical[i]!(value);
        text += `${v.length}:${v}`;
      }
    }
    // The digest's bytes, not core's sha256Hex: this runs per row, and hex text then parsed back
    // cost more than the hash itself.
    const digest = hash('sha256', text, 'buffer');
    const limbs = this.#limbs;
    let carry = 0;
    for (let i = 3; i >= 0; i--) {
      const sum = limbs[i]! + digest.readUInt32BE(i * 4) + carry;
      carry = sum >= LIMB ? 1 : 0;
      limbs[i] = sum - carry * LIMB;
    }
    this.#rows++;
  }

  /** Adds another checksum's rows (for tables read in parts). */
  merge(other: ContentChecksum): void {
    const hex = other.digest().slice('sum128:'.length);
    let carry = 0;
    for (let i = 3; i >= 0; i--) {
      const sum = this.#limbs[i]! + Number.parseInt(hex.slice(i * 8, i * 8 + 8), 16) + carry;
      carry = sum >= LIMB ? 1 : 0;
      this.#limbs[i] = sum - carry * LIMB;
    }
    this.#rows += other.rows;
  }

  /** `sum128:` and 32 hex digits. */
  digest(): string {
    return `sum128:${this.#limbs.map((l) => l.toString(16).padStart(8, '0')).join('')}`;
  }
}

/**
 * Options of {@link tableChecksum}.
 *
 * @example
 * const options: TableChecksumOptions = { batchSize: 5000, where: 'tenant_id = 7' };
 */
export interface TableChecksumOptions {
  batchSize?: number;
  where?: string;
  params?: readonly unknown[];
  signal?: AbortSignal;
}

/**
 * Streams a table through {@link readTable} and returns its row count and {@link ContentChecksum}.
 * Without `key`, the table is introspected and paged by {@link chooseKey} (or the row address).
 *
 * @example
 * const { rows, checksum } = await tableChecksum(db, 'users', [{ name: 'id', type: 'bigint' }, { name: 'email', type: 'text' }]);
 */
export async function tableChecksum(
  db: DatabaseHandle,
  table: string,
  columns: readonly BulkColumn[],
  key?: readonly string[],
  options: TableChecksumOptions = {},
): Promise<{ rows: number; checksum: string }> {
  let pageKey = key;
  if (pageKey === undefined) {
    const snapshot = await db.dialect.introspect(db.connection, {
      tables: [table],
      includeHistoryTables: true,
    });
    const t = snapshot.tables.find((s) => s.name === table);
    pageKey = (t && chooseKey(t)) ?? [];
  }
  const sum = new ContentChecksum();
  const types = columns.map((c) => c.type);
  for await (const batch of readTable(db, {
    table,
    columns,
    key: pageKey,
    batchSize: options.batchSize ?? 10_000,
    ...(options.where !== undefined ? { where: options.where } : {}),
    ...(options.params !== undefined ? { params: options.params } : {}),
    ...(options.signal !== undefined ? { signal: options.signal } : {}),
  })) {
    for (const row of batch.rows) sum.add(types, row);
  }
  return { rows: sum.rows, checksum: sum.digest() };
}
