import { describe, expect, it } from 'vitest';
import { compileRule } from './validation.js';

describe('validation rules', () => {
  const cases: Array<[string, unknown[], unknown[]]> = [
    ['required', ['', 0, false], [null]],
    ['not_null', ['x'], [null]],
    ['min:2', [2, '3.5', 10n, null], [1, 'abc', '']],
    ['max:2', [2, -1, '1.5', null], [3, 'x']],
    ['min_length:2', ['ab', 'äö', null], ['a', '']],
    ['max_length:2', ['ab', '', 12, null], ['abc', 123]],
    ['pattern:^[a-z]+:[0-9]$', ['ab:1', null], ['AB:1', 'ab:12']],
    ['email', ['a@b.co', null], ['a@b', 'a b@c.de', '@x.y']],
    [
      'uuid',
      ['123e4567-e89b-12d3-a456-426614174000', null],
      ['123e4567', 'zz3e4567-e89b-12d3-a456-426614174000'],
    ],
    ['in:draft, published', ['draft', 'published', null], ['Draft', 'x']],
    ['type:integer', [1, 2n, '-3', null], [1.5, 'x', true]],
    ['type:number', [1.5, '2e3', null], ['x', true]],
    ['type:string', ['', null], [1, true]],
    ['type:boolean', [true, false, null], [1, 'true']],
    ['type:date', ['2024-05-01', '2024-05-01T10:00:00Z', null], ['2024-5-1', 'yesterday', 20240501]],
  ];
  for (const [rule, pass, fail] of cases) {
    it(rule, () => {
      const r = compileRule(rule, 'validation[0]');
      for (const v of pass) expect({ v, ok: r.test(v as never) }).toEqual({ v, ok: true });
      for (const v of fail) expect({ v, ok: r.test(v as never) }).toEqual({ v, ok: false });
    });
  }

  it('rejects unknown and malformed rules with E_MAPPING naming where', () => {
    for (const [rule, message] of [
      ['unique', /unknown rule/],
      ['min', /needs an argument/],
      ['max:lots', /must be a number/],
      ['pattern:(', /invalid regular expression/],
      ['type:money', /unknown type "money"/],
    ] as const) {
      expect(() => compileRule(rule, 'transform x: validation[3]')).toThrow(
        expect.objectContaining({ code: 'E_MAPPING', message: expect.stringMatching(message) }),
      );
    }
    expect(() => compileRule('unique', 'transform x: validation[3]')).toThrow(
      /^transform x: validation\[3\]: rule "unique"/,
    );
  });
});
