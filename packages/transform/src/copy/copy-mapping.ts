import { DataTransferError, type FieldMapping, FieldMappingSchema } from '@cmpkg/core';

/**
 * How one source table is copied: under another name, with columns renamed or left out, with
 * computed columns (`mapping`, like a transform's field mappings), and/or only the rows a filter keeps.
 *
 * @example
 * const users: CopyTableMapping = {
 *   target: 'accounts',
 *   columns: { email: 'login', password_hash: null },
 *   mapping: [{ source: 'name', target: 'display_name', transform: { type: 'function', definition: 'upper' }, required: false }],
 *   filter: 'deleted_at IS NULL',
 * };
 */
export interface CopyTableMapping {
  /** The target table's name; default: the source table's name. */
  target?: string;
  /** Source column → target column name, or `null` to leave the column out. Others keep their name. */
  columns?: Record<string, string | null>;
  /** Computed target columns; a mapping whose `target` is also a copied column replaces its value. */
  mapping?: FieldMapping[];
  /** An SQL condition on the source table (`WHERE`); only matching rows are copied. */
  filter?: string;
}

/**
 * The mapping file of `cmpkg copy --map mapping.json`: per source table, how it is copied. Tables
 * not listed are copied unchanged.
 *
 * @example
 * const mapping: CopyMapping = { tables: { users: { target: 'accounts', columns: { legacy_flag: null } } } };
 */
export interface CopyMapping {
  tables: Record<string, CopyTableMapping>;
}

const TABLE_KEYS = new Set(['target', 'columns', 'mapping', 'filter']);

/** Path segments → `tables.users.mapping[0].transform`. */
function fieldPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out === '' ? String(key) : `.${String(key)}`;
  }
  return out;
}

/**
 * The one way copy reports a bad mapping: `E_MAPPING` with the file and the dotted field first.
 *
 * @example
 * throw mappingError('mapping.json', 'tables.users.target', 'must be a non-empty string');
 */
export function mappingError(file: string | undefined, field: string, message: string): DataTransferError {
  const where = [file, field ? `field "${field}"` : ''].filter(Boolean).join(' ');
  return new DataTransferError('E_MAPPING', where ? `${where}: ${message}` : message, {
    details: { ...(file !== undefined ? { file } : {}), field },
  });
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Validates a parsed mapping file (`JSON.parse` of mapping.json) into a {@link CopyMapping}. Every
 * problem is an `E_MAPPING` error naming `file` and the field (`tables.users.columns.email`); unknown
 * keys are errors too, so a typo never silently copies the wrong thing. Whether the tables and
 * columns exist is checked later, against the source schema (`planCopy`).
 *
 * @example
 * const mapping = parseCopyMapping(JSON.parse(readFileSync('mapping.json', 'utf8')), 'mapping.json');
 */
export function parseCopyMapping(json: unknown, file?: string): CopyMapping {
  const fail = (path: readonly PropertyKey[], message: string) =>
    mappingError(file, fieldPath(path), message);
  if (!isRecord(json)) throw fail([], 'a copy mapping must be a JSON object with a "tables" object');
  for (const key of Object.keys(json)) {
    if (key !== 'tables' && key !== '$schema') throw fail([key], 'unknown field; expected "tables"');
  }
  const tables = json.tables;
  if (!isRecord(tables)) throw fail(['tables'], 'must be an object of source table name → table mapping');
  const out: CopyMapping = { tables: {} };
  for (const [name, raw] of Object.entries(tables)) {
    const at = ['tables', name];
    if (!isRecord(raw)) throw fail(at, 'must be an object with target, columns, mapping and/or filter');
    for (const key of Object.keys(raw)) {
      if (!TABLE_KEYS.has(key))
        throw fail([...at, key], 'unknown field; expected target, columns, mapping or filter');
    }
    const table: CopyTableMapping = {};
    if (raw.target !== undefined) {
      if (typeof raw.target !== 'string' || raw.target.trim() === '') {
        throw fail([...at, 'target'], 'must be a non-empty table name');
      }
      table.target = raw.target;
    }
    if (raw.filter !== undefined) {
      if (typeof raw.filter !== 'string' || raw.filter.trim() === '') {
        throw fail([...at, 'filter'], 'must be a non-empty SQL condition');
      }
      table.filter = raw.filter;
    }
    if (raw.columns !== undefined) {
      if (!isRecord(raw.columns)) {
        throw fail(
          [...at, 'columns'],
          'must be an object of source column → new name (or null to leave it out)',
        );
      }
      const columns: Record<string, string | null> = {};
      for (const [column, to] of Object.entries(raw.columns)) {
        if (to !== null && (typeof to !== 'string' || to.trim() === '')) {
          throw fail(
            [...at, 'columns', column],
            'must be the new column name or null to leave the column out',
          );
        }
        columns[column] = to;
      }
      table.columns = columns;
    }
    if (raw.mapping !== undefined) {
      if (!Array.isArray(raw.mapping)) throw fail([...at, 'mapping'], 'must be an array of field mappings');
      const mapping: FieldMapping[] = [];
      for (const [i, entry] of raw.mapping.entries()) {
        const parsed = FieldMappingSchema.safeParse(entry);
        if (parsed.success) {
          mapping.push(parsed.data);
          continue;
        }
        const issue = parsed.error.issues[0];
        const path: PropertyKey[] = [...at, 'mapping', i, ...(issue?.path ?? [])];
        if (issue?.code === 'unrecognized_keys' && issue.keys[0] !== undefined) path.push(issue.keys[0]);
        throw fail(path, issue?.message ?? 'invalid field mapping');
      }
      table.mapping = mapping;
    }
    out.tables[name] = table;
  }
  return out;
}

/**
 * Parses the text of a mapping file into a {@link CopyMapping}: invalid JSON is an `E_MAPPING` error
 * naming `file:line:column` (V8 reports only an offset, and people look for a line); the rest is
 * {@link parseCopyMapping}.
 *
 * @example
 * const mapping = parseCopyMappingText(readFileSync('mapping.json', 'utf8'), 'mapping.json');
 */
export function parseCopyMappingText(text: string, file?: string): CopyMapping {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    const position = /at position (\d+)/.exec(message);
    const where = position ? lineAndColumn(text, Number(position[1])) : undefined;
    const at = where ? `:${where.line}:${where.column}` : '';
    throw new DataTransferError(
      'E_MAPPING',
      `${file ?? 'mapping'}${at}: invalid JSON: ${message.replace(/\s*in JSON at position \d+.*$/, '')}`,
      { details: { ...(file !== undefined ? { file } : {}), ...(where ?? {}) }, cause: err },
    );
  }
  return parseCopyMapping(json, file);
}

function lineAndColumn(text: string, offset: number): { line: number; column: number } {
  const lines = text.slice(0, offset).split(/\r\n|\r|\n/);
  return { line: lines.length, column: (lines.at(-1)?.length ?? 0) + 1 };
}
