import type {
  BulkColumn,
  Engine,
  FieldMapping,
  PortableType,
  PortableTypeKind,
  PortableValue,
  ValidationRule,
} from '@cmpkg/core';
import {
  DataTransferError,
  decodeValue,
  parsePortableType,
  TRANSFORM_FUNCTIONS,
  valueDecoder,
} from '@cmpkg/core';
import { type BatchTarget, RowError } from '../batch-loop.js';
import { defaultRegistry, type TransformRegistry } from '../registry.js';
import { describeKey } from '../table-reader.js';
import { type CompiledRule, compileRule } from '../validation.js';
import { asRowError, BUILTIN_FUNCTIONS, type BuiltinFunction, type RunContext } from './functions.js';

/**
 * A field mapping as written (`required` may be left out).
 *
 * @example
 * const m: MappingEntry = { source: 'email', target: 'email', transform: { type: 'function', definition: 'lower' } };
 */
export type MappingEntry = Omit<FieldMapping, 'required'> & { required?: boolean };

/**
 * A column as the compiler needs it; `type: null` (no portable equivalent) is handled as `text`.
 *
 * @example
 * const c: MappingColumn = { name: 'email', type: 'varchar(200)' };
 */
export interface MappingColumn {
  name: string;
  type: PortableType | null;
}

/**
 * Input of {@link compileMapping}.
 *
 * @example
 * const options: CompileMappingOptions = {
 *   source: { table: 'users', columns: [{ name: 'id', type: 'bigint' }, { name: 'email', type: 'text' }] },
 *   targets: [{ table: 'people', columns: [{ name: 'id', type: 'bigint' }, { name: 'mail', type: 'text' }] }],
 *   mapping: [{ source: 'id', target: 'id' }, { source: 'email', target: 'mail', transform: { type: 'function', definition: 'lower' } }],
 *   key: ['id'],
 * };
 */
export interface CompileMappingOptions {
  source: { table: string; columns: readonly MappingColumn[] };
  /**
   * The tables written. With one target a mapping's `target` is a column (or `table.column`);
   * with several (split) it must be `table.column`.
   */
  targets: readonly { table: string; columns: readonly MappingColumn[] }[];
  mapping: readonly MappingEntry[];
  validation?: readonly ValidationRule[];
  /** The source key: its columns are read too, and name rows in messages. */
  key?: readonly string[];
  registry?: TransformRegistry;
  /** Where the mapping came from, for messages (`mapping.json`, `migration kb-004 step 2`). */
  origin?: string;
  /** Field path prefix of the mapping list in messages (default `mapping`). */
  field?: string;
  run?: RunContext;
}

/**
 * A mapping compiled once into an array of per-column functions: what to read, what to write, and
 * how to turn a source row into target rows.
 *
 * @example
 * const compiled = compileMapping(options);
 * for await (const batch of readTable(db, { table: 'users', columns: compiled.readColumns, extra: compiled.extras, key: ['id'], batchSize: 1000 })) {
 *   for (let i = 0; i < batch.rows.length; i++) console.log(compiled.mapRow(batch.rows[i]!, batch.extras[i]!));
 * }
 */
export interface CompiledMapping {
  /** Source columns to read (referenced ones, the key, and every column when a custom function needs the row). */
  readColumns: BulkColumn[];
  /** `expression` mappings, for `readTable`'s `extra`. */
  extras: { alias: string; expression: string }[];
  /** One per target, with the mapped columns in mapping order (mode `insert`). */
  targets: BatchTarget[];
  /**
   * Target rows (one per target) for a source row read with `readColumns` and `extras`. Throws
   * {@link RowError} for a bad row (a value the target column cannot hold, a null in a required
   * field, a failed validation rule of severity `error`) and `E_TRANSFORM_FAILED` when a custom
   * function throws.
   */
  mapRow(row: readonly PortableValue[], extras: readonly unknown[]): PortableValue[][];
  /** The row's key for messages (`id=5`). */
  describeRow(row: readonly PortableValue[]): string;
  /** Warnings counted so far (rules of severity `warning` that failed), by rule. */
  warnings(): Array<{ field: string; rule: string; message: string; count: number }>;
  /**
   * For the fast path: per target, one SQL expression per target column over the source table
   * (engine of the source), or `undefined` when something cannot be computed in SQL there.
   */
  sql(engine: Engine, quote: (name: string) => string): string[][] | undefined;
  usesCustom: boolean;
  hasRules: boolean;
}

