import {
  type CheckDefinition,
  type ColumnDefinition,
  type ForeignKeyAction,
  type ForeignKeyDefinition,
  type IndexDefinition,
  type IndexPart,
  type SchemaChange,
  type TableDefinition,
  UsageError,
} from '@cmpkg/core';
import { mysqlNativeType, quoteMysqlIdentifier as q, vectorComment } from './mysql-adapter.js';

/**
 * Which server a statement is rendered for. `unknown` (what `MysqlDialect.renderDdl` uses, since it is
 * not tied to a connection) renders only what both servers accept.
 *
 * @example
 * const flavor: MysqlFlavor = 'mariadb';
 */
export type MysqlFlavor = 'mysql' | 'mariadb' | 'unknown';

/**
 * Options of {@link renderMysqlDdl}.
 *
 * @example
 * renderMysqlDdl(change, { flavor: 'mysql' }); // allows MySQL 8 functional key parts
 */
export interface MysqlDdlOptions {
  flavor?: MysqlFlavor;
}

/**
 * An index key part as MySQL knows it: a column with an optional prefix `length` (`KEY (body(100))`),
 * which the portable model has no field for. Introspection sets it; `renderMysqlDdl` renders it.
 *
 * @example
 * const part: MysqlIndexPart = { column: 'body', length: 100 };
 */
export interface MysqlIndexPart extends IndexPart {
  length?: number;
}

/**
 * A column as MySQL knows it: `onUpdate` is the value the server writes on every `UPDATE` of the row
 * (`ON UPDATE CURRENT_TIMESTAMP`, the usual `updated_at` column), which the portable model has no
 * field for. Introspection sets it (always the portable spelling `CURRENT_TIMESTAMP`); `renderMysqlDdl`
 * renders it with the column's fractional precision.
 *
 * @example
 * const col: MysqlColumnDefinition = {
 *   name: 'updated_at', type: 'timestamptz', nullable: false, default: 'CURRENT_TIMESTAMP', onUpdate: 'CURRENT_TIMESTAMP',
 * };
 */
export interface MysqlColumnDefinition extends ColumnDefinition {
  onUpdate?: string;
  /**
   * The column's collation where it is not the one `DEFAULT CHARSET=utf8mb4` gives (`utf8mb4_bin` for
   * case-sensitive keys, `utf8mb4_unicode_ci` tables, `utf8mb3_general_ci` leftovers): it decides what
   * "equal" means for comparisons and unique indexes, so a recreated table keeps it. The character set
   * follows from the collation.
   */
  collation?: string;
}

/** Column types that take a default only as an expression on MySQL 8 (`DEFAULT ('x')`). */
const EXPRESSION_DEFAULT_ONLY = /^(tiny|medium|long)?(text|blob)\b|^json\b|^geometry|^point|^polygon/i;
const CURRENT_TIME = /^(current_timestamp|now|localtimestamp|localtime)\s*(\(\s*\d*\s*\))?$/i;
const GENERATED = /\bGENERATED\s+ALWAYS\s+AS\b/i;
const NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)(e[+-]?\d+)?$/i;
const PORTABLE_STRING = /^'((?:[^']|'')*)'$/s;

/**
 * Renders a change of the portable schema model as MySQL / MariaDB statements, in order:
 *
 * - `createTable`: `CREATE TABLE` with columns (type from the mapping table, or `nativeType` verbatim
 *   when `type` is null), `NOT NULL` / `NULL` (explicit, so a nullable `TIMESTAMP` never picks up the
 *   legacy `NOT NULL DEFAULT CURRENT_TIMESTAMP`), defaults, `AUTO_INCREMENT`, the MySQL-only column
 *   fields of {@link MysqlColumnDefinition} (`COLLATE`, `ON UPDATE CURRENT_TIMESTAMP`), the primary key,
 *   checks and foreign keys, `ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`; then one `CREATE INDEX` per index.
 * - `dropTable` (`IF EXISTS`), `addColumn`, `createIndex`, `dropIndex` (`IF EXISTS` on MariaDB only:
 *   MySQL 8 has no such clause), `addForeignKey`.
 *
 * Throws core's `UsageError` for what InnoDB cannot do: partial indexes, expression key parts (except
 * for `flavor: 'mysql'`), `ON DELETE/UPDATE SET DEFAULT`, unknown index methods.
 *
 * @example
 * renderMysqlDdl({ kind: 'dropTable', table: 'users' }); // ['DROP TABLE IF EXISTS `users`']
 */
