const NUMBER = /^([+-]?)(\d*)(?:\.(\d*))?(?:e([+-]?\d+))?$/i;

/**
 * The canonical spelling of a number literal in a portable default (`ColumnDefinition.default`), so
 * every dialect's introspector spells the same default the same way: no `+`, no leading zeros, no
 * trailing fractional zeros (`0.00` → `0`, `1.50` → `1.5`), digits kept exactly (a DECIMAL(30)
 * default survives). Floats with an exponent go through JS numbers. `undefined` when `text` is not
 * a number.
 *
 * @example
 * canonicalNumber('0.00'); // '0'
 * canonicalNumber('-007.250'); // '-7.25'
 */
export function canonicalNumber(text: string): string | undefined {
  const m = NUMBER.exec(text.trim());
  if (!m || (m[2] === '' && (m[3] === undefined || m[3] === ''))) return undefined;
  if (m[4] !== undefined) return String(Number(text.trim()));
  const int = m[2]!.replace(/^0+(?=\d)/, '') || '0';
  const frac = (m[3] ?? '').replace(/0+$/, '');
  const body = frac ? `${int}.${frac}` : int;
  return m[1] === '-' && body !== '0' ? `-${body}` : body;
}
