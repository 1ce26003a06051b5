import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import Database from 'better-sqlite3';

/**
 * Direct access to the SQLite files the CLI wrote: the tests check the database itself, never only
 * what the CLI says about it. Every helper opens, reads and closes, so no handle of ours is open
 * while a CLI process runs (a reader could otherwise hold a lock the CLI waits for).
 */

export type Row = Record<string, unknown>;

export function withDb<T>(file: string, fn: (db: Database.Database) => T): T {
  if (!existsSync(file)) throw new Error(`database file ${file} does not exist`);
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

export function query(file: string, sql: string, ...params: unknown[]): Row[] {
  return withDb(file, (db) => db.prepare(sql).all(...params) as Row[]);
}

/** Every user table (not SQLite's own), sorted. */
export function tableNames(file: string): string[] {
  return query(
    file,
    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
  ).map((r) => String(r.name));
}

export function tableExists(file: string, table: string): boolean {
  return existsSync(file) && tableNames(file).includes(table);
}

export function indexNames(file: string): string[] {
  return query(file, "SELECT name FROM sqlite_master WHERE type = 'index' ORDER BY name").map((r) =>
    String(r.name),
  );
}

export function count(file: string, table: string): number {
  const [row] = query(file, `SELECT COUNT(*) AS n FROM "${table}"`);
  return Number(row?.n);
}

export interface HistoryRow {
  plugin_id: string;
  migration_id: string;
  version: string;
  name: string;
  checksum: string;
  status: string;
  installed_rank: number;
}

/** `cmpkg_migrations`, in installed order; empty when the table does not exist yet. */
export function history(file: string): HistoryRow[] {
  if (!tableExists(file, 'cmpkg_migrations')) return [];
  return query(
    file,
    'SELECT * FROM cmpkg_migrations ORDER BY installed_rank, migration_id',
  ) as unknown as HistoryRow[];
}

/** Ids of the migrations recorded as `applied`. */
export function appliedIds(file: string): string[] {
  return history(file)
    .filter((r) => r.status === 'applied')
    .map((r) => r.migration_id)
    .sort();
}

/**
 * A fingerprint of everything SQLite keeps on disk for `file`: the database and any -wal, -shm or
 * -journal companion, byte for byte. Equal fingerprints = the database was not touched. (Not
 * `fingerprint` of helpers/fingerprint.ts: that one compares schema and rows on every engine.)
 */
export function fileFingerprint(file: string): string {
  const hash = createHash('sha256');
  const dir = dirname(file);
  const base = basename(file);
  const companions = readdirSync(dir)
    .filter((name) => name === base || name.startsWith(`${base}-`))
    .sort();
  for (const name of companions) {
    hash.update(`${name}\0`);
    hash.update(readFileSync(join(dir, name)));
    hash.update('\0');
  }
  return `${companions.join(',')}|${hash.digest('hex')}`;
}
