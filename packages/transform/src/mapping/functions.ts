import { randomUUID } from 'node:crypto';
import type { Engine, PortableTypeKind, TransformFunctionName } from '@cmpkg/core';
import { decodeValue } from '@cmpkg/core';
import { RowError } from '../batch-loop.js';

/**
 * What an SQL rendering of a built-in is given: the engine, the SQL of the input value (already
 * cast to text where the function works on text) and of each argument, and the kinds of the
 * source and target columns.
 *
 * @example
 * const ctx: SqlRenderContext = { engine: 'postgresql', input: '"name"', args: ["'-'"], sourceKind: 'text', targetKind: 'text' };
 */
export interface SqlRenderContext {
  engine: Engine;
  input: string;
  /** Argument SQL: literals or quoted columns, in parameter order (absent optional ones left out). */
  args: readonly string[];
  sourceKind: PortableTypeKind | undefined;
  targetKind: PortableTypeKind;
}

/**
 * What stays the same for a whole run: `now` is one time, so every row (and the fast path's
 * `CURRENT_TIMESTAMP`, one value per statement) sees the same.
 *
 * @example
 * const run: RunContext = { now: new Date().toISOString() };
 */
export interface RunContext {
  now: string;
}

/**
 * A built-in function of `function`-type mappings: its parameters, its JavaScript implementation
 * and, where an engine computes the same value, its SQL (for the `INSERT … SELECT` fast path).
 *
 * @example
 * const fn = BUILTIN_FUNCTIONS.upper;
 * fn.js('ada', []); // 'ADA'
 */
export interface BuiltinFunction {
  /** One line for the README and error messages. */
  summary: string;
  /** Parameter names in order (for `parameters` given as an object). */
  params: readonly string[];
  /** Parameters that must be given. */
  required: number;
  /** Takes any number of further arguments (concat, coalesce). */
  variadic?: boolean;
  /** Ignores the source value (uuid, now). */
  noInput?: boolean;
  /** The input is text: SQL renderings get it cast to text on PostgreSQL. */
  textInput?: boolean;
  /** Null in, null out (most functions); the JS implementation then never sees null. */
  nullSafe?: boolean;
  js(value: unknown, args: readonly unknown[], run: RunContext): unknown;
  sql?(ctx: SqlRenderContext): string | undefined;
}

const text = (v: unknown): string =>
  typeof v === 'string' ? v : v instanceof Uint8Array ? Buffer.from(v).toString('utf8') : String(v);

/**
 * Spaces (only) off both ends, as SQL TRIM does. By hand rather than with a global regex replace,
 * which on a million rows made V8's heap grow to several hundred MB.
 */
function trimSpaces(t: string): string {
  let start = 0;
  let end = t.length;
  while (start < end && t.charCodeAt(start) === 32) start++;
  while (end > start && t.charCodeAt(end - 1) === 32) end--;
  return start === 0 && end === t.length ? t : t.slice(start, end);
}

function toNumber(v: unknown, what: string): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'boolean') return v ? 1 : 0;
  const t = text(v).trim();
  const n = t === '' ? Number.NaN : Number(t);
  if (Number.isNaN(n)) throw new RowError(`${what}: ${JSON.stringify(t)} is not a number`);
  return n;
}

function toInt(v: unknown, what: string): number {
  const n = toNumber(v, what);
  if (!Number.isInteger(n)) throw new RowError(`${what}: ${n} is not an integer`);
  return n;
}

/** Half away from zero, like SQL ROUND on exact numbers. */
function roundHalfAway(n: number, digits: number): number {
  const f = 10 ** digits;
  const r = Math.round(Math.abs(n) * f + Number.EPSILON * f) / f;
  return n < 0 ? -r : r;
}

function pad(value: unknown, length: number, fill: string, start: boolean): string {
  const chars = Array.from(text(value));
  // SQL LPAD/RPAD cut a longer value to the length.
  if (chars.length >= length) return chars.slice(0, length).join('');
  if (fill === '') return chars.join('');
  const s = chars.join('');
  return start
    ? s.padStart(length + s.length - chars.length, fill)
    : s.padEnd(length + s.length - chars.length, fill);
}

