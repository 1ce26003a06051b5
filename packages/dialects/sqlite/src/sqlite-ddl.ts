import {
  type ColumnDefinition,
  type ForeignKeyAction,
  type ForeignKeyDefinition,
  type IndexDefinition,
  type PortableType,
  type SchemaChange,
  type TableDefinition,
  UsageError,
} from '@cmpkg/core';
import { sqliteNativeType } from './sqlite-adapter.js';

/**
 * Quotes an identifier for SQLite: double quotes, any `"` inside doubled.
 *
 * @example
 * quoteSqliteIdentifier('a"b'); // '"a""b"'
 */
export function quoteSqliteIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

const q = quoteSqliteIdentifier;

/** The message of the one change SQLite cannot make in place (fixed: callers and docs quote it). */
const NO_ADD_FOREIGN_KEY = 'SQLite cannot add a foreign key to an existing table; recreate the table with it';

/**
 * Renders a change of the portable schema model as SQLite statements, in order.
 *
 * - `createTable`: `CREATE TABLE` with columns (declared types from `SQLITE_TYPES`), `NOT NULL`,
 *   `DEFAULT`, the primary key, `CHECK` and `FOREIGN KEY` table constraints (with their `CONSTRAINT`
 *   names), then one `CREATE [UNIQUE] INDEX` per index. An `autoIncrement` column must be the table's
 *   only primary-key column and becomes `"id" INTEGER PRIMARY KEY AUTOINCREMENT`, the rowid alias.
 * - `addColumn`: `ALTER TABLE ... ADD COLUMN`; `createIndex` (partial and expression indexes too);
 *   `dropTable` / `dropIndex` with `IF EXISTS`.
 * - `addForeignKey`: SQLite's ALTER TABLE cannot add constraints, so this throws `UsageError`.
 *
 * Anything SQLite cannot express throws core's `UsageError` naming the table and the column or index.
 *
 * @example
 * renderSqliteDdl({ kind: 'dropIndex', table: 'users', name: 'users_email' });
 * // ['DROP INDEX IF EXISTS "users_email"']
 */
export function renderSqliteDdl(change: SchemaChange): string[] {
  switch (change.kind) {
    case 'createTable':
      return createTable(change.table);
    case 'dropTable':
      return [`DROP TABLE IF EXISTS ${q(change.table)}`];
    case 'addColumn':
      return [addColumn(change.table, change.column)];
    case 'createIndex':
      return [createIndex(change.table, change.index)];
    case 'dropIndex':
      // Index names are per schema in SQLite, so the table is not part of the statement.
      return [`DROP INDEX IF EXISTS ${q(change.name)}`];
    case 'addForeignKey':
      throw new UsageError(NO_ADD_FOREIGN_KEY, {
        details: { table: change.table, foreignKey: change.foreignKey.name ?? null },
      });
    default: {
      const unknown: never = change;
      throw new UsageError(`unknown schema change kind "${(unknown as { kind: string }).kind}"`);
    }
  }
}

function createTable(table: TableDefinition): string[] {
  if (table.columns.length === 0) {
    throw new UsageError(`table "${table.name}" has no columns; SQLite needs at least one`);
  }
  const pk = table.primaryKey?.columns ?? [];
  const autoIncrement = table.columns.filter((c) => c.autoIncrement);
  for (const column of autoIncrement) checkAutoIncrement(table.name, column, pk);
  const lines = table.columns.map((column) => columnSql(table.name, column, table.primaryKey?.name));
  if (pk.length > 0 && autoIncrement.length === 0) {
    lines.push(`${constraintName(table.primaryKey?.name)}PRIMARY KEY (${pk.map(q).join(', ')})`);
  }
  for (const check of table.checks) lines.push(`${constraintName(check.name)}CHECK (${check.expression})`);
  for (const fk of table.foreignKeys) lines.push(foreignKeySql(table.name, fk));
  return [
    `CREATE TABLE ${q(table.name)} (\n  ${lines.join(',\n  ')}\n)`,
    ...table.indexes.map((index) => createIndex(table.name, index)),
  ];
}

function checkAutoIncrement(table: string, column: ColumnDefinition, pk: string[]): void {
  if (pk.length !== 1 || pk[0] !== column.name) {
    throw new UsageError(
      `table "${table}", column "${column.name}": autoIncrement needs the column to be the table's only ` +
        `primary-key column (SQLite generates keys only for "${column.name}" INTEGER PRIMARY KEY AUTOINCREMENT, ` +
        `the rowid); the primary key is ${pk.length === 0 ? 'missing' : `(${pk.join(', ')})`}`,
    );
  }
  const integral: Array<PortableType | null> = ['integer', 'bigint', 'smallint'];
  if (!integral.includes(column.type)) {
    throw new UsageError(
      `table "${table}", column "${column.name}": autoIncrement needs an integer type, got ${column.type ?? column.nativeType}`,
    );
  }
  if (column.default !== undefined && column.default !== null) {
    throw new UsageError(
      `table "${table}", column "${column.name}": an autoIncrement column cannot also have a default`,
    );
  }
}

