import { describe, expect, it } from 'vitest';
import {
  checkExpression,
  dropVarcharCasts,
  portableDefault,
  toColumn,
  triggerKind,
} from './postgres-introspector.js';

describe('portableDefault', () => {
  it.each([
    ["'untitled'::character varying", "'untitled'"],
    ["'it''s'::text", "'it''s'"],
    ["'{}'::jsonb", "'{}'"],
    ["'2024-01-01'::date", "'2024-01-01'"],
    ['0', '0'],
    ['0.00', '0'],
    ['1.50', '1.5'],
    ["'-1'::integer", '-1'],
    ["'-0.50'::numeric", '-0.5'],
    ["'12345678901234567890.10'::numeric(30,2)", '12345678901234567890.1'],
    ['(-1)', '-1'],
    ["'007'::text", "'007'"],
    ['true', 'true'],
    ['false', 'false'],
    ['now()', 'CURRENT_TIMESTAMP'],
    ['CURRENT_TIMESTAMP', 'CURRENT_TIMESTAMP'],
    ['CURRENT_DATE', 'CURRENT_DATE'],
    ['gen_random_uuid()', 'gen_random_uuid()'],
  ])('%s -> %s', (given, expected) => {
    expect(portableDefault(given)).toBe(expected);
  });

  it('treats a NULL default as no default', () => {
    expect(portableDefault('NULL::character varying')).toBeUndefined();
    expect(portableDefault('NULL')).toBeUndefined();
  });
});

describe('toColumn', () => {
  const row = (over: Record<string, unknown>) => ({
    name: 'c',
    native_type: 'integer',
    not_null: false,
    identity: '',
    generated: '',
    default_expr: null,
    comment: null,
    ...over,
  });

  it('reads identity and serial columns as autoIncrement without a default', () => {
    expect(toColumn(row({ native_type: 'bigint', not_null: true, identity: 'd' }))).toEqual({
      name: 'c',
      type: 'bigint',
      nativeType: 'bigint',
      nullable: false,
      autoIncrement: true,
    });
    expect(toColumn(row({ default_expr: "nextval('t_c_seq'::regclass)", not_null: true }))).toEqual({
      name: 'c',
      type: 'integer',
      nativeType: 'integer',
      nullable: false,
      autoIncrement: true,
    });
  });

  it('reads REAL[] with the marker comment as a vector and hides the marker', () => {
    expect(toColumn(row({ native_type: 'real[]', comment: 'cmpkg:vector(3)' }))).toEqual({
      name: 'c',
      type: 'vector(3)',
      nativeType: 'real[]',
      nullable: true,
    });
    expect(toColumn(row({ native_type: 'real[]', comment: 'scores' }))).toEqual({
      name: 'c',
      type: null,
      nativeType: 'real[]',
      nullable: true,
      comment: 'scores',
    });
  });

  it('keeps types without a portable twin as nativeType, and generated columns recreatable', () => {
    expect(toColumn(row({ native_type: 'money', default_expr: "'1.00'::money" }))).toEqual({
      name: 'c',
      type: null,
      nativeType: 'money',
      nullable: true,
      default: "'1.00'",
    });
    expect(toColumn(row({ generated: 's', default_expr: '(a * 2)' }))).toEqual({
      name: 'c',
      type: null,
      nativeType: 'integer GENERATED ALWAYS AS ((a * 2)) STORED',
      nullable: true,
    });
  });
});

describe('expressions', () => {
  it('strips CHECK ( ) from constraint definitions', () => {
    expect(checkExpression('CHECK (price >= 0::numeric)')).toBe('price >= 0::numeric');
    expect(checkExpression('CHECK ((a > 0) OR (b > 0)) NOT VALID')).toBe('(a > 0) OR (b > 0)');
  });

  it('drops the ::text casts PostgreSQL adds to varchar columns, and nothing else', () => {
    expect(dropVarcharCasts('lower(email::text)', ['email'])).toBe('lower(email)');
    expect(dropVarcharCasts(`"Weird"::text <> 'x'::text`, ['Weird'])).toBe(`"Weird" <> 'x'::text`);
    expect(dropVarcharCasts('lower(email::text)', [])).toBe('lower(email::text)');
    expect(dropVarcharCasts('lower(other_email::text) || t.email::text', ['email'])).toBe(
      'lower(other_email::text) || t.email::text',
    );
  });
});

describe('triggerKind', () => {
  it('decodes pg_trigger.tgtype', () => {
    expect(triggerKind(23)).toEqual({ timing: 'before', events: ['insert', 'update'] });
    expect(triggerKind(1 | 8)).toEqual({ timing: 'after', events: ['delete'] });
    expect(triggerKind(0x40 | 1 | 4)).toEqual({ timing: 'instead of', events: ['insert'] });
    expect(triggerKind(0x20)).toEqual({ timing: 'after', events: ['truncate'] });
  });
});
