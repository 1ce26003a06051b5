import { describe, expect, it } from 'vitest';
import { canonicalNumber } from './portable-default.js';

describe('canonicalNumber', () => {
  it.each([
    ['0', '0'],
    ['0.00', '0'],
    ['1.50', '1.5'],
    ['-007.250', '-7.25'],
    ['-0', '0'],
    ['+3', '3'],
    ['12345678901234567890', '12345678901234567890'],
    ['.5', '0.5'],
    ['1.5e3', '1500'],
  ])('%s -> %s', (text, expected) => {
    expect(canonicalNumber(text)).toBe(expected);
  });

  it('is undefined for what is not a number', () => {
    expect(canonicalNumber('abc')).toBeUndefined();
    expect(canonicalNumber('')).toBeUndefined();
    expect(canonicalNumber('.')).toBeUndefined();
  });
});
