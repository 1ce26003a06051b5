import { canonicalJson } from '../checksum.js';
import { canonicalNumber } from '../schema/portable-default.js';
import { type PortableType, portableTypeKind } from '../schema/portable-types.js';

/**
 * A column value on its way between engines (copy, export, import, transforms). One representation
 * per portable type, so a value read from any engine can be written to any other without loss:
 *
 * | portable type                   | value                                                       |
 * |---------------------------------|-------------------------------------------------------------|
 * | smallint, integer, bigint       | `number`, or `bigint` beyond ±2^53                           |
 * | real, double                    | `number`                                                    |
 * | decimal(p,s)                    | `string` of the exact digits (`"12.50"`)                     |
 * | boolean                         | `boolean`                                                   |
 * | text, varchar(n), uuid          | `string`                                                    |
 * | json                            | `string`: the JSON text (so JSON `null` and SQL NULL differ) |
 * | blob                            | `Uint8Array` (a `Buffer` from every driver)                  |
 * | date                            | `"YYYY-MM-DD"`                                              |
 * | timestamp                       | `"YYYY-MM-DDTHH:MM:SS[.ffffff]"` (no zone)                    |
 * | timestamptz                     | `"YYYY-MM-DDTHH:MM:SS[.ffffff]Z"` (UTC)                       |
 * | vector(n)                       | `string`: a JSON array of numbers                           |
 *
 * SQL NULL is `null` for every type.
 *
 * @example
 * const row: PortableValue[] = [1, 'Ada', '12.50', true, '2024-05-01T10:00:00.5Z', null];
 */
export type PortableValue = null | string | number | bigint | boolean | Uint8Array;

/**
 * A value that does not fit its column's portable type (`decodeValue`).
 *
 * @example
 * try { decodeValue('integer', 'abc'); } catch (err) { if (err instanceof ValueDecodeError) console.log(err.type); } // 'integer'
 */
export class ValueDecodeError extends TypeError {
  constructor(
    readonly type: PortableType,
    readonly value: unknown,
    reason: string,
  ) {
    super(`${describe(value)} is not a valid ${type}: ${reason}`);
    this.name = 'ValueDecodeError';
  }
}

function describe(value: unknown): string {
  if (typeof value === 'string')
    return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  if (value instanceof Uint8Array) return `${value.length} bytes`;
  if (typeof value === 'bigint') return `${value}n`;
  if (value instanceof Date)
    return `Date(${Number.isNaN(value.getTime()) ? 'invalid' : value.toISOString()})`;
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

/** `YYYY-MM-DD` (optionally followed by a time) with optional zone; groups: date, time, fraction, zone. */
const DATE_TIME =
  /^(\d{4,})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?\s*(Z|z|[+-]\d{2}(?::?\d{2})?)?$/;

interface DateTimeParts {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  /** Up to 6 digits, trailing zeros removed ('' for none). */
  fraction: string;
  /** Minutes east of UTC; undefined when the text names no zone. */
  offsetMinutes?: number;
}

function parseDateTime(text: string): DateTimeParts | undefined {
  const m = DATE_TIME.exec(text.trim());
  if (!m) return undefined;
  const parts: DateTimeParts = {
    year: Number(m[1]),
    month: Number(m[2]),
    day: Number(m[3]),
    hour: Number(m[4] ?? 0),
    minute: Number(m[5] ?? 0),
    second: Number(m[6] ?? 0),
    fraction: (m[7] ?? '').slice(0, 6).replace(/0+$/, ''),
  };
  if (parts.month < 1 || parts.month > 12 || parts.day < 1 || parts.day > 31) return undefined;
  if (parts.hour > 24 || parts.minute > 59 || parts.second > 60) return undefined;
  const zone = m[8];
  if (zone !== undefined) {
    if (zone === 'Z' || zone === 'z') parts.offsetMinutes = 0;
    else {
      const digits = zone.slice(1).replace(':', '');
      const minutes = Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2) || 0);
      parts.offsetMinutes = zone[0] === '-' ? -minutes : minutes;
    }
  }
  return parts;
}

function formatLocal(p: DateTimeParts): string {
  const base = `${pad(p.year, 4)}-${pad(p.month)}-${pad(p.day)}T${pad(p.hour)}:${pad(p.minute)}:${pad(p.second)}`;
  return p.fraction ? `${base}.${p.fraction}` : base;
}

/** Shifts wall-clock parts by their offset to UTC; the fraction is carried as text (microseconds survive). */
function toUtc(p: DateTimeParts): DateTimeParts {
  const offset = p.offsetMinutes ?? 0;
  if (offset === 0) return { ...p, offsetMinutes: 0 };
  const ms = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute - offset, p.second);
  const d = new Date(ms);
  return {
    year: d.getUTCFullYear(),
    month: d.getUTCMonth() + 1,
    day: d.getUTCDate(),
    hour: d.getUTCHours(),
    minute: d.getUTCMinutes(),
    second: d.getUTCSeconds(),
    fraction: p.fraction,
    offsetMinutes: 0,
  };
}

