import type { Connection } from '@cmpkg/core';
import { type TestEngine, testDialect } from './engines.js';

/**
 * Everything a database holds, in a form `toEqual` compares with a readable diff: each table's
 * introspected schema (`createSql`: the statements that create it and its indexes, as the dialect
 * reads them back) and all of its rows (sorted, values normalised), plus views, triggers and
 * routines. Equal fingerprints = the database is exactly as it was.
 *
 * Sequence and AUTO_INCREMENT counters are not part of it: no engine rolls them back, and they are
 * not data.
 */
export interface DatabaseFingerprint {
  tables: Record<string, { createSql: string[]; rows: string[] }>;
  views: string[];
  triggers: string[];
  routines: string[];
}

/**
 * Tables a fingerprint leaves out by default: the execution log (a failed install is recorded there
 * on purpose) and the lock holder table (written by the lock itself, outside any transaction).
 */
export const FINGERPRINT_EXCLUDED: readonly string[] = ['cmpkg_executions', 'cmpkg_lock'];

const normalise = (value: unknown): unknown => {
  if (value === null || value === undefined) return null;
  if (typeof value === 'bigint') return `${value}`;
  if (value instanceof Uint8Array) return `base64:${Buffer.from(value).toString('base64')}`;
  if (value instanceof Date) return `date:${value.toISOString()}`;
  if (typeof value === 'object') return JSON.stringify(value);
  // Drivers return numbers, numeric strings and booleans; the same engine returns the same kind.
  return value;
};

/**
 * The fingerprint of the database at `url`, read on a connection of its own (read-only, so a SQLite
 * file that does not exist stays absent).
 *
 * @example
 * const before = await fingerprint(engine, db.url);
 * await failingInstall();
 * expect(await fingerprint(engine, db.url)).toEqual(before);
 */
export async function fingerprint(
  engine: TestEngine,
  url: string,
  options: { exclude?: readonly string[] } = {},
): Promise<DatabaseFingerprint> {
  const dialect = testDialect(engine);
  const exclude = new Set(options.exclude ?? FINGERPRINT_EXCLUDED);
  const connection: Connection = await dialect.connect(url, { readOnly: true });
  try {
    const snapshot = await dialect.introspect(connection, { includeHistoryTables: true });
    const tables: DatabaseFingerprint['tables'] = {};
    for (const table of [...snapshot.tables].sort((a, b) => a.name.localeCompare(b.name))) {
      if (exclude.has(table.name)) continue;
      const { rows } = await connection.execute(`SELECT * FROM ${dialect.quoteIdentifier(table.name)}`);
      tables[table.name] = {
        createSql: table.createSql,
        rows: rows
          .map((row) =>
            JSON.stringify(
              Object.keys(row)
                .sort()
                .map((k) => [k, normalise(row[k])]),
            ),
          )
          .sort(),
      };
    }
    return {
      tables,
      views: snapshot.views.map((v) => v.createSql).sort(),
      triggers: snapshot.triggers.map((t) => t.createSql).sort(),
      routines: snapshot.routines.map((r) => JSON.stringify(r)).sort(),
    };
  } finally {
    await connection.close();
  }
}