interface ColumnPlan {
  targetIndex: number;
  field: string;
  type: PortableType;
  compute: (row: readonly PortableValue[], extras: readonly unknown[]) => unknown;
  render: (engine: Engine, quote: (name: string) => string) => string | undefined;
  defaultValue: PortableValue;
  hasDefault: boolean;
  required: boolean;
  passthrough: boolean;
  /** `valueDecoder(type)`, made on first use. */
  decode?: (raw: unknown) => PortableValue;
}

const TEXT: PortableType = 'text';
const kindOf = (type: PortableType | null | undefined): PortableTypeKind | undefined =>
  type ? parsePortableType(type).kind : undefined;
const isTextKind = (k: PortableTypeKind | undefined) => k === 'text' || k === 'varchar' || k === 'uuid';

/**
 * An SQL literal of a JSON-ish value for `engine` (strings quoted with `'` doubled, and `\`
 * doubled on MySQL, where it escapes).
 *
 * @example
 * sqlLiteral('mysql', "O'Brien\\"); // "'O''Brien\\\\'"
 */
export function sqlLiteral(engine: Engine, value: unknown): string {
  if (value === null || value === undefined) return 'NULL';
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : 'NULL';
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'boolean') return value ? 'TRUE' : 'FALSE';
  let s = typeof value === 'string' ? value : JSON.stringify(value);
  s = s.replace(/'/g, "''");
  if (engine === 'mysql') s = s.replace(/\\/g, '\\\\');
  return `'${s}'`;
}

/**
 * Compiles a field mapping (and its validation rules) against the source and target columns.
 * Every unknown table, column, function, custom name, malformed parameter or rule is an
 * `E_MAPPING` error naming the origin and the field (`mapping[2].transform.definition`), raised
 * before anything is read or written.
 *
 * Mapping types: no `transform` copies the value; `function` applies a built-in
 * ({@link BUILTIN_FUNCTIONS}) with `parameters` as further arguments (an array, or an object by
 * parameter name; `{ "column": "x" }` reads source column x); `lookup` maps the value (as text)
 * through an object, misses take `defaultValue`; `expression` is SQL the source database
 * evaluates in the SELECT; `custom` calls a registered function. Then `null` takes `defaultValue`,
 * a remaining `null` in a `required` field is a row error, and the value is converted to the target
 * column's type (`decodeValue`).
 *
 * @example
 * const compiled = compileMapping({ source, targets, mapping, key: ['id'] });
 * compiled.mapRow([1, 'ADA@EXAMPLE.COM'], []); // [[1, 'ada@example.com']]
 */