function fromDate(value: Date, type: PortableType): DateTimeParts {
  if (Number.isNaN(value.getTime())) throw new ValueDecodeError(type, value, 'invalid date');
  return {
    year: value.getUTCFullYear(),
    month: value.getUTCMonth() + 1,
    day: value.getUTCDate(),
    hour: value.getUTCHours(),
    minute: value.getUTCMinutes(),
    second: value.getUTCSeconds(),
    fraction: pad(value.getUTCMilliseconds(), 3).replace(/0+$/, ''),
    offsetMinutes: 0,
  };
}

function dateTimeParts(type: PortableType, raw: unknown): DateTimeParts {
  if (raw instanceof Date) return fromDate(raw, type);
  if (typeof raw === 'number') return fromDate(new Date(raw), type);
  if (typeof raw !== 'string') throw new ValueDecodeError(type, raw, 'expected an ISO 8601 string');
  const parts = parseDateTime(raw);
  if (!parts)
    throw new ValueDecodeError(type, raw, 'expected an ISO 8601 date/time such as 2024-05-01T10:00:00Z');
  return parts;
}

function decodeInteger(type: PortableType, raw: unknown): number | bigint {
  if (typeof raw === 'number') {
    if (!Number.isInteger(raw)) throw new ValueDecodeError(type, raw, 'not an integer');
    return raw;
  }
  if (typeof raw === 'bigint') return Number.isSafeInteger(Number(raw)) ? Number(raw) : raw;
  if (typeof raw === 'boolean') return raw ? 1 : 0;
  if (typeof raw === 'string' && /^\s*[+-]?\d+\s*$/.test(raw)) {
    const big = BigInt(raw.trim());
    const n = Number(big);
    return Number.isSafeInteger(n) ? n : big;
  }
  throw new ValueDecodeError(type, raw, 'not an integer');
}

function decodeFloat(type: PortableType, raw: unknown): number {
  if (typeof raw === 'number') return raw;
  if (typeof raw === 'bigint') return Number(raw);
  if (typeof raw === 'string') {
    const t = raw.trim();
    if (t === 'NaN') return Number.NaN;
    if (/^[+-]?(Infinity|inf)$/i.test(t)) return t.startsWith('-') ? -Infinity : Infinity;
    if (t !== '' && canonicalNumber(t) !== undefined) return Number(t);
  }
  throw new ValueDecodeError(type, raw, 'not a number');
}

function decodeDecimal(type: PortableType, raw: unknown): string {
  if (typeof raw === 'string' && canonicalNumber(raw) !== undefined) return raw.trim();
  if (typeof raw === 'number' && Number.isFinite(raw)) {
    // The shortest spelling that reads back as the same double (12345678.9, not toFixed's
    // 12345678.90000000037…), in plain digits: 1e-7 -> "0.0000001".
    const shortest = String(raw);
    if (!/e/i.test(shortest)) return shortest;
    return Math.abs(raw) < 1
      ? raw.toFixed(
          Number(shortest.split(/e-/i)[1]) + shortest.split(/e/i)[0]!.replace(/^-?\d\.?/, '').length,
        )
      : BigInt(raw).toString();
  }
  if (typeof raw === 'bigint') return raw.toString();
  throw new ValueDecodeError(type, raw, 'not a decimal number');
}

function decodeBoolean(type: PortableType, raw: unknown): boolean {
  if (typeof raw === 'boolean') return raw;
  if (raw === 0 || raw === 1) return raw === 1;
  if (raw === 0n || raw === 1n) return raw === 1n;
  if (typeof raw === 'string') {
    const t = raw.trim().toLowerCase();
    if (['1', 't', 'true', 'y', 'yes', 'on'].includes(t)) return true;
    if (['0', 'f', 'false', 'n', 'no', 'off'].includes(t)) return false;
  }
  throw new ValueDecodeError(type, raw, 'not a boolean');
}

function decodeJsonText(type: PortableType, raw: unknown, kind: 'json' | 'vector'): string {
  if (typeof raw === 'string') {
    try {
      JSON.parse(raw);
    } catch (err) {
      throw new ValueDecodeError(type, raw, `invalid JSON (${(err as Error).message})`);
    }
    return raw;
  }
  if (raw instanceof Uint8Array) return decodeJsonText(type, Buffer.from(raw).toString('utf8'), kind);
  if (kind === 'vector' && !Array.isArray(raw))
    throw new ValueDecodeError(type, raw, 'expected an array of numbers');
  try {
    return JSON.stringify(raw);
  } catch (err) {
    throw new ValueDecodeError(type, raw, (err as Error).message);
  }
}

