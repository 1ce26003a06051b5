const ENTITIES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
  '`': '&#96;',
};

/**
 * Escapes a string for HTML text and for quoted (single or double) attribute values alike, so every
 * call site uses the one function. The backtick is included because old IE treated it as an
 * attribute quote; escaping it costs nothing.
 *
 * @example
 * escapeHtml('<b title="x">') // '&lt;b title=&quot;x&quot;&gt;'
 */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"'`]/g, (ch) => ENTITIES[ch] ?? ch);
}

/** A scheme as the URL parser sees one: a letter, then letters, digits, `+`, `.` or `-`, then `:`. */
const SCHEME = /^([a-zA-Z][a-zA-Z0-9+.-]*):/;
const ALLOWED_SCHEMES = new Set(['http', 'https']);

/**
 * Makes a URL safe to put in an `href`/`action` attribute: http(s) and relative URLs pass (escaped),
 * anything else (javascript:, data:, vbscript:, …) becomes `#`. The scheme is judged the way
 * browsers parse it: leading/trailing control characters and spaces are ignored and tabs/newlines
 * anywhere are removed, so `" java\tscript:alert(1)"` is still caught.
 *
 * @example
 * `<a href="${safeUrl(doc.dist.tarball)}">download</a>`
 * safeUrl('javascript:alert(1)') // '#'
 */
export function safeUrl(url: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the URL parser strips exactly these
  const parsed = url.replace(/^[\u0000-\u0020]+|[\u0000-\u0020]+$/g, '').replace(/[\t\n\r]/g, '');
  const scheme = SCHEME.exec(parsed);
  if (scheme !== null && !ALLOWED_SCHEMES.has(scheme[1]!.toLowerCase())) return '#';
  return escapeHtml(url);
}