export function renderMysqlDdl(change: SchemaChange, options: MysqlDdlOptions = {}): string[] {
  const flavor = options.flavor ?? 'unknown';
  switch (change.kind) {
    case 'createTable':
      return renderCreateTable(change.table, flavor);
    case 'dropTable':
      return [`DROP TABLE IF EXISTS ${q(change.table)}`];
    case 'addColumn':
      return [`ALTER TABLE ${q(change.table)} ADD COLUMN ${renderColumn(change.table, change.column)}`];
    case 'createIndex':
      return [renderIndex(change.table, change.index, flavor)];
    case 'dropIndex':
      return [
        flavor === 'mariadb'
          ? `DROP INDEX IF EXISTS ${q(change.name)} ON ${q(change.table)}`
          : `DROP INDEX ${q(change.name)} ON ${q(change.table)}`,
      ];
    case 'addForeignKey':
      return [`ALTER TABLE ${q(change.table)} ADD ${renderForeignKey(change.table, change.foreignKey)}`];
    default: {
      const never: never = change;
      throw new UsageError(`unknown schema change ${JSON.stringify(never)}`);
    }
  }
}

function renderCreateTable(table: TableDefinition, flavor: MysqlFlavor): string[] {
  if (table.columns.length === 0) throw new UsageError(`table "${table.name}" has no columns`);
  const lines = table.columns.map((c) => renderColumn(table.name, c));
  if (table.primaryKey && table.primaryKey.columns.length > 0) {
    const name = table.primaryKey.name ? `CONSTRAINT ${q(table.primaryKey.name)} ` : '';
    lines.push(`${name}PRIMARY KEY (${table.primaryKey.columns.map(q).join(', ')})`);
  }
  for (const check of table.checks) lines.push(renderCheck(check));
  for (const fk of table.foreignKeys) lines.push(renderForeignKey(table.name, fk));
  const statements = [
    `CREATE TABLE ${q(table.name)} (\n  ${lines.join(',\n  ')}\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
  ];
  for (const index of table.indexes) {
    // InnoDB builds an index for a foreign key that no index covers, named after the constraint, and
    // introspection lists it. Creating it again under that name would fail as a duplicate key name.
    if (isImplicitForeignKeyIndex(index, table.foreignKeys)) continue;
    statements.push(renderIndex(table.name, index, flavor));
  }
  return statements;
}

function isImplicitForeignKeyIndex(index: IndexDefinition, foreignKeys: ForeignKeyDefinition[]): boolean {
  if (index.unique || index.where || index.method) return false;
  const parts = index.parts as MysqlIndexPart[];
  if (parts.some((p) => p.column === undefined || p.descending || p.length !== undefined)) return false;
  const columns = parts.map((p) => p.column);
  return foreignKeys.some(
    (fk) =>
      fk.name === index.name &&
      fk.columns.length === columns.length &&
      fk.columns.every((c, i) => c === columns[i]),
  );
}

function columnType(table: string, column: ColumnDefinition): string {
  if (column.type !== null) {
    // A type introspected from MySQL keeps its own fractional precision (`DATETIME` stays `DATETIME`,
    // not `DATETIME(6)`), so a snapshot recreates itself; other engines' spellings are not trusted.
    const native = column.nativeType?.trim();
    if (native && column.type === 'timestamp' && /^datetime(\(\d\))?$/i.test(native))
      return native.toUpperCase();
    if (native && column.type === 'timestamptz' && /^timestamp(\(\d\))?$/i.test(native)) {
      return native.toUpperCase();
    }
    return mysqlNativeType(column.type);
  }
  if (!column.nativeType) {
    throw new UsageError(
      `table "${table}", column "${column.name}": no type (type is null and no nativeType is given)`,
    );
  }
  return column.nativeType;
}

function renderColumn(table: string, column: ColumnDefinition): string {
  const type = columnType(table, column);
  let out = `${q(column.name)} ${type}`;
  const collation = (column as MysqlColumnDefinition).collation;
  if (collation !== undefined && collation !== '') {
    if (!/^[A-Za-z0-9_]+$/.test(collation)) {
      throw new UsageError(`table "${table}", column "${column.name}": invalid collation "${collation}"`);
    }
    // The collation goes between the type and GENERATED ALWAYS AS, so not after a generated column's type.
    if (!GENERATED.test(type)) out += ` COLLATE ${collation}`;
  }
  // MariaDB takes no NULL / NOT NULL after a generated column's expression (MySQL would).
  if (!GENERATED.test(type)) out += column.nullable ? ' NULL' : ' NOT NULL';
  if (!column.autoIncrement) {
    const dflt = renderDefault(column, type);
    if (dflt !== undefined) out += ` DEFAULT ${dflt}`;
  } else {
    out += ' AUTO_INCREMENT';
  }
  const onUpdate = (column as MysqlColumnDefinition).onUpdate?.trim();
  if (onUpdate) {
    if (!CURRENT_TIME.test(onUpdate)) {
      throw new UsageError(
        `table "${table}", column "${column.name}": ON UPDATE ${onUpdate} is not supported; ` +
          'MySQL only has ON UPDATE CURRENT_TIMESTAMP',
      );
    }
    // Same precision as the column, like the default: MySQL rejects DATETIME(6) ON UPDATE CURRENT_TIMESTAMP.
    out += ` ON UPDATE ${renderMysqlDefault('CURRENT_TIMESTAMP', type)}`;
  }
  const comment =
    (column.type !== null ? vectorComment(column.type) : undefined) ??
    (column as { comment?: unknown }).comment;
  if (typeof comment === 'string' && comment !== '') out += ` COMMENT ${mysqlStringLiteral(comment)}`;
  return out;
}

/**
 * Renders a portable default for a column of native type `nativeType`: `CURRENT_TIMESTAMP` with the
 * column's fractional precision (MySQL rejects `DATETIME(6) DEFAULT CURRENT_TIMESTAMP`), booleans as
 * `1`/`0`, string literals with MySQL escaping, and anything else as an expression in parentheses.
 * `undefined` when there is no default.
 *
 * @example
 * renderMysqlDefault("'it''s'", 'VARCHAR(20)'); // "'it''s'"
 * renderMysqlDefault('CURRENT_TIMESTAMP', 'TIMESTAMP(6)'); // 'CURRENT_TIMESTAMP(6)'
 */
export function renderMysqlDefault(value: string | null | undefined, nativeType: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  const v = value.trim();
  if (v === '' || /^null$/i.test(v)) return undefined;
  const expressionOnly = EXPRESSION_DEFAULT_ONLY.test(nativeType.trim());
  if (CURRENT_TIME.test(v)) {
    const precision = /^(datetime|timestamp)\s*\(\s*(\d)\s*\)/i.exec(nativeType.trim())?.[2];
    return precision && precision !== '0' ? `CURRENT_TIMESTAMP(${precision})` : 'CURRENT_TIMESTAMP';
  }
  if (/^(true|false)$/i.test(v)) {
    const isBoolean = /^tinyint\s*\(\s*1\s*\)/i.test(nativeType.trim());
    const rendered = isBoolean ? (v.toLowerCase() === 'true' ? '1' : '0') : v.toUpperCase();
    return expressionOnly ? `(${rendered})` : rendered;
  }
  const str = PORTABLE_STRING.exec(v);
  if (str) {
    const literal = mysqlStringLiteral(str[1]!.replace(/''/g, "'"));
    // MySQL 8 takes literal defaults for TEXT / BLOB / JSON only as expressions; MariaDB folds
    // `('x')` back to the literal, so both servers report the same default afterwards.
    return expressionOnly ? `(${literal})` : literal;
  }
  if (NUMBER.test(v)) return expressionOnly ? `(${v})` : v;
  return isParenthesized(v) ? v : `(${v})`;
}

function renderDefault(column: ColumnDefinition, nativeType: string): string | undefined {
  const boolean = column.type === 'boolean';
  // A boolean column given a portable `true` renders as 1 even when its native type was not tinyint(1).
  return renderMysqlDefault(column.default, boolean ? 'TINYINT(1)' : nativeType);
}

/** True when `expr` is one parenthesised group, such as `(1 + 2)` (not `(a) + (b)`). */
function isParenthesized(expr: string): boolean {
  if (!expr.startsWith('(') || !expr.endsWith(')')) return false;
  let depth = 0;
  let quote: string | undefined;
  for (let i = 0; i < expr.length; i++) {
    const c = expr[i]!;
    if (quote) {
      if (c === '\\') i++;
      else if (c === quote) quote = undefined;
      continue;
    }
    if (c === "'" || c === '"' || c === '`') quote = c;
    else if (c === '(') depth++;
    else if (c === ')') {
      depth--;
      if (depth === 0 && i < expr.length - 1) return false;
    }
  }
  return depth === 0;
}

