import { DataTransferError, type PortableValue } from '@cmpkg/core';

/**
 * A compiled validation rule: `test` is true when the value passes. `null` passes every rule but
 * `required`/`not_null`.
 *
 * @example
 * const rule = compileRule('max_length:5', 'transform users: validation[0]');
 * rule.test('abcdef'); // false
 */
export interface CompiledRule {
  name: string;
  test(value: PortableValue): boolean;
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const INTEGER = /^\s*[+-]?\d+\s*$/;
const DATE = /^\d{4,}-\d{2}-\d{2}(?:[T ].*)?$/;

const text = (v: PortableValue): string =>
  typeof v === 'string' ? v : v instanceof Uint8Array ? Buffer.from(v).toString('utf8') : String(v);

function numeric(v: PortableValue): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'string' && v.trim() !== '' && !Number.isNaN(Number(v))) return Number(v);
  return undefined;
}

/**
 * The validation rules of a transform (`validation[].rule`), checked on the mapped target value:
 *
 * | rule | passes when |
 * |---|---|
 * | `required`, `not_null` | the value is not null |
 * | `min:N`, `max:N` | the value is a number (or numeric text) `>= N` / `<= N` |
 * | `min_length:N`, `max_length:N` | the text has at least / at most N characters |
 * | `pattern:REGEX` | the text matches the JavaScript regular expression |
 * | `email` | the text looks like `local@domain.tld` |
 * | `uuid` | the text is a UUID |
 * | `in:a,b,c` | the value (as text) is one of the listed values |
 * | `type:integer\|number\|string\|boolean\|date` | the value has that type (numeric text counts as a number, ISO text as a date) |
 *
 * @example
 * RULE_NAMES.includes('email'); // true
 */
export const RULE_NAMES = [
  'required',
  'not_null',
  'min',
  'max',
  'min_length',
  'max_length',
  'pattern',
  'email',
  'uuid',
  'in',
  'type',
] as const;

/**
 * Parses one rule string (`max_length:20`); unknown or malformed rules are `E_MAPPING` errors
 * naming `where`.
 *
 * @example
 * compileRule('in:draft,published', 'validation[1]').test('draft'); // true
 */
export function compileRule(rule: string, where: string): CompiledRule {
  const colon = rule.indexOf(':');
  const name = (colon < 0 ? rule : rule.slice(0, colon)).trim().toLowerCase();
  const arg = colon < 0 ? undefined : rule.slice(colon + 1);
  const fail = (why: string): never => {
    throw new DataTransferError('E_MAPPING', `${where}: rule ${JSON.stringify(rule)}: ${why}`, {
      details: { rule },
    });
  };
  const needArg = (): string => (arg === undefined || arg.trim() === '' ? fail('needs an argument') : arg);
  const number = (): number => {
    const n = Number(needArg());
    return Number.isFinite(n) ? n : fail('the argument must be a number');
  };
  const nullable = (test: (v: PortableValue) => boolean) => (v: PortableValue) => v === null || test(v);
  switch (name) {
    case 'required':
    case 'not_null':
      return { name, test: (v) => v !== null };
    case 'min': {
      const n = number();
      return { name, test: nullable((v) => (numeric(v) ?? Number.NaN) >= n) };
    }
    case 'max': {
      const n = number();
      return { name, test: nullable((v) => (numeric(v) ?? Number.NaN) <= n) };
    }
    case 'min_length': {
      const n = number();
      return { name, test: nullable((v) => Array.from(text(v)).length >= n) };
    }
    case 'max_length': {
      const n = number();
      return { name, test: nullable((v) => Array.from(text(v)).length <= n) };
    }
    case 'pattern': {
      let re: RegExp;
      try {
        re = new RegExp(needArg());
      } catch (err) {
        return fail(`invalid regular expression (${(err as Error).message})`);
      }
      return { name, test: nullable((v) => re.test(text(v))) };
    }
    case 'email':
      return { name, test: nullable((v) => EMAIL.test(text(v))) };
    case 'uuid':
      return { name, test: nullable((v) => UUID.test(text(v))) };
    case 'in': {
      const allowed = new Set(
        needArg()
          .split(',')
          .map((s) => s.trim()),
      );
      return { name, test: nullable((v) => allowed.has(text(v))) };
    }
    case 'type': {
      const t = needArg().trim().toLowerCase();
      const tests: Record<string, (v: PortableValue) => boolean> = {
        integer: (v) =>
          (typeof v === 'number' && Number.isInteger(v)) ||
          typeof v === 'bigint' ||
          (typeof v === 'string' && INTEGER.test(v)),
        number: (v) => numeric(v) !== undefined,
        string: (v) => typeof v === 'string',
        boolean: (v) => typeof v === 'boolean',
        date: (v) => typeof v === 'string' && DATE.test(v) && !Number.isNaN(Date.parse(v.slice(0, 10))),
      };
      const test = tests[t];
      return test
        ? { name, test: nullable(test) }
        : fail(`unknown type "${t}" (integer, number, string, boolean, date)`);
    }
    default:
      return fail(`unknown rule (known: ${RULE_NAMES.join(', ')})`);
  }
}