/**
 * Turns what a driver (or a JSON file) gave for a column of portable type `type` into the one
 * {@link PortableValue} representation of that type. Accepts the spellings drivers use: numbers and
 * strings for integers, `0`/`1` and `'t'`/`'f'` for booleans, `Date` objects (read as UTC) and ISO
 * strings with or without zone for dates and times, Buffers, parsed or unparsed JSON.
 * `null`/`undefined` become `null`. Throws {@link ValueDecodeError} for a value the type cannot hold.
 *
 * @example
 * decodeValue('timestamptz', '2024-05-01 12:00:00.123456+02'); // '2024-05-01T10:00:00.123456Z'
 * decodeValue('boolean', 1); // true
 * decodeValue('decimal(10,2)', 12.5); // '12.5'
 */
export function decodeValue(type: PortableType, raw: unknown): PortableValue {
  if (raw === null || raw === undefined) return null;
  switch (portableTypeKind(type)) {
    case 'smallint':
    case 'integer':
    case 'bigint':
      return decodeInteger(type, raw);
    case 'real':
    case 'double':
      return decodeFloat(type, raw);
    case 'decimal':
      return decodeDecimal(type, raw);
    case 'boolean':
      return decodeBoolean(type, raw);
    case 'uuid':
    case 'text':
    case 'varchar':
      if (typeof raw === 'string') return raw;
      if (raw instanceof Uint8Array) return Buffer.from(raw).toString('utf8');
      if (typeof raw === 'number' || typeof raw === 'bigint' || typeof raw === 'boolean') return String(raw);
      if (raw instanceof Date) return raw.toISOString();
      throw new ValueDecodeError(type, raw, 'not text');
    case 'json':
      return decodeJsonText(type, raw, 'json');
    case 'vector':
      return decodeJsonText(type, raw, 'vector');
    case 'blob':
      if (raw instanceof Uint8Array) return raw;
      if (typeof raw === 'string') return Buffer.from(raw, 'utf8');
      throw new ValueDecodeError(type, raw, 'not bytes');
    case 'date': {
      const p = dateTimeParts(type, raw);
      return `${pad(p.year, 4)}-${pad(p.month)}-${pad(p.day)}`;
    }
    case 'timestamp': {
      // A zone on a timestamp without time zone is dropped, not applied: the wall-clock time is the value.
      return formatLocal(dateTimeParts(type, raw));
    }
    case 'timestamptz': {
      // Without a zone the text is read as UTC (what every session cmpkg opens uses).
      return `${formatLocal(toUtc(dateTimeParts(type, raw)))}Z`;
    }
  }
}

const DAY = String.raw`\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])`;
const TIME = String.raw`T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d{1,6})?`;
const CANONICAL_DATE = new RegExp(`^${DAY}$`);
const CANONICAL_TIMESTAMP = new RegExp(`^${DAY}${TIME}$`);
const CANONICAL_TIMESTAMPTZ = new RegExp(`^${DAY}${TIME}Z$`);

/** Drops trailing zeros of a canonical time's fraction (servers print all six digits). */
function trimFraction(text: string): string {
  const dot = text.indexOf('.', 19);
  if (dot < 0) return text;
  const zone = text.endsWith('Z') ? 'Z' : '';
  let end = text.length - zone.length;
  while (text.charCodeAt(end - 1) === 48) end--;
  if (end === dot + 1) end = dot;
  return end === text.length - zone.length ? text : text.slice(0, end) + zone;
}

/**
 * {@link decodeValue} for one column type, made once: values a driver already returns in the
 * canonical representation (a string for text, a number for integers, canonical ISO text for times)
 * pass through a `typeof` or pattern check instead of being parsed and spelled again. Bulk reads
 * decode millions of values; this is their hot path.
 *
 * @example
 * const decode = valueDecoder('timestamptz');
 * decode('2024-05-01T10:00:00Z'); // returned as is
 * decode('2024-05-01 12:00:00+02'); // '2024-05-01T10:00:00Z'
 */
export function valueDecoder(type: PortableType): (raw: unknown) => PortableValue {
  const slow = (raw: unknown) => decodeValue(type, raw);
  switch (portableTypeKind(type)) {
    case 'uuid':
    case 'text':
    case 'varchar':
      return (raw) => (typeof raw === 'string' ? raw : slow(raw));
    case 'smallint':
    case 'integer':
    case 'bigint':
      return (raw) => (typeof raw === 'number' && Number.isInteger(raw) ? raw : slow(raw));
    case 'real':
    case 'double':
      return (raw) => (typeof raw === 'number' ? raw : slow(raw));
    case 'boolean':
      return (raw) => (typeof raw === 'boolean' ? raw : slow(raw));
    case 'blob':
      return (raw) => (raw instanceof Uint8Array ? raw : slow(raw));
    case 'date':
      return (raw) => (typeof raw === 'string' && CANONICAL_DATE.test(raw) ? raw : slow(raw));
    case 'timestamp':
      return (raw) =>
        typeof raw === 'string' && CANONICAL_TIMESTAMP.test(raw) ? trimFraction(raw) : slow(raw);
    case 'timestamptz':
      return (raw) =>
        typeof raw === 'string' && CANONICAL_TIMESTAMPTZ.test(raw) ? trimFraction(raw) : slow(raw);
    default:
      return slow;
  }
}