/**
 * A MySQL string literal for the server's default `sql_mode`, where a backslash escapes: backslashes
 * and NUL are escaped, quotes doubled.
 *
 * @example
 * mysqlStringLiteral("it's"); // "'it''s'"
 * mysqlStringLiteral('C:\\temp'); // "'C:\\\\temp'"
 */
export function mysqlStringLiteral(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "''").replace(/\0/g, '\\0')}'`;
}

function renderCheck(check: CheckDefinition): string {
  const name = check.name ? `CONSTRAINT ${q(check.name)} ` : '';
  return `${name}CHECK (${check.expression})`;
}

const ACTIONS: Record<ForeignKeyAction, string | undefined> = {
  'no action': 'NO ACTION',
  restrict: 'RESTRICT',
  cascade: 'CASCADE',
  'set null': 'SET NULL',
  'set default': undefined,
};

function renderAction(table: string, fk: ForeignKeyDefinition, which: 'onDelete' | 'onUpdate'): string {
  const action = fk[which] ?? 'no action';
  const sql = ACTIONS[action];
  if (sql === undefined) {
    const clause = which === 'onDelete' ? 'ON DELETE' : 'ON UPDATE';
    throw new UsageError(
      `table "${table}", foreign key ${fk.name ? `"${fk.name}"` : `(${fk.columns.join(', ')})`}: ` +
        `${clause} ${String(action).toUpperCase()} is not supported by InnoDB (it rejects SET DEFAULT); ` +
        'use SET NULL, CASCADE, RESTRICT or NO ACTION',
    );
  }
  return sql;
}

