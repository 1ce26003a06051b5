import { describe, expect, it } from 'vitest';
import { escapeHtml, safeUrl } from './escape.js';

describe('escapeHtml', () => {
  it.each([
    ['&', '&amp;'],
    ['<', '&lt;'],
    ['>', '&gt;'],
    ['"', '&quot;'],
    ["'", '&#39;'],
    ['`', '&#96;'],
  ])('escapes %s as %s', (raw, escaped) => {
    expect(escapeHtml(raw)).toBe(escaped);
    expect(escapeHtml(`a${raw}b${raw}`)).toBe(`a${escaped}b${escaped}`);
  });

  it('escapes & first, so an entity in the input is shown, not decoded', () => {
    expect(escapeHtml('&lt;script&gt;')).toBe('&amp;lt;script&amp;gt;');
    expect(escapeHtml('&#106;avascript:')).toBe('&amp;#106;avascript:');
  });

  it('leaves other text, including non-ASCII and whitespace, as it is', () => {
    const text = 'Grüße “quoted” — tab\there\nnewline 日本語 = / ;';
    expect(escapeHtml(text)).toBe(text);
    expect(escapeHtml('')).toBe('');
  });

  it('makes a value safe inside a double- or single-quoted attribute', () => {
    const payload = `"><img src=x onerror=alert(1)>' onmouseover='alert(2)`;
    const double = `<a title="${escapeHtml(payload)}">`;
    const single = `<a title='${escapeHtml(payload)}'>`;
    for (const html of [double, single]) {
      // The only quotes left are the two delimiting the value, and there is exactly one tag.
      expect(html.match(/["']/g)).toHaveLength(2);
      expect(html.match(/[<>]/g)).toEqual(['<', '>']);
    }
    expect(double).toBe(
      '<a title="&quot;&gt;&lt;img src=x onerror=alert(1)&gt;&#39; onmouseover=&#39;alert(2)">',
    );
  });

  it('escapes a script payload completely', () => {
    expect(escapeHtml('<script>alert(1)</script>')).toBe('&lt;script&gt;alert(1)&lt;/script&gt;');
  });
});

describe('safeUrl', () => {
  it.each([
    'http://example.com/a?b=1',
    'https://example.com/',
    'HTTPS://EXAMPLE.COM/',
    '/plugins/sample',
    '/?q=a&page=2',
    'relative/path',
    '?q=x',
    '#section',
    '//cdn.example.com/x',
    '',
  ])('keeps %j (escaped)', (url) => {
    expect(safeUrl(url)).toBe(escapeHtml(url));
  });

  it('escapes what it keeps, so the value cannot leave its attribute', () => {
    expect(safeUrl('/?q="><script>&page=2')).toBe('/?q=&quot;&gt;&lt;script&gt;&amp;page=2');
    expect(safeUrl("https://e.com/'onmouseover='x")).toBe('https://e.com/&#39;onmouseover=&#39;x');
  });

  it.each([
    'javascript:alert(1)',
    'JavaScript:alert(1)',
    ' javascript:alert(1)',
    '\u0000javascript:alert(1)',
    '\n\tjavascript:alert(1)',
    'java\tscript:alert(1)',
    'java\nscript:alert(1)',
    'java\rscript:alert(1)',
    'vbscript:msgbox(1)',
    'data:text/html,<script>alert(1)</script>',
    'DATA:text/html;base64,PHNjcmlwdD4=',
    'file:///etc/passwd',
    'ftp://example.com/',
    'mailto:a@example.com',
    'blob:https://example.com/uuid',
    'x-custom+scheme.v1:thing',
  ])('turns %j into #', (url) => {
    expect(safeUrl(url)).toBe('#');
  });

  it('treats an entity-encoded scheme as a relative URL, which the escaper keeps harmless', () => {
    // The browser would decode &#106; in an attribute; escaping the & keeps it literal text.
    expect(safeUrl('&#106;avascript:alert(1)')).toBe('&amp;#106;avascript:alert(1)');
  });
});