/**
 * A value of a `date`/`timestamp`/`timestamptz` column split for engines that want their own
 * spelling (MySQL's `YYYY-MM-DD HH:MM:SS.ffffff`, which takes neither `T` nor a zone).
 *
 * @example
 * sqlDateTime('2024-05-01T10:00:00.5Z'); // '2024-05-01 10:00:00.5'
 */
export function sqlDateTime(value: string): string {
  return value.replace('T', ' ').replace(/Z$/, '');
}

/**
 * The canonical text of a value for content checksums: equal for values that are equal after a
 * round trip through any engine. Decimals and floats as canonical numbers (`real` at 4-byte float
 * precision, the storage of a `real` column), JSON with sorted keys, uuids lower-case, blobs as hex,
 * NULL as `\u0000`.
 *
 * @example
 * canonicalValueText('decimal(10,2)', '12.50') === canonicalValueText('decimal(10,2)', '12.5'); // true
 */
export function canonicalValueText(type: PortableType, value: PortableValue): string {
  return valueCanonicalizer(type)(value);
}

const canonicalizers = new Map<string, (value: PortableValue) => string>();

/**
 * {@link canonicalValueText} for one column type, made once and cached: content checksums call it
 * for every value of every row.
 *
 * @example
 * const canonical = valueCanonicalizer('decimal(10,2)');
 * canonical('12.50'); // '12.5'
 */
export function valueCanonicalizer(type: PortableType): (value: PortableValue) => string {
  let fn = canonicalizers.get(type);
  if (fn === undefined) {
    fn = makeCanonicalizer(type);
    canonicalizers.set(type, fn);
  }
  return fn;
}

function makeCanonicalizer(type: PortableType): (value: PortableValue) => string {
  const NULL = '\u0000';
  switch (portableTypeKind(type)) {
    case 'real':
      return (v) => (v === null ? NULL : String(Math.fround(Number(v))));
    case 'double':
      return (v) => (v === null ? NULL : String(Number(v)));
    case 'decimal':
      return (v) => (v === null ? NULL : (canonicalNumber(String(v)) ?? String(v)));
    case 'json':
      return (v) => {
        if (v === null) return NULL;
        try {
          return canonicalJson(JSON.parse(String(v)));
        } catch {
          return String(v);
        }
      };
    case 'vector':
      return (v) => {
        if (v === null) return NULL;
        try {
          return JSON.stringify((JSON.parse(String(v)) as number[]).map((n) => Math.fround(n)));
        } catch {
          return String(v);
        }
      };
    case 'uuid':
      return (v) => (v === null ? NULL : String(v).toLowerCase());
    case 'blob':
      return (v) =>
        v === null ? NULL : v instanceof Uint8Array ? Buffer.from(v).toString('hex') : String(v);
    case 'boolean':
      return (v) => (v === null ? NULL : v ? 't' : 'f');
    default:
      return (v) => (v === null ? NULL : typeof v === 'string' ? v : String(v));
  }
}

/**
 * A value as plain JSON for NDJSON exports: 64-bit integers beyond ±2^53 and blobs (base64) become
 * strings; everything else is already JSON. `decodeJsonValue` reads it back.
 *
 * @example
 * encodeJsonValue('blob', Buffer.from('hi')); // 'aGk='
 */
export function encodeJsonValue(type: PortableType, value: PortableValue): string | number | boolean | null {
  if (value === null) return null;
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  void type;
  return value;
}

/**
 * Reads a value from an NDJSON export (`encodeJsonValue`'s output, or hand-written JSON) for a
 * column of `type`: blobs are base64, JSON columns take a JSON string or any JSON value.
 *
 * @example
 * decodeJsonValue('blob', 'aGk='); // Buffer 'hi'
 * decodeJsonValue('json', { a: 1 }); // '{"a":1}'
 */
export function decodeJsonValue(type: PortableType, json: unknown): PortableValue {
  if (json === null || json === undefined) return null;
  if (portableTypeKind(type) === 'blob') {
    if (typeof json !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(json)) {
      throw new ValueDecodeError(type, json, 'expected base64 text');
    }
    return Buffer.from(json, 'base64');
  }
  return decodeValue(type, json);
}
