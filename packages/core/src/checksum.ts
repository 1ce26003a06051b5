import { createHash } from 'node:crypto';
import type { Step } from './model/types.js';

/**
 * Hex SHA-256 of a string (as UTF-8) or bytes.
 *
 * @example
 * sha256Hex('abc'); // 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'
 */
export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/**
 * Deterministic JSON: object keys sorted recursively, `undefined` members omitted, no whitespace.
 * Otherwise follows `JSON.stringify` (`toJSON` is honoured, `undefined` in arrays becomes `null`).
 *
 * @example
 * canonicalJson({ b: 1, a: [true, undefined], c: undefined }); // '{"a":[true,null],"b":1}'
 */
export function canonicalJson(value: unknown): string {
  return write(value, []) ?? 'null';
}

// Hot path of `loadPlugin` (once per migration): string building without intermediate arrays.
function write(value: unknown, stack: object[]): string | undefined {
  let v = value;
  if (typeof v === 'object' && v !== null && typeof (v as { toJSON?: unknown }).toJSON === 'function') {
    v = (v as { toJSON: () => unknown }).toJSON();
  }
  switch (typeof v) {
    case 'string':
      return JSON.stringify(v);
    case 'number':
      return Number.isFinite(v) ? String(v) : 'null';
    case 'boolean':
      return v ? 'true' : 'false';
    case 'bigint':
      throw new TypeError('canonicalJson: BigInt values are not JSON');
    case 'object':
      if (v === null) return 'null';
      break;
    default:
      return undefined;
  }
  if (stack.includes(v)) throw new TypeError('canonicalJson: circular structure');
  stack.push(v);
  let out: string;
  if (Array.isArray(v)) {
    out = '[';
    for (let i = 0; i < v.length; i++) out += (i === 0 ? '' : ',') + (write(v[i], stack) ?? 'null');
    out += ']';
  } else {
    const record = v as Record<string, unknown>;
    out = '{';
    for (const key of Object.keys(record).sort()) {
      const member = write(record[key], stack);
      if (member !== undefined) out += `${out.length === 1 ? '' : ','}${JSON.stringify(key)}:${member}`;
    }
    out += '}';
  }
  stack.pop();
  return out;
}

/**
 * SQL as it is hashed: `\n` line endings, no trailing whitespace on any line, no leading or trailing
 * blank lines — so re-saving a file with another editor or on Windows is not drift.
 *
 * @example
 * normalizeSql('\r\nSELECT 1;  \r\n\r\n'); // 'SELECT 1;'
 */
export function normalizeSql(sql: string): string {
  const lines = sql.split(/\r\n?|\n/);
  let first = 0;
  let last = lines.length - 1;
  const trimmed = lines.map((l) => l.trimEnd());
  while (first <= last && trimmed[first] === '') first++;
  while (last >= first && trimmed[last] === '') last--;
  return trimmed.slice(first, last + 1).join('\n');
}

/**
 * The fields of a migration the checksum covers; any `Migration` fits.
 *
 * @example
 * const input: ChecksumInput = { id: 'a', version: '1.0.0', steps: { up: [], down: [] } };
 */
export interface ChecksumInput {
  id: string;
  version: string;
  steps: { up: Step[]; down: Step[] };
}

/**
 * `sha256:<hex>` over the canonical JSON of `{id, version, steps}`, with every SQL text normalised
 * by {@link normalizeSql} and code steps hashed by their source text.
 *
 * @example
 * const checksum = checksumMigration({ id: '0001_init', version: '1.0.0', steps: { up, down: [] } });
 * // 'sha256:3f1c...'
 */
export function checksumMigration(m: ChecksumInput): string {
  const steps = { up: m.steps.up.map(hashableStep), down: m.steps.down.map(hashableStep) };
  return `sha256:${sha256Hex(canonicalJson({ id: m.id, version: m.version, steps }))}`;
}

/**
 * `sha256:<hex>` of one step, normalised exactly as in {@link checksumMigration}. The engine journals
 * it per finished step, so an edit to a finished step of a `partial` migration is caught as drift.
 *
 * @example
 * checksumStep({ id: 'up', type: 'sql', name: 'Up', sql: { universal: 'SELECT 1' }, ...defaults });
 */
/**
 * The checksum of the statements a step has run so far (line endings and trailing blanks
 * ignored, as everywhere): what lets a resumed step skip them only if they are unchanged.
 *
 * @example
 * checksumStatements(['CREATE TABLE a (x INT)']) === checksumStatements(['CREATE TABLE a (x INT)  ']); // true
 */
export function checksumStatements(statements: readonly string[]): string {
  return `sha256:${sha256Hex(canonicalJson(statements.map(normalizeSql)))}`;
}

export function checksumStep(step: Step): string {
  return `sha256:${sha256Hex(canonicalJson(hashableStep(step)))}`;
}

function hashableStep(step: Step): Record<string, unknown> {
  const out: Record<string, unknown> = { ...step };
  if (step.sql) {
    const sql: Record<string, string | undefined> = { ...step.sql };
    for (const [engine, text] of Object.entries(sql)) {
      if (typeof text === 'string') sql[engine] = normalizeSql(text);
    }
    out.sql = sql;
  }
  if (step.preValidation !== undefined) out.preValidation = normalizeSql(step.preValidation);
  if (step.postValidation !== undefined) out.postValidation = normalizeSql(step.postValidation);
  if (step.transform?.filter !== undefined) {
    out.transform = { ...step.transform, filter: normalizeSql(step.transform.filter) };
  }
  if (step.run) out.run = normalizeSql(step.run.toString());
  return out;
}
