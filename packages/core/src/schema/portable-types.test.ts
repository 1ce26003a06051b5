import { describe, expect, it } from 'vitest';
import { formatPortableType, isPortableType, parsePortableType, portableTypeKind } from './portable-types.js';

describe('portable types', () => {
  it('parses every type in any letter case and spacing', () => {
    expect(parsePortableType('UUID')).toEqual({ kind: 'uuid' });
    expect(parsePortableType('VarChar( 50 )')).toEqual({ kind: 'varchar', length: 50 });
    expect(parsePortableType('decimal(12, 4)')).toEqual({ kind: 'decimal', precision: 12, scale: 4 });
    expect(parsePortableType('vector(3)')).toEqual({ kind: 'vector', dimensions: 3 });
    for (const t of ['text', 'integer', 'bigint', 'smallint', 'boolean', 'real', 'double', 'date']) {
      expect(formatPortableType(parsePortableType(t))).toBe(t);
    }
    expect(formatPortableType(parsePortableType(' TIMESTAMPTZ '))).toBe('timestamptz');
    expect(formatPortableType(parsePortableType('Decimal(5,0)'))).toBe('decimal(5,0)');
  });

  it('rejects unknown types and wrong parameters, naming the type', () => {
    for (const bad of [
      'money',
      'varchar',
      'varchar(0)',
      'decimal(5)',
      'decimal(2,3)',
      'integer(4)',
      'vector(0)',
    ]) {
      expect(() => parsePortableType(bad)).toThrow(`"${bad}"`);
      expect(isPortableType(bad)).toBe(false);
    }
    expect(() => parsePortableType('money')).toThrow(/expected one of: uuid, text, varchar\(n\)/);
    expect(isPortableType('json')).toBe(true);
  });
});

describe('portableTypeKind', () => {
  it('is the kind parsePortableType gives, for every spelling, asked once or many times', () => {
    for (const t of ['UUID', 'VarChar( 50 )', 'decimal(12, 4)', 'vector(3)', ' TIMESTAMPTZ ', 'blob']) {
      expect(portableTypeKind(t)).toBe(parsePortableType(t).kind);
      expect(portableTypeKind(t)).toBe(parsePortableType(t).kind);
    }
  });

  it('throws like parsePortableType for a type that is not portable, every time', () => {
    expect(() => portableTypeKind('money')).toThrow(/"money" is not a portable column type/);
    expect(() => portableTypeKind('money')).toThrow(/"money" is not a portable column type/);
    expect(() => portableTypeKind('varchar')).toThrow(/"varchar" is not a portable column type/);
  });
});
