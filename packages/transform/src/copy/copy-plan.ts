import {
  type BulkColumn,
  type CheckDefinition,
  type ColumnDefinition,
  type Dialect,
  type FieldMapping,
  type ForeignKeyDefinition,
  HISTORY_TABLES,
  type IndexDefinition,
  type PortableType,
  type SchemaSnapshot,
  type TableDefinition,
  type TableSnapshot,
  UsageError,
} from '@cmpkg/core';
import { type CopyMapping, mappingError } from './copy-mapping.js';
import { orderByForeignKeys } from './table-order.js';

/**
 * How one table is copied: what is read from the source, what is written to the target, and the
 * target's definition split into the table (created before the data) and its indexes and foreign
 * keys (created after it).
 *
 * @example
 * for (const t of plan.tables) console.log(`${t.source} -> ${t.target}`, t.targetColumns.map((c) => c.name));
 */
export interface CopyTablePlan {
  source: string;
  target: string;
  /** Source columns read, with their portable types (non-portable ones read as `text`). */
  readColumns: BulkColumn[];
  /** Target columns written, in the writer's order. */
  targetColumns: BulkColumn[];
  /**
   * For each target column, where its value comes from: the index of a read column, or a computed
   * field mapping (`mapping`).
   */
  sources: Array<{ read: number } | { mapping: FieldMapping }>;
  /** The table's field mappings as the mapping file has them (computed columns). */
  userMapping: FieldMapping[];
  /** The source's row count (an estimate where the engine keeps only statistics), for progress. */
  estimatedRows: number;
  /** The ordered unique key the source is paged by, when it has one. */
  key?: string[];
  filter?: string;
  /** The target table as created: no indexes and no foreign keys yet. */
  definition: TableDefinition;
  indexes: IndexDefinition[];
  foreignKeys: ForeignKeyDefinition[];
  /** Target columns that generate keys; their sequences are moved past the copied values. */
  autoIncrement: string[];
  warnings: string[];
}

/**
 * The whole copy, tables in foreign-key order (parents first).
 *
 * @example
 * const plan = planCopy({ source: snapshot, target: new PostgresDialect() });
 */
export interface CopyPlan {
  tables: CopyTablePlan[];
}

/**
 * The inputs of {@link planCopy}.
 *
 * @example
 * const input: PlanCopyInput = { source: await dialect.introspect(conn), target: pgDialect, tables: ['users'] };
 */
export interface PlanCopyInput {
  source: SchemaSnapshot;
  /** The target's dialect: its engine and capabilities decide what can be carried over. */
  target: Pick<Dialect, 'engine' | 'capabilities'>;
  tables?: readonly string[];
  /**
   * Also copy cmpkg's history tables (`cmpkg_migrations`, `cmpkg_steps`, `cmpkg_executions`,
   * `cmpkg_plugins`, `cmpkg_package_migrations`) found in `source`, under their own names: a
   * database moved to another engine keeps its migration history. Default false here; `copyDatabase` decides.
   */
  history?: boolean;
  mapping?: CopyMapping;
  /** Named in mapping errors. */
  mappingFile?: string;
  /** Picks the key a table is paged by (`chooseKey` of the table reader). */
  chooseKey?: (table: TableSnapshot) => string[] | undefined;
  /** The portable type a computed column gets; default: the mapped source column's type, else `text`. */
  computedType?: (mapping: FieldMapping, table: TableSnapshot) => PortableType | undefined;
}

/** cmpkg's history tables: copied under their own names when a copy carries the history. */
const HISTORY_TABLE_NAMES: ReadonlySet<string> = new Set(Object.values(HISTORY_TABLES));

/** Longest identifier every engine takes (PostgreSQL: 63 bytes, MySQL: 64 characters). */
const MAX_IDENTIFIER_BYTES = 63;

/** Defaults in the portable spelling introspection produces; anything else is engine-specific. */
const PORTABLE_DEFAULT =
  /^(?:'(?:[^']|'')*'|[+-]?\d+(?:\.\d+)?(?:e[+-]?\d+)?|true|false|null|current_timestamp|current_date|current_time)$/i;
