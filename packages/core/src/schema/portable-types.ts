import { UsageError } from '../errors.js';

/**
 * A portable column type (DESIGN.md §3.2): one spelling that every dialect maps to its own native
 * type through one mapping table (`renderDdl`) and back (`introspect`).
 *
 * @example
 * const columns: PortableType[] = ['uuid', 'varchar(200)', 'decimal(10,2)', 'timestamptz', 'vector(3)'];
 */
export type PortableType =
  | 'uuid'
  | 'text'
  | `varchar(${number})`
  | 'integer'
  | 'bigint'
  | 'smallint'
  | 'boolean'
  | 'real'
  | 'double'
  | `decimal(${number},${number})`
  | 'date'
  | 'timestamp'
  | 'timestamptz'
  | 'json'
  | 'blob'
  | `vector(${number})`;

/** The names of the portable types, without their parameters. */
export const PORTABLE_TYPE_KINDS = [
  'uuid',
  'text',
  'varchar',
  'integer',
  'bigint',
  'smallint',
  'boolean',
  'real',
  'double',
  'decimal',
  'date',
  'timestamp',
  'timestamptz',
  'json',
  'blob',
  'vector',
] as const;

export type PortableTypeKind = (typeof PORTABLE_TYPE_KINDS)[number];

/**
 * A portable type taken apart. `length` is set for varchar, `precision`/`scale` for decimal and
 * `dimensions` for vector.
 *
 * @example
 * const t: ParsedPortableType = { kind: 'decimal', precision: 10, scale: 2 };
 */
export interface ParsedPortableType {
  kind: PortableTypeKind;
  length?: number;
  precision?: number;
  scale?: number;
  dimensions?: number;
}

const PARAMETERS: Record<PortableTypeKind, number> = {
  uuid: 0,
  text: 0,
  varchar: 1,
  integer: 0,
  bigint: 0,
  smallint: 0,
  boolean: 0,
  real: 0,
  double: 0,
  decimal: 2,
  date: 0,
  timestamp: 0,
  timestamptz: 0,
  json: 0,
  blob: 0,
  vector: 1,
};

/**
 * Parses a portable type, accepting any letter case and spaces around the parameters. Throws
 * `UsageError` naming the type for anything else (the list of valid types is in the message).
 *
 * @example
 * parsePortableType('VARCHAR( 50 )'); // { kind: 'varchar', length: 50 }
 * parsePortableType('decimal(12,4)'); // { kind: 'decimal', precision: 12, scale: 4 }
 */
export function parsePortableType(type: string): ParsedPortableType {
  const m = /^\s*([a-z]+)\s*(?:\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\))?\s*$/i.exec(type);
  const kind = m?.[1]?.toLowerCase() as PortableTypeKind | undefined;
  const expected = kind !== undefined ? PARAMETERS[kind] : undefined;
  const given = m ? (m[2] !== undefined ? 1 : 0) + (m[3] !== undefined ? 1 : 0) : -1;
  if (!m || kind === undefined || expected === undefined || given !== expected) {
    throw new UsageError(
      `"${type}" is not a portable column type; expected one of: uuid, text, varchar(n), integer, ` +
        'bigint, smallint, boolean, real, double, decimal(p,s), date, timestamp, timestamptz, json, ' +
        'blob, vector(n)',
    );
  }
  const a = m[2] !== undefined ? Number(m[2]) : undefined;
  const b = m[3] !== undefined ? Number(m[3]) : undefined;
  if (kind === 'varchar') {
    if (a! < 1) throw new UsageError(`"${type}": varchar length must be at least 1`);
    return { kind, length: a! };
  }
  if (kind === 'decimal') {
    if (a! < 1 || b! > a!) {
      throw new UsageError(`"${type}": decimal needs precision >= 1 and scale <= precision`);
    }
    return { kind, precision: a!, scale: b! };
  }
  if (kind === 'vector') {
    if (a! < 1) throw new UsageError(`"${type}": a vector needs at least 1 dimension`);
    return { kind, dimensions: a! };
  }
  return { kind };
}

const kinds = new Map<string, PortableTypeKind>();

/**
 * The kind of a portable type (`parsePortableType(type).kind`), remembered per spelling: for code
 * that looks it up once per value (value codecs, bulk writers). Throws like {@link parsePortableType}.
 *
 * @example
 * portableTypeKind('VARCHAR(50)'); // 'varchar'
 * portableTypeKind('timestamptz'); // 'timestamptz'
 */
export function portableTypeKind(type: string): PortableTypeKind {
  let kind = kinds.get(type);
  if (kind === undefined) {
    kind = parsePortableType(type).kind;
    kinds.set(type, kind);
  }
  return kind;
}

/**
 * The canonical spelling of a parsed portable type (lower case, no spaces).
 *
 * @example
 * formatPortableType({ kind: 'varchar', length: 50 }); // 'varchar(50)'
 */
export function formatPortableType(type: ParsedPortableType): PortableType {
  switch (type.kind) {
    case 'varchar':
      return `varchar(${type.length ?? 255})`;
    case 'decimal':
      return `decimal(${type.precision ?? 10},${type.scale ?? 0})`;
    case 'vector':
      return `vector(${type.dimensions ?? 1})`;
    default:
      return type.kind;
  }
}

/**
 * Whether a string is a portable type; normalise it with `formatPortableType(parsePortableType(s))`.
 *
 * @example
 * isPortableType('varchar(10)'); // true
 * isPortableType('money'); // false
 */
export function isPortableType(type: string): boolean {
  try {
    parsePortableType(type);
    return true;
  } catch {
    return false;
  }
}