function renderForeignKey(table: string, fk: ForeignKeyDefinition): string {
  const name = fk.name ? `CONSTRAINT ${q(fk.name)} ` : '';
  return (
    `${name}FOREIGN KEY (${fk.columns.map(q).join(', ')}) REFERENCES ${q(fk.referencedTable)} ` +
    `(${fk.referencedColumns.map(q).join(', ')}) ON DELETE ${renderAction(table, fk, 'onDelete')} ` +
    `ON UPDATE ${renderAction(table, fk, 'onUpdate')}`
  );
}

function renderIndex(table: string, index: IndexDefinition, flavor: MysqlFlavor): string {
  const where = `table "${table}", index "${index.name}"`;
  if (index.where !== undefined && index.where.trim() !== '') {
    throw new UsageError(
      `${where}: partial indexes (WHERE ${index.where}) are not supported by MySQL or MariaDB; ` +
        'drop the WHERE clause or leave the index out for this engine',
    );
  }
  if (index.parts.length === 0) throw new UsageError(`${where}: an index needs at least one key part`);
  const method = index.method?.toLowerCase();
  let kind = index.unique ? 'UNIQUE ' : '';
  let using = '';
  if (method === 'fulltext' || method === 'spatial') {
    if (index.unique) throw new UsageError(`${where}: a ${method} index cannot be unique`);
    kind = `${method.toUpperCase()} `;
  } else if (method === 'hash') {
    using = ' USING HASH';
  } else if (method !== undefined && method !== 'btree') {
    throw new UsageError(
      `${where}: index method "${index.method}" is not available on MySQL/MariaDB (btree, hash, fulltext, spatial)`,
    );
  }
  const parts = (index.parts as MysqlIndexPart[]).map((part) => {
    let sql: string;
    if (part.expression !== undefined) {
      if (flavor !== 'mysql') {
        throw new UsageError(
          `${where}: expression key part (${part.expression}) is not supported: MariaDB has no ` +
            'expression indexes (MySQL 8 has functional key parts, but a portable schema cannot rely on them); ' +
            'index a generated column instead',
        );
      }
      sql = `(${part.expression})`;
    } else if (part.column !== undefined) {
      sql = q(part.column) + (part.length !== undefined ? `(${part.length})` : '');
    } else {
      throw new UsageError(`${where}: a key part needs a column or an expression`);
    }
    return part.descending ? `${sql} DESC` : sql;
  });
  return `CREATE ${kind}INDEX ${q(index.name)} ON ${q(table)} (${parts.join(', ')})${using}`;
}