/**
 * Expressions (checks, index expressions and conditions) without engine-specific syntax such as
 * `::` casts or quoted identifiers; only those are carried to another engine.
 */
const PORTABLE_EXPRESSION = /^[\w\s()<>=!,.'+\-*/%]+$/;

function checkIdentifier(name: string, what: string, fail: (message: string) => Error): void {
  if (name.trim() === '' || name !== name.trim())
    throw fail(`${what} "${name}" is empty or has surrounding spaces`);
  if (Buffer.byteLength(name) > MAX_IDENTIFIER_BYTES) {
    throw fail(
      `${what} "${name}" is longer than ${MAX_IDENTIFIER_BYTES} bytes, which not every engine takes`,
    );
  }
  if (name.toLowerCase().startsWith('cmpkg_'))
    throw fail(`${what} "${name}": names starting with cmpkg_ are reserved`);
}

/**
 * Decides everything a copy does before anything is written: which tables, in which order, under
 * which names, which columns (renamed, left out, computed), and the target DDL. Unknown tables or
 * columns in `tables` or the mapping, invalid or clashing target names are errors here — so a bad
 * mapping never leaves half a copy behind. `tables` defaults to every table except `cmpkg_*`.
 *
 * @example
 * const plan = planCopy({ source: await sqlite.introspect(conn), target: pg, mapping, mappingFile: 'mapping.json' });
 */
export function planCopy(input: PlanCopyInput): CopyPlan {
  const { source, target, mapping, mappingFile } = input;
  const byName = new Map(source.tables.map((t) => [t.name, t]));
  const available = () => [...byName.keys()].sort().join(', ') || '(none)';
  let selected: TableSnapshot[];
  if (input.tables !== undefined) {
    selected = [];
    for (const name of input.tables) {
      const table = byName.get(name);
      if (!table)
        throw new UsageError(`unknown table "${name}" in the tables to copy; the source has: ${available()}`);
      if (!selected.includes(table)) selected.push(table);
    }
  } else {
    selected = source.tables.filter((t) => !t.name.toLowerCase().startsWith('cmpkg_'));
  }
  if (input.history) {
    for (const table of source.tables) {
      if (HISTORY_TABLE_NAMES.has(table.name) && !selected.includes(table)) selected.push(table);
    }
  }
  for (const name of Object.keys(mapping?.tables ?? {})) {
    if (HISTORY_TABLE_NAMES.has(name)) {
      throw mappingError(mappingFile, `tables.${name}`, `cmpkg's history table "${name}" is copied as it is`);
    }
    if (!byName.has(name)) {
      throw mappingError(
        mappingFile,
        `tables.${name}`,
        `no table "${name}" in the source; it has: ${available()}`,
      );
    }
  }

  const sameEngine = source.engine === target.engine;
  const targetNames = new Map<string, string>();
  for (const table of selected) {
    const name = mapping?.tables[table.name]?.target ?? table.name;
    const fail = (message: string) => mappingError(mappingFile, `tables.${table.name}.target`, message);
    if (!HISTORY_TABLE_NAMES.has(name)) checkIdentifier(name, 'target table', fail);
    const clash = [...targetNames.entries()].find(([, t]) => t.toLowerCase() === name.toLowerCase());
    if (clash) throw fail(`target table "${name}" is also the target of "${clash[0]}"`);
    targetNames.set(table.name, name);
  }

  const plans = selected.map((table) => planTable(table, input, targetNames, sameEngine));
  if (target.engine === 'mysql') alignForeignKeyTypes(plans);
  const order = orderByForeignKeys(
    plans.map((p) => ({ name: p.target, foreignKeys: p.foreignKeys, plan: p })),
  );
  return { tables: order.map((o) => o.plan) };
}

function planTable(
  table: TableSnapshot,
  input: PlanCopyInput,
  targetNames: ReadonlyMap<string, string>,
  sameEngine: boolean,
): CopyTablePlan {
  const { mappingFile, target } = input;
  const spec = input.mapping?.tables[table.name] ?? {};
  const at = `tables.${table.name}`;
  const warnings: string[] = [];
  const targetName = targetNames.get(table.name) ?? table.name;
  const sourceColumns = new Map(table.columns.map((c) => [c.name, c]));

  for (const name of Object.keys(spec.columns ?? {})) {
    if (!sourceColumns.has(name)) {
      throw mappingError(
        mappingFile,
        `${at}.columns.${name}`,
        `no column "${name}" in source table "${table.name}"; it has: ${table.columns.map((c) => c.name).join(', ')}`,
      );
    }
  }

  // Copied columns: every source column not left out, under its (possibly new) name.
  const renamed = new Map<string, string>();
  const readColumns: BulkColumn[] = [];
  const columns: ColumnDefinition[] = [];
  const sources: CopyTablePlan['sources'] = [];
  const targetColumnNames = new Map<string, string>();
  const claim = (name: string, field: string, origin: string) => {
    const fail = (message: string) => mappingError(mappingFile, field, message);
    checkIdentifier(name, 'target column', fail);
    const previous = targetColumnNames.get(name.toLowerCase());
    if (previous !== undefined)
      throw fail(`target column "${name}" of "${targetName}" also comes from ${previous}`);
    targetColumnNames.set(name.toLowerCase(), origin);
  };
  for (const column of table.columns) {
    const given = spec.columns?.[column.name];
    const to = given === undefined ? column.name : given;
    const type = portableTypeOf(column, table.name, warnings);
    // Read even when left out of the target: computed columns may use it.
    readColumns.push({ name: column.name, type });
    if (to === null) continue;
    claim(to, `${at}.columns.${column.name}`, `source column "${column.name}"`);
    renamed.set(column.name, to);
    columns.push(targetColumn(column, to, type, sameEngine, table.name, warnings));
    sources.push({ read: readColumns.length - 1 });
  }

  // Computed columns: a mapping onto a copied column replaces that column's value.
  const computed: FieldMapping[] = [];
  for (const [i, m] of (spec.mapping ?? []).entries()) {
    const field = `${at}.mapping[${i}]`;
    const existing = columns.findIndex((c) => c.name === m.target);
    if (existing >= 0) {
      sources[existing] = { mapping: m };
      computed.push(m);
      continue;
    }
    claim(m.target, `${field}.target`, `mapping[${i}]`);
    const sourceColumn = sourceColumns.get(m.source);
    const sourceType = sourceColumn ? portableTypeOf(sourceColumn, table.name, []) : undefined;
    const type = input.computedType?.(m, table) ?? computedType(m, sourceType);
    columns.push({ name: m.target, type, nullable: !m.required });
    sources.push({ mapping: m });
    computed.push(m);
  }
  if (columns.length === 0)
    throw mappingError(mappingFile, `${at}.columns`, `every column of "${table.name}" is left out`);

  const rename = (c: string) => renamed.get(c);
  // Expressions (checks, expression and partial indexes) are copied as text, so they cannot follow a rename.
  const changed = table.columns.filter((c) => renamed.get(c.name) !== c.name).map((c) => c.name);
  const mentionsChanged = (expression: string) =>
    changed.some((c) => new RegExp(`(^|[^\\w])${escapeRegExp(c)}($|[^\\w])`).test(expression));
  const primaryKeyColumns = table.primaryKey?.columns.map(rename);
  let primaryKey: TableDefinition['primaryKey'];
  if (primaryKeyColumns?.every((c) => c !== undefined)) {
    primaryKey = {
      ...(table.primaryKey?.name ? { name: table.primaryKey.name } : {}),
      columns: primaryKeyColumns,
    };
  } else if (table.primaryKey) {
    warnings.push(
      `${targetName}: primary key left out with its column(s) ${table.primaryKey.columns.join(', ')}`,
    );
  }
  // Generated keys only stay generated where they still are the primary key, and where the target
  // engine can generate them there; elsewhere the values are copied as they are.
  for (const c of columns) {
    if (!c.autoIncrement) continue;
    const lost = !primaryKey?.columns.includes(c.name)
      ? undefined
      : generatedKeyLost(target.engine, primaryKey.columns, c.name);
    if (!primaryKey?.columns.includes(c.name) || lost) delete c.autoIncrement;
    if (lost) warnings.push(`${targetName}.${c.name}: values copied, but not generated any more: ${lost}`);
  }

  const indexes: IndexDefinition[] = [];
  for (const index of table.indexes) {
    const skip = indexSkipReason(index, target.capabilities, sameEngine, rename, mentionsChanged);
    if (skip) {
      warnings.push(`${targetName}: index ${index.name} not copied: ${skip}`);
      continue;
    }
    const { method, ...rest } = index;
    indexes.push({
      ...rest,
      ...(sameEngine && method ? { method } : {}),
      parts: index.parts.map((p) => (p.column !== undefined ? { ...p, column: rename(p.column) } : p)),
    });
    if (!sameEngine && method)
      warnings.push(`${targetName}: index ${index.name} uses ${method}; created with the default method`);
  }

  const foreignKeys: ForeignKeyDefinition[] = [];
  for (const fk of table.foreignKeys) {
    const referenced = targetNames.get(fk.referencedTable);
    const referencedTable = input.source.tables.find((t) => t.name === fk.referencedTable);
    const referencedSpec = input.mapping?.tables[fk.referencedTable]?.columns ?? {};
    const referencedColumns = fk.referencedColumns.map((c) =>
      referencedSpec[c] === undefined ? c : referencedSpec[c],
    );
    const columnsOut = fk.columns.map(rename);
    const label = fk.name ?? `(${fk.columns.join(', ')}) → ${fk.referencedTable}`;
    if (referenced === undefined || !referencedTable) {
      warnings.push(`${targetName}: foreign key ${label} not copied: ${fk.referencedTable} is not copied`);
    } else if (columnsOut.some((c) => c === undefined) || referencedColumns.some((c) => c === null)) {
      warnings.push(`${targetName}: foreign key ${label} not copied: one of its columns is left out`);
    } else {
      foreignKeys.push({
        ...fk,
        columns: columnsOut as string[],
        referencedTable: referenced,
        referencedColumns: referencedColumns as string[],
      });
    }
  }

  const checks: CheckDefinition[] = [];
  for (const check of table.checks) {
    const label = check.name ?? check.expression;
    if (mentionsChanged(check.expression)) {
      warnings.push(`${targetName}: check ${label} not copied: it uses a renamed or left-out column`);
    } else if (!sameEngine && !PORTABLE_EXPRESSION.test(check.expression)) {
      warnings.push(
        `${targetName}: check ${label} not copied: "${check.expression}" is ${input.source.engine}-specific`,
      );
    } else {
      checks.push(check);
    }
  }

  const key = input.chooseKey?.(table);
  const filter = spec.filter;
  return {
    source: table.name,
    target: targetName,
    readColumns,
    targetColumns: columns.map((c) => ({ name: c.name, type: c.type as PortableType })),
    sources,
    userMapping: computed,
    estimatedRows: table.rowCount,
    ...(key ? { key } : {}),
    ...(filter !== undefined ? { filter } : {}),
    definition: {
      name: targetName,
      columns,
      ...(primaryKey ? { primaryKey } : {}),
      indexes: [],
      foreignKeys: [],
      checks,
    },
    indexes,
    foreignKeys,
    autoIncrement: columns.filter((c) => c.autoIncrement).map((c) => c.name),
    warnings,
  };
}

/** What a built-in function returns, where it does not depend on its input. */
const FUNCTION_TYPES: Record<string, PortableType> = {
  boolean: 'boolean',
  date: 'date',
  length: 'integer',
  now: 'timestamptz',
  number: 'double',
  uuid: 'uuid',
};
/** Built-ins whose result has the input's type (numbers stay numbers, text stays text). */
const SAME_TYPE = new Set(['abs', 'ceil', 'floor', 'round', 'coalesce', 'default_if_empty']);

/**
 * The portable type of a new computed column: the source column's for a plain or type-keeping
 * mapping, the function's result type for the others, `text` otherwise.
 */
function computedType(m: FieldMapping, sourceType: PortableType | undefined): PortableType {
  const transform = m.transform;
  if (!transform) return sourceType ?? 'text';
  if (transform.type !== 'function' || typeof transform.definition !== 'string') return 'text';
  const name = transform.definition.toLowerCase();
  const fixed = FUNCTION_TYPES[name];
  if (fixed) return fixed;
  if (SAME_TYPE.has(name) && sourceType) return sourceType;
  return 'text';
}

const INTEGER_RANK: Readonly<Record<string, number>> = { smallint: 1, integer: 2, bigint: 3 };

/**
 * MySQL refuses a foreign key whose column is a narrower integer than the column it references
 * (errno 150), which other engines allow — SQLite's introspection even reports its rowid keys as
 * `bigint` and the columns referencing them as `integer`. Such a column is widened to the
 * referenced type: lossless, and noted as a warning.
 */
function alignForeignKeyTypes(plans: readonly CopyTablePlan[]): void {
  const byTarget = new Map(plans.map((p) => [p.target, p]));
  for (const plan of plans) {
    for (const fk of plan.foreignKeys) {
      const parent = byTarget.get(fk.referencedTable);
      if (!parent) continue;
      fk.columns.forEach((name, i) => {
        const column = plan.definition.columns.find((c) => c.name === name);
        const referenced = parent.definition.columns.find((c) => c.name === fk.referencedColumns[i]);
        if (!column || !referenced || column.type === null || referenced.type === null) return;
        const have = INTEGER_RANK[column.type];
        const need = INTEGER_RANK[referenced.type];
        if (have === undefined || need === undefined || have >= need) return;
        plan.warnings.push(
          `${plan.target}.${name}: ${column.type} widened to ${referenced.type}, the type of ${parent.target}.${referenced.name} it references (mysql needs both the same)`,
        );
        column.type = referenced.type;
        const written = plan.targetColumns.find((c) => c.name === name);
        if (written) written.type = referenced.type;
      });
    }
  }
}

/**
 * Why the target engine cannot generate a primary-key column's values (CREATE TABLE would fail),
 * if it cannot.
 */
function generatedKeyLost(engine: string, primaryKey: readonly string[], column: string): string | undefined {
  if (engine === 'mysql' && primaryKey[0] !== column) {
    return `mysql generates keys only for the first column of a key, and the primary key is (${primaryKey.join(', ')})`;
  }
  if (engine === 'sqlite' && primaryKey.length !== 1) {
    return `sqlite generates keys only for a single-column INTEGER PRIMARY KEY, and the primary key is (${primaryKey.join(', ')})`;
  }
  return undefined;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function portableTypeOf(column: ColumnDefinition, table: string, warnings: string[]): PortableType {
  if (column.type !== null) return column.type;
  warnings.push(
    `${table}.${column.name}: ${column.nativeType ?? 'its type'} has no portable type; copied as text`,
  );
  return 'text';
}

function targetColumn(
  column: ColumnDefinition,
  name: string,
  type: PortableType,
  sameEngine: boolean,
  table: string,
  warnings: string[],
): ColumnDefinition {
  const out: ColumnDefinition = { name, type, nullable: column.nullable };
  if (column.autoIncrement) out.autoIncrement = true;
  else if (column.default !== undefined && column.default !== null) {
    if (sameEngine || PORTABLE_DEFAULT.test(column.default.trim())) out.default = column.default;
    else warnings.push(`${table}.${column.name}: default ${column.default} is engine-specific; not copied`);
  }
  return out;
}

function indexSkipReason(
  index: IndexDefinition,
  capabilities: Dialect['capabilities'],
  sameEngine: boolean,
  rename: (column: string) => string | undefined,
  mentionsChanged: (expression: string) => boolean,
): string | undefined {
  if (index.parts.some((p) => p.column !== undefined && rename(p.column) === undefined)) {
    return 'one of its columns is left out';
  }
  for (const { expression } of index.parts) {
    if (expression === undefined) continue;
    if (!capabilities.expressionIndexes) return 'the target has no expression indexes';
    if (mentionsChanged(expression)) return 'its expression uses a renamed or left-out column';
    if (!sameEngine && !PORTABLE_EXPRESSION.test(expression)) return 'its expression is engine-specific';
  }
  if (index.where !== undefined) {
    if (!capabilities.partialIndexes) return 'the target has no partial indexes';
    if (mentionsChanged(index.where)) return 'its condition uses a renamed or left-out column';
    if (!sameEngine && !PORTABLE_EXPRESSION.test(index.where)) return 'its condition is engine-specific';
  }
  return undefined;
}