function columnSql(table: string, column: ColumnDefinition, primaryKeyName?: string): string {
  if (column.autoIncrement) {
    // The rowid alias: exactly INTEGER (not BIGINT), and never NULL, so no NOT NULL either.
    return `${q(column.name)} INTEGER ${constraintName(primaryKeyName)}PRIMARY KEY AUTOINCREMENT`;
  }
  const parts = [q(column.name)];
  const type = declaredType(table, column);
  if (type !== '') parts.push(type);
  if (!column.nullable) parts.push('NOT NULL');
  if (column.default !== undefined && column.default !== null)
    parts.push(`DEFAULT ${renderDefault(column.default)}`);
  return parts.join(' ');
}

function declaredType(table: string, column: ColumnDefinition): string {
  // A column with no portable type keeps its declared type; SQLite accepts even none at all.
  if (column.type === null) return column.nativeType ?? '';
  try {
    return sqliteNativeType(column.type);
  } catch (err) {
    throw new UsageError(`table "${table}", column "${column.name}": ${(err as Error).message}`, {
      cause: err,
    });
  }
}

const NUMBER = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;
const STRING = /^'(?:[^']|'')*'$/;
const BLOB = /^[xX]'[0-9A-Fa-f]*'$/;
const KEYWORDS = ['TRUE', 'FALSE', 'NULL', 'CURRENT_TIMESTAMP', 'CURRENT_DATE', 'CURRENT_TIME'];

/**
 * A portable default as SQLite's DEFAULT clause takes it: literals and the CURRENT_* keywords as they
 * are (`true`/`false` as SQLite's TRUE/FALSE, stored as 1/0); anything else is an expression, which
 * SQLite accepts only in parentheses.
 */
function renderDefault(value: string): string {
  const v = value.trim();
  const upper = v.toUpperCase();
  if (KEYWORDS.includes(upper)) return upper;
  if (NUMBER.test(v) || STRING.test(v) || BLOB.test(v)) return v;
  return `(${v})`;
}

function constraintName(name: string | undefined): string {
  return name === undefined || name === '' ? '' : `CONSTRAINT ${q(name)} `;
}

const ACTIONS: readonly ForeignKeyAction[] = ['no action', 'restrict', 'cascade', 'set null', 'set default'];

function foreignKeySql(table: string, fk: ForeignKeyDefinition): string {
  const label = `table "${table}", foreign key ${fk.name !== undefined ? `"${fk.name}"` : `(${fk.columns.join(', ')})`}`;
  if (fk.columns.length === 0) throw new UsageError(`${label}: no columns`);
  // No referenced columns means the parent's primary key, which SQLite allows.
  if (fk.referencedColumns.length > 0 && fk.referencedColumns.length !== fk.columns.length) {
    throw new UsageError(
      `${label}: ${fk.columns.length} column(s) reference ${fk.referencedColumns.length} column(s) of "${fk.referencedTable}"`,
    );
  }
  for (const action of [fk.onDelete, fk.onUpdate]) {
    if (!ACTIONS.includes(action)) {
      throw new UsageError(`${label}: unknown action "${action}"; expected one of ${ACTIONS.join(', ')}`);
    }
  }
  const referenced = fk.referencedColumns.length > 0 ? ` (${fk.referencedColumns.map(q).join(', ')})` : '';
  return (
    `${constraintName(fk.name)}FOREIGN KEY (${fk.columns.map(q).join(', ')}) ` +
    `REFERENCES ${q(fk.referencedTable)}${referenced} ` +
    `ON DELETE ${fk.onDelete.toUpperCase()} ON UPDATE ${fk.onUpdate.toUpperCase()}`
  );
}

function createIndex(table: string, index: IndexDefinition): string {
  const label = `table "${table}", index "${index.name}"`;
  if (index.parts.length === 0) throw new UsageError(`${label}: an index needs at least one key part`);
  if (index.method !== undefined && index.method.toLowerCase() !== 'btree') {
    throw new UsageError(`${label}: SQLite has only b-tree indexes, not "${index.method}"`);
  }
  const parts = index.parts.map((part, i) => {
    if ((part.column === undefined) === (part.expression === undefined)) {
      throw new UsageError(`${label}: key part ${i + 1} needs exactly one of column and expression`);
    }
    const sql = part.column !== undefined ? q(part.column) : `(${part.expression})`;
    return part.descending ? `${sql} DESC` : sql;
  });
  const where = index.where !== undefined && index.where.trim() !== '' ? ` WHERE ${index.where}` : '';
  return `CREATE ${index.unique ? 'UNIQUE ' : ''}INDEX ${q(index.name)} ON ${q(table)} (${parts.join(', ')})${where}`;
}

function addColumn(table: string, column: ColumnDefinition): string {
  if (column.autoIncrement) {
    throw new UsageError(
      `table "${table}", column "${column.name}": SQLite cannot add an autoIncrement column to an existing ` +
        'table (the INTEGER PRIMARY KEY is the rowid, declared with the table); recreate the table with it',
    );
  }
  if (!column.nullable && (column.default === undefined || column.default === null)) {
    throw new UsageError(
      `table "${table}", column "${column.name}": SQLite cannot add a NOT NULL column without a default ` +
        'to an existing table; give it a default or make it nullable',
    );
  }
  return `ALTER TABLE ${q(table)} ADD COLUMN ${columnSql(table, column)}`;
}