/** `$.a.b[0]`, `a.b.0` or `{a,b}` as path segments. */
export function parseJsonPath(path: string): string[] {
  let p = path.trim();
  if (p.startsWith('{') && p.endsWith('}')) return p.slice(1, -1).split(',').filter(Boolean);
  if (p.startsWith('$')) p = p.slice(1);
  const segments: string[] = [];
  for (const m of p.matchAll(/\.?([^.[\]]+)|\[(\d+)\]|\["([^"]*)"\]/g))
    segments.push(m[1] ?? m[2] ?? m[3] ?? '');
  return segments;
}

function jsonExtract(value: unknown, path: string): unknown {
  let doc: unknown;
  try {
    doc = typeof value === 'string' || value instanceof Uint8Array ? JSON.parse(text(value)) : value;
  } catch (err) {
    throw new RowError(`json_extract: invalid JSON (${(err as Error).message})`);
  }
  for (const segment of parseJsonPath(path)) {
    if (doc === null || typeof doc !== 'object') return null;
    doc = Array.isArray(doc) ? doc[Number(segment)] : (doc as Record<string, unknown>)[segment];
  }
  if (doc === undefined || doc === null) return null;
  return typeof doc === 'object' ? JSON.stringify(doc) : doc;
}

const isText = (kind: PortableTypeKind | undefined) =>
  kind === 'text' || kind === 'varchar' || kind === 'uuid';
const TIME_KINDS: ReadonlySet<PortableTypeKind> = new Set(['timestamp', 'timestamptz', 'date']);

/**
 * The built-in functions, keyed by exactly core's `TRANSFORM_FUNCTIONS` (the planner rejects any
 * other name). Strings count characters (code points), like SQL. Text functions stringify
 * numbers; `null` in gives `null` out unless said otherwise.
 *
 * @example
 * BUILTIN_FUNCTIONS.round.js(2.345, [2]); // 2.35
 */
export const BUILTIN_FUNCTIONS: Readonly<Record<TransformFunctionName, BuiltinFunction>> = {
  abs: {
    summary: 'absolute value of a number',
    params: [],
    required: 0,
    nullSafe: true,
    js: (v) => Math.abs(toNumber(v, 'abs')),
    sql: ({ input }) => `ABS(${input})`,
  },
  boolean: {
    summary: 'true/false from 1/0, t/f, true/false, y/n, yes/no, on/off (any case)',
    params: [],
    required: 0,
    nullSafe: true,
    js: (v) => {
      try {
        return decodeValue('boolean', typeof v === 'string' ? v : typeof v === 'bigint' ? Number(v) : v);
      } catch (err) {
        throw new RowError(`boolean: ${(err as Error).message}`);
      }
    },
    sql: ({ engine, input, sourceKind }) =>
      engine === 'postgresql' && (isText(sourceKind) || sourceKind === 'boolean')
        ? `CAST(${input} AS BOOLEAN)`
        : undefined,
  },
  ceil: {
    summary: 'smallest integer not below the number',
    params: [],
    required: 0,
    nullSafe: true,
    js: (v) => Math.ceil(toNumber(v, 'ceil')),
    sql: ({ engine, input }) => (engine === 'sqlite' ? undefined : `CEIL(${input})`),
  },
  coalesce: {
    summary: 'the first non-null of the value and the parameters',
    params: ['values'],
    required: 1,
    variadic: true,
    js: (v, args) => {
      if (v !== null && v !== undefined) return v;
      for (const a of args) if (a !== null && a !== undefined) return a;
      return null;
    },
    sql: ({ input, args }) => `COALESCE(${[input, ...args].join(', ')})`,
  },
  concat: {
    summary: 'the value and the parameters joined as text; nulls count as empty',
    params: ['values'],
    required: 0,
    variadic: true,
    textInput: true,
    js: (v, args) => {
      let s = v === null || v === undefined ? '' : text(v);
      for (const a of args) if (a !== null && a !== undefined) s += text(a);
      return s;
    },
    sql: ({ engine, input, args }) => {
      if (engine === 'postgresql') return `CONCAT(${[input, ...args].join(', ')})`;
      const parts = [input, ...args].map((p) => `COALESCE(${p}, '')`);
      return engine === 'mysql' ? `CONCAT(${parts.join(', ')})` : `(${parts.join(' || ')})`;
    },
  },
  date: {
    summary: "the date ('YYYY-MM-DD') of a date, timestamp or ISO 8601 text; a zone is ignored",
    params: [],
    required: 0,
    nullSafe: true,
    js: (v) => {
      try {
        return decodeValue('date', v);
      } catch (err) {
        throw new RowError(`date: ${(err as Error).message}`);
      }
    },
  },
  default_if_empty: {
    summary: "the parameter when the value is null or ''",
    params: ['default'],
    required: 1,
    js: (v, [d]) => (v === null || v === undefined || v === '' ? (d ?? null) : v),
    sql: ({ input, args, sourceKind }) =>
      isText(sourceKind) ? `COALESCE(NULLIF(${input}, ''), ${args[0]})` : `COALESCE(${input}, ${args[0]})`,
  },
  floor: {
    summary: 'largest integer not above the number',
    params: [],
    required: 0,
    nullSafe: true,
    js: (v) => Math.floor(toNumber(v, 'floor')),
    sql: ({ engine, input }) => (engine === 'sqlite' ? undefined : `FLOOR(${input})`),
  },
  json_extract: {
    summary:
      "the value at a path ('$.a.b[0]' or 'a.b.0') of JSON text: scalars as they are, objects and arrays as JSON text",
    params: ['path'],
    required: 1,
    nullSafe: true,
    js: (v, [path]) => jsonExtract(v, text(path)),
  },
  length: {
    summary: 'number of characters of the value as text',
    params: [],
    required: 0,
    nullSafe: true,
    textInput: true,
    js: (v) => Array.from(text(v)).length,
    sql: ({ engine, input }) => (engine === 'sqlite' ? `LENGTH(${input})` : `CHAR_LENGTH(${input})`),
  },
  lower: {
    summary: 'lower case',
    params: [],
    required: 0,
    nullSafe: true,
    textInput: true,
    js: (v) => text(v).toLowerCase(),
    sql: ({ input }) => `LOWER(${input})`,
  },
  lpad: {
    summary: 'pads on the left to `length` with `fill` (default space); a longer value is cut',
    params: ['length', 'fill'],
    required: 1,
    nullSafe: true,
    textInput: true,
    js: (v, [length, fill]) =>
      pad(v, toInt(length, 'lpad length'), fill === undefined ? ' ' : text(fill), true),
    sql: ({ engine, input, args }) =>
      engine === 'sqlite' ? undefined : `LPAD(${input}, ${args[0]}, ${args[1] ?? "' '"})`,
  },
  now: {
    summary: 'the time the transform started (one value for the whole run)',
    params: [],
    required: 0,
    noInput: true,
    js: (_v, _args, run) => run.now,
    sql: ({ engine, targetKind }) =>
      engine !== 'sqlite' && TIME_KINDS.has(targetKind) ? 'CURRENT_TIMESTAMP' : undefined,
  },
  number: {
    summary: "a number from text ('12.5'), a boolean (1/0) or a number; anything else is a row error",
    params: [],
    required: 0,
    nullSafe: true,
    js: (v) => (typeof v === 'bigint' ? v : toNumber(v, 'number')),
    sql: ({ engine, input }) => (engine === 'postgresql' ? `CAST(${input} AS NUMERIC)` : undefined),
  },
  replace: {
    summary: 'every occurrence of `search` replaced by `replacement`',
    params: ['search', 'replacement'],
    required: 2,
    nullSafe: true,
    textInput: true,
    js: (v, [search, replacement]) => {
      const s = text(search);
      return s === ''
        ? text(v)
        : text(v)
            .split(s)
            .join(text(replacement ?? ''));
    },
    sql: ({ input, args }) => `REPLACE(${input}, ${args[0]}, ${args[1]})`,
  },
  round: {
    summary: 'rounded to `digits` decimals (default 0), halves away from zero',
    params: ['digits'],
    required: 0,
    nullSafe: true,
    js: (v, [digits]) =>
      roundHalfAway(toNumber(v, 'round'), digits === undefined ? 0 : toInt(digits, 'round digits')),
    sql: ({ engine, input, args }) => {
      const d = args[0] ?? '0';
      if (engine === 'postgresql') return `ROUND(CAST(${input} AS NUMERIC), ${d})`;
      if (engine === 'mysql') return `ROUND(CAST(${input} AS DECIMAL(65,30)), ${d})`;
      return `ROUND(${input}, ${d})`;
    },
  },
  rpad: {
    summary: 'pads on the right to `length` with `fill` (default space); a longer value is cut',
    params: ['length', 'fill'],
    required: 1,
    nullSafe: true,
    textInput: true,
    js: (v, [length, fill]) =>
      pad(v, toInt(length, 'rpad length'), fill === undefined ? ' ' : text(fill), false),
    sql: ({ engine, input, args }) =>
      engine === 'sqlite' ? undefined : `RPAD(${input}, ${args[0]}, ${args[1] ?? "' '"})`,
  },
  split: {
    summary:
      'part number `index` (0-based, default 0) of the value split at `separator`; a missing or empty part is null',
    params: ['separator', 'index'],
    required: 1,
    nullSafe: true,
    textInput: true,
    js: (v, [separator, index]) => {
      const part = text(v).split(text(separator))[index === undefined ? 0 : toInt(index, 'split index')];
      return part === undefined || part === '' ? null : part;
    },
    sql: ({ engine, input, args }) =>
      engine === 'postgresql'
        ? `NULLIF(SPLIT_PART(${input}, ${args[0]}, ${args[1] ?? '0'} + 1), '')`
        : undefined,
  },
  substring: {
    summary: '`length` characters (default: the rest) from position `start` (1-based)',
    params: ['start', 'length'],
    required: 1,
    nullSafe: true,
    textInput: true,
    js: (v, [start, length]) => {
      const from = Math.max(0, toInt(start, 'substring start') - 1);
      const chars = Array.from(text(v));
      return chars
        .slice(from, length === undefined ? undefined : from + toInt(length, 'substring length'))
        .join('');
    },
    sql: ({ engine, input, args }) =>
      `${engine === 'mysql' ? 'SUBSTRING' : 'SUBSTR'}(${input}, ${args.join(', ')})`,
  },
  trim: {
    summary: 'leading and trailing spaces removed (spaces only, like SQL TRIM)',
    params: [],
    required: 0,
    nullSafe: true,
    textInput: true,
    js: (v) => trimSpaces(text(v)),
    sql: ({ input }) => `TRIM(${input})`,
  },
  upper: {
    summary: 'upper case',
    params: [],
    required: 0,
    nullSafe: true,
    textInput: true,
    js: (v) => text(v).toUpperCase(),
    sql: ({ input }) => `UPPER(${input})`,
  },
  uuid: {
    summary: 'a new random UUID (v4) per row',
    params: [],
    required: 0,
    noInput: true,
    js: () => randomUUID(),
    sql: ({ engine }) =>
      engine === 'postgresql' ? 'gen_random_uuid()' : engine === 'mysql' ? 'UUID()' : undefined,
  },
};

/** Turns a value error of a built-in into a row error. @internal */
export function asRowError(err: unknown, what: string): RowError {
  if (err instanceof RowError) {
    return err.field !== undefined
      ? err
      : new RowError(`${what}: ${err.message}`, {
          field: what,
          ...(err.rule ? { rule: err.rule } : {}),
          cause: err,
        });
  }
  return new RowError(`${what}: ${err instanceof Error ? err.message : String(err)}`, {
    field: what,
    cause: err,
  });
}