export function compileMapping(options: CompileMappingOptions): CompiledMapping {
  const registry = options.registry ?? defaultRegistry;
  const run = options.run ?? { now: new Date().toISOString() };
  const origin = options.origin ? `${options.origin}: ` : '';
  const fieldPrefix = options.field ?? 'mapping';
  const { source } = options;
  const mappingError = (field: string, message: string): never => {
    throw new DataTransferError('E_MAPPING', `${origin}${field}: ${message}`, {
      details: { ...(options.origin ? { file: options.origin } : {}), field, table: source.table },
    });
  };
  if (options.targets.length === 0) mappingError(fieldPrefix, 'no target table');

  const sourceColumns = new Map(source.columns.map((c) => [c.name, c] as const));
  const needSource = (name: string, field: string): MappingColumn =>
    sourceColumns.get(name) ??
    mappingError(
      field,
      `no column "${name}" in source table ${source.table} (columns: ${source.columns.map((c) => c.name).join(', ')})`,
    );

  // Expand `*` (copy every column the target also has) before anything else.
  const entries: { entry: MappingEntry; field: string }[] = [];
  options.mapping.forEach((entry, i) => {
    const field = `${fieldPrefix}[${i}]`;
    if (entry.target === '*' || (entry.source === '*' && !entry.transform)) {
      if (entry.source !== '*' || entry.target !== '*' || entry.transform || options.targets.length !== 1) {
        mappingError(
          field,
          '"*" maps every column of the same name: use it as both source and target, without a transform, with one target',
        );
      }
      const targetNames = new Set(options.targets[0]!.columns.map((c) => c.name));
      for (const c of source.columns) {
        if (targetNames.has(c.name)) entries.push({ entry: { source: c.name, target: c.name }, field });
      }
      return;
    }
    entries.push({ entry, field });
  });

  const readColumns: BulkColumn[] = [];
  const readIndex = new Map<string, number>();
  const read = (name: string, field: string): number => {
    let i = readIndex.get(name);
    if (i === undefined) {
      const c = needSource(name, field);
      i = readColumns.length;
      readColumns.push({ name, type: c.type ?? TEXT });
      readIndex.set(name, i);
    }
    return i;
  };
  const keyIdx = (options.key ?? []).map((k) => read(k, 'key'));
  const extras: { alias: string; expression: string }[] = [];
  let usesCustom = false;

  // Lazily built row object for custom functions: one per row, shared by every custom mapping.
  let rowObject: Record<string, unknown> | undefined;
  let rowObjectFor: readonly PortableValue[] | undefined;
  const rowAsObject = (row: readonly PortableValue[]): Record<string, unknown> => {
    if (rowObjectFor !== row || rowObject === undefined) {
      const obj: Record<string, unknown> = {};
      for (let i = 0; i < readColumns.length; i++) obj[readColumns[i]!.name] = row[i];
      rowObject = obj;
      rowObjectFor = row;
    }
    return rowObject;
  };

  const targetColumns: BulkColumn[][] = options.targets.map(() => []);
  const plans: ColumnPlan[][] = options.targets.map(() => []);
  const seenTargets = new Set<string>();

  for (const { entry, field } of entries) {
    // Which target table and column.
    let t = 0;
    let column = entry.target;
    const dot = entry.target.indexOf('.');
    if (
      options.targets.length > 1 ||
      (dot > 0 && options.targets.some((x) => x.table === entry.target.slice(0, dot)))
    ) {
      if (dot <= 0) {
        mappingError(
          `${field}.target`,
          `with several targets, name the column as table.column (targets: ${options.targets.map((x) => x.table).join(', ')})`,
        );
      }
      const table = entry.target.slice(0, dot);
      t = options.targets.findIndex((x) => x.table === table);
      if (t < 0)
        mappingError(
          `${field}.target`,
          `${table} is not a target of this transform (targets: ${options.targets.map((x) => x.table).join(', ')})`,
        );
      column = entry.target.slice(dot + 1);
    }
    const target = options.targets[t]!;
    const targetColumn =
      target.columns.find((c) => c.name === column) ??
      mappingError(
        `${field}.target`,
        `no column "${column}" in target table ${target.table} (columns: ${target.columns.map((c) => c.name).join(', ')})`,
      );
    const qualified = `${target.table}.${column}`;
    if (seenTargets.has(qualified)) mappingError(`${field}.target`, `${qualified} is mapped twice`);
    seenTargets.add(qualified);
    const type = targetColumn.type ?? TEXT;
    const targetKind = kindOf(type)!;

    let compute: ColumnPlan['compute'];
    let render: ColumnPlan['render'];
    let passthrough = false;
    const spec = entry.transform;
    if (!spec) {
      const i = read(entry.source, `${field}.source`);
      // Already a PortableValue of the target's type: no second decode in the hot loop.
      passthrough = readColumns[i]!.type === type;
      compute = (row) => row[i];
      render = (_e, q) => q(entry.source);
    } else if (spec.type === 'function') {
      ({ compute, render } = compileFunction(entry, field, targetKind));
    } else if (spec.type === 'lookup') {
      const i = read(entry.source, `${field}.source`);
      const sourceKind = kindOf(readColumns[i]!.type);
      let table: unknown = spec.definition;
      if (typeof table === 'string') {
        try {
          table = JSON.parse(table);
        } catch (err) {
          mappingError(
            `${field}.transform.definition`,
            `lookup table is not valid JSON (${(err as Error).message})`,
          );
        }
      }
      if (typeof table !== 'object' || table === null || Array.isArray(table)) {
        mappingError(
          `${field}.transform.definition`,
          'a lookup needs an object from source value to target value',
        );
      }
      const map = new Map(Object.entries(table as Record<string, unknown>));
      compute = (row) => {
        const v = row[i];
        if (v === null || v === undefined) return null;
        const key = v instanceof Uint8Array ? Buffer.from(v).toString('utf8') : String(v);
        return map.has(key) ? map.get(key) : null;
      };
      render = (engine, q) => {
        // CASE over the text of the value; only where that text matches JavaScript's String().
        if (!isTextKind(sourceKind) && !['integer', 'smallint', 'bigint'].includes(sourceKind ?? ''))
          return undefined;
        const input =
          engine === 'postgresql' && !isTextKind(sourceKind)
            ? `CAST(${q(entry.source)} AS TEXT)`
            : q(entry.source);
        if (map.size === 0) return 'NULL';
        const whens = [...map].map(([k, v]) => `WHEN ${sqlLiteral(engine, k)} THEN ${sqlLiteral(engine, v)}`);
        return `CASE ${input} ${whens.join(' ')} ELSE NULL END`;
      };
    } else if (spec.type === 'expression') {
      if (typeof spec.definition !== 'string' || spec.definition.trim() === '') {
        mappingError(`${field}.transform.definition`, 'an expression needs SQL text');
      }
      const x = extras.length;
      const expression = spec.definition as string;
      extras.push({ alias: column, expression });
      compute = (_row, ex) => ex[x];
      render = () => `(${expression})`;
    } else {
      const name = typeof spec.definition === 'string' ? spec.definition : undefined;
      const fn =
        (name !== undefined ? registry.get(name) : undefined) ??
        mappingError(
          `${field}.transform.definition`,
          `no custom transform ${JSON.stringify(spec.definition)} is registered (registered: ${registry.names().join(', ') || 'none'}; use registerTransform)`,
        );
      usesCustom = true;
      // `"source": "*"`: the function looks at the whole row only.
      const i = entry.source === '*' ? -1 : read(entry.source, `${field}.source`);
      const parameters = spec.parameters;
      compute = (row) => {
        let out: unknown;
        try {
          out = fn(i >= 0 ? row[i] : undefined, rowAsObject(row), parameters);
        } catch (err) {
          throw new DataTransferError(
            'E_TRANSFORM_FAILED',
            `custom transform "${name}" (${field}, ${source.table}.${entry.source} -> ${qualified}) threw: ${(err as Error)?.message ?? String(err)}`,
            { cause: err, details: { transform: name, field, table: source.table } },
          );
        }
        if (out instanceof Promise) {
          throw new DataTransferError(
            'E_TRANSFORM_FAILED',
            `custom transform "${name}" (${field}) returned a Promise: custom transforms must be synchronous`,
            { details: { transform: name, field } },
          );
        }
        return out;
      };
      render = () => undefined;
    }

    let defaultValue: PortableValue = null;
    const hasDefault = entry.defaultValue !== undefined && entry.defaultValue !== null;
    if (hasDefault) {
      try {
        defaultValue = decodeValue(type, entry.defaultValue);
      } catch (err) {
        mappingError(
          `${field}.defaultValue`,
          `does not fit ${qualified} (${type}): ${(err as Error).message}`,
        );
      }
    }
    const required = entry.required ?? false;
    const baseRender = render;
    const renderWithDefault: ColumnPlan['render'] = (engine, q) => {
      const sql = baseRender(engine, q);
      if (sql === undefined) return undefined;
      if (hasDefault) return `COALESCE(${sql}, ${sqlLiteral(engine, entry.defaultValue)})`;
      // A required field without a default needs a row error, which SQL cannot raise.
      return required ? undefined : sql;
    };
    targetColumns[t]!.push({ name: column, type });
    plans[t]!.push({
      targetIndex: targetColumns[t]!.length - 1,
      field: options.targets.length > 1 ? qualified : column,
      type,
      compute,
      render: renderWithDefault,
      defaultValue,
      hasDefault,
      required,
      passthrough,
    });
  }
  plans.forEach((p, t) => {
    if (p.length === 0)
      mappingError(fieldPrefix, `nothing is mapped to target table ${options.targets[t]!.table}`);
  });

  // Every column a custom function may look at.
  if (usesCustom) for (const c of source.columns) read(c.name, 'source');

  // Validation rules, on target fields.
  const rules: Array<{ t: number; col: number; rule: CompiledRule; source: ValidationRule; count: number }> =
    [];
  (options.validation ?? []).forEach((v, i) => {
    const where = `${origin}validation[${i}]`;
    let t = -1;
    let col = -1;
    for (let ti = 0; ti < plans.length && col < 0; ti++) {
      col = plans[ti]!.findIndex(
        (p) =>
          p.field === v.field ||
          `${options.targets[ti]!.table}.${targetColumns[ti]![p.targetIndex]!.name}` === v.field,
      );
      if (col >= 0) t = ti;
    }
    if (col < 0) {
      mappingError(
        `validation[${i}].field`,
        `${JSON.stringify(v.field)} is not a mapped target field (${plans.flatMap((p) => p.map((x) => x.field)).join(', ')})`,
      );
    }
    rules.push({ t, col, rule: compileRule(v.rule, where), source: v, count: 0 });
  });
  const errorRules = rules.filter((r) => r.source.severity !== 'warning');
  const warningRules = rules.filter((r) => r.source.severity === 'warning');

  function finalize(p: ColumnPlan, raw: unknown): PortableValue {
    const value = raw;
    if (value === null || value === undefined) {
      if (p.hasDefault) return p.defaultValue;
      if (p.required)
        throw new RowError(`${p.field}: a value is required`, { field: p.field, rule: 'required' });
      return null;
    }
    if (p.passthrough) return value as PortableValue;
    try {
      p.decode ??= valueDecoder(p.type);
      return p.decode(value);
    } catch (err) {
      throw asRowError(err, p.field);
    }
  }

  const width = plans.map((p) => p.length);
  return {
    readColumns,
    extras,
    targets: options.targets.map((t, i) => ({ table: t.table, columns: targetColumns[i]! })),
    usesCustom,
    hasRules: rules.length > 0,
    mapRow(row, rowExtras) {
      const out: PortableValue[][] = new Array(plans.length);
      for (let t = 0; t < plans.length; t++) {
        const ps = plans[t]!;
        const values: PortableValue[] = new Array(width[t]!);
        for (let c = 0; c < ps.length; c++) {
          const p = ps[c]!;
          let raw: unknown;
          try {
            raw = p.compute(row, rowExtras);
          } catch (err) {
            if (err instanceof DataTransferError) throw err;
            throw asRowError(err, p.field);
          }
          values[c] = finalize(p, raw);
        }
        out[t] = values;
      }
      for (const r of errorRules) {
        if (!r.rule.test(out[r.t]![r.col]!)) {
          throw new RowError(r.source.message || `${r.source.field}: fails ${r.source.rule}`, {
            field: r.source.field,
            rule: r.source.rule,
          });
        }
      }
      for (const r of warningRules) if (!r.rule.test(out[r.t]![r.col]!)) r.count++;
      return out;
    },
    describeRow(row) {
      return describeKey(
        options.key ?? [],
        keyIdx.map((i) => row[i] ?? null),
      );
    },
    warnings() {
      return warningRules
        .filter((r) => r.count > 0)
        .map((r) => ({
          field: r.source.field,
          rule: r.source.rule,
          message: r.source.message,
          count: r.count,
        }));
    },
    sql(engine, quote) {
      const out: string[][] = [];
      for (const ps of plans) {
        const exprs: string[] = [];
        for (const p of ps) {
          const s = p.render(engine, quote);
          if (s === undefined) return undefined;
          exprs.push(s);
        }
        out.push(exprs);
      }
      return out;
    },
  };

  function compileFunction(
    entry: MappingEntry,
    field: string,
    targetKind: PortableTypeKind,
  ): Pick<ColumnPlan, 'compute' | 'render'> {
    const spec = entry.transform!;
    const name = typeof spec.definition === 'string' ? spec.definition.trim().toLowerCase() : '';
    if (!(TRANSFORM_FUNCTIONS as readonly string[]).includes(name)) {
      mappingError(
        `${field}.transform.definition`,
        `unknown function ${JSON.stringify(spec.definition)} (built-ins: ${TRANSFORM_FUNCTIONS.join(', ')})`,
      );
    }
    const fn: BuiltinFunction = BUILTIN_FUNCTIONS[name as keyof typeof BUILTIN_FUNCTIONS];
    // Arguments: literals, or { column } references to source columns.
    let given: unknown[];
    const params = spec.parameters;
    if (params === undefined) given = [];
    else if (Array.isArray(params)) given = params;
    else {
      if (fn.variadic)
        mappingError(`${field}.transform.parameters`, `${name} takes its arguments as an array`);
      for (const k of Object.keys(params)) {
        if (!fn.params.includes(k)) {
          mappingError(
            `${field}.transform.parameters.${k}`,
            `${name} has no parameter "${k}" (parameters: ${fn.params.join(', ') || 'none'})`,
          );
        }
      }
      given = fn.params.map((p) => (params as Record<string, unknown>)[p]);
      while (given.length > 0 && given[given.length - 1] === undefined) given.pop();
    }
    if (given.length < fn.required) {
      mappingError(
        `${field}.transform.parameters`,
        `${name} needs ${fn.required} parameter(s): ${fn.params.slice(0, fn.required).join(', ')}`,
      );
    }
    if (!fn.variadic && given.length > fn.params.length) {
      mappingError(
        `${field}.transform.parameters`,
        `${name} takes at most ${fn.params.length} parameter(s)${fn.params.length ? `: ${fn.params.join(', ')}` : ''}`,
      );
    }
    const refs = given.map((g, j) => {
      if (typeof g === 'object' && g !== null && !Array.isArray(g)) {
        const col = (g as { column?: unknown }).column;
        if (typeof col !== 'string' || Object.keys(g).length !== 1) {
          mappingError(
            `${field}.transform.parameters[${j}]`,
            'an object parameter must be { "column": "<source column>" }',
          );
        }
        return {
          column: col as string,
          index: read(col as string, `${field}.transform.parameters[${j}].column`),
        };
      }
      return undefined;
    });
    const constant = refs.every((r) => r === undefined);
    const input = fn.noInput ? -1 : read(entry.source, `${field}.source`);
    const sourceKind = input >= 0 ? kindOf(readColumns[input]!.type) : undefined;
    const js = fn.js;
    const nullSafe = fn.nullSafe === true;
    const compute: ColumnPlan['compute'] = constant
      ? (row) => {
          const v = input >= 0 ? row[input] : null;
          if (nullSafe && (v === null || v === undefined)) return null;
          return js(v, given, run);
        }
      : (row) => {
          const v = input >= 0 ? row[input] : null;
          if (nullSafe && (v === null || v === undefined)) return null;
          const args = given.map((g, j) => {
            const r = refs[j];
            return r ? row[r.index] : g;
          });
          return js(v, args, run);
        };
    const render: ColumnPlan['render'] = (engine, q) => {
      if (!fn.sql) return undefined;
      const column = input >= 0 ? q(entry.source) : '';
      const cast = fn.textInput && engine === 'postgresql' && input >= 0 && !isTextKind(sourceKind);
      return fn.sql({
        engine,
        input: cast ? `CAST(${column} AS TEXT)` : column,
        args: given.map((g, j) => {
          const r = refs[j];
          return r ? q(r.column) : sqlLiteral(engine, g);
        }),
        sourceKind,
        targetKind,
      });
    };
    return { compute, render };
  }
}
