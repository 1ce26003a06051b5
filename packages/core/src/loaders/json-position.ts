import { findNodeAtLocation, type Node, type ParseError, parseTree, printParseErrorCode } from 'jsonc-parser';

/**
 * Line numbers for JSON files: where a syntax error is, and where a field lives. Only used on error
 * paths (the happy path is plain `JSON.parse`). jsonc-parser does the parsing: it reports every
 * error with an offset and keeps offsets on every node, which V8's `JSON.parse` does not.
 */

/** 1-based line of `offset` in `text` (`\r\n`, `\r` and `\n` each end a line). */
export function lineAt(text: string, offset: number): number {
  let line = 1;
  const end = Math.min(offset, text.length);
  for (let i = 0; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c === 10 || (c === 13 && text.charCodeAt(i + 1) !== 10)) line++;
  }
  return line;
}

function columnAt(text: string, offset: number): number {
  const start = Math.max(text.lastIndexOf('\n', offset - 1), text.lastIndexOf('\r', offset - 1));
  return offset - start;
}

/** A JSON syntax error: where, and what was expected there. */
export interface JsonSyntaxError {
  offset: number;
  line: number;
  column: number;
  message: string;
}

// Keyed by name: ParseErrorCode is a const enum, which verbatimModuleSyntax cannot import.
const MESSAGES: Record<string, string> = {
  InvalidSymbol: 'unexpected character',
  InvalidNumberFormat: 'invalid number',
  PropertyNameExpected: 'expected a property name in double quotes',
  ValueExpected: 'expected a value',
  ColonExpected: 'expected ":" after the property name',
  CommaExpected: 'expected "," between values',
  CloseBraceExpected: 'expected "}"',
  CloseBracketExpected: 'expected "]"',
  EndOfFileExpected: 'expected the end of the file',
  InvalidCommentToken: 'comments are not allowed in JSON',
  UnexpectedEndOfComment: 'unterminated comment',
  UnexpectedEndOfString: 'unterminated string (a string cannot span lines: write \\n)',
  UnexpectedEndOfNumber: 'unterminated number',
  InvalidUnicode: 'invalid \\u escape',
  InvalidEscapeCharacter: 'invalid escape character',
  InvalidCharacter: 'control character inside a string (use an escape such as \\n)',
};

const STRICT = { disallowComments: true, allowTrailingComma: false, allowEmptyContent: false };

function parse(text: string): { root: Node | undefined; errors: ParseError[] } {
  const errors: ParseError[] = [];
  const root = parseTree(text, errors, STRICT);
  return { root, errors };
}

/**
 * Finds the first JSON syntax error in `text`, or `undefined` when it is valid JSON.
 *
 * @example
 * findJsonSyntaxError('{"a": 1,}'); // { line: 1, column: 9, message: 'expected a property name in double quotes', ... }
 */
export function findJsonSyntaxError(text: string): JsonSyntaxError | undefined {
  const first = parse(text).errors[0];
  if (!first) return undefined;
  let message = MESSAGES[printParseErrorCode(first.error)] ?? 'invalid JSON';
  // The commonest hand-editing slips get their own words rather than the parser's.
  const before = text.slice(0, first.offset).trimEnd();
  const at = text.slice(first.offset).trimStart()[0];
  if (at === undefined) message = `unexpected end of input (${message})`;
  else if (before.endsWith(',') && (at === '}' || at === ']')) message = `trailing comma before "${at}"`;
  else if (at === "'") message = 'strings and property names need double quotes, not single quotes';
  return {
    offset: first.offset,
    line: lineAt(text, first.offset),
    column: columnAt(text, first.offset),
    message,
  };
}

/**
 * The 1-based line of the value at `path` (keys and array indexes), or of its deepest existing
 * ancestor when the field itself is absent (a missing required field is reported where it belongs).
 * `undefined` for the root or unparsable text.
 *
 * @example
 * lineOfJsonPath('{\n  "a": [\n    1\n  ]\n}', ['a', 0]); // 3
 */
export function lineOfJsonPath(text: string, path: readonly PropertyKey[]): number | undefined {
  const { root } = parse(text);
  if (!root || path.length === 0) return undefined;
  const segments = path.filter((p): p is string | number => typeof p === 'string' || typeof p === 'number');
  for (let depth = segments.length; depth > 0; depth--) {
    const node = findNodeAtLocation(root, segments.slice(0, depth));
    if (node) {
      // A property's line is where its key stands, which is where an editor should jump.
      const at = node.parent?.type === 'property' ? node.parent.offset : node.offset;
      return lineAt(text, at);
    }
  }
  return undefined;
}
