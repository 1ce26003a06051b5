import { findNodeAtLocation, type Node, type ParseError, parseTree, printParseErrorCode } from 'jsonc-parser';
import type { z } from 'zod';
import { summarizeIssues, toFieldIssues } from '../model/issues.js';

/**
 * JSON documents with located errors: where a syntax error is, and where a field lives. Locating is
 * only done on error paths (the happy path is plain `JSON.parse`). jsonc-parser does that parsing: it reports every
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

/** Why a JSON document was refused, located for an error message. */
export type JsonProblem =
  | { kind: 'syntax'; message: string; line?: number; column?: number; cause: unknown }
  | {
      kind: 'schema';
      /** The first issue, plus how many more there are. */
      message: string;
      line?: number;
      /** `migration.steps.up[0].type` */
      field?: string;
      issues: { field: string; message: string; line?: number }[];
    };

/**
 * Parses JSON text (a leading BOM is ignored) and validates it with a zod schema. The happy path is
 * `JSON.parse` + `safeParse`; only a refused document is parsed again to find lines. Callers turn
 * the problem into their own error class (a migration file, a config file).
 *
 * @example
 * const result = parseJsonDocument(text, CmpkgConfigSchema);
 * if (!result.ok) throw new ConfigError(result.problem.message, { file, line: result.problem.line });
 */
export function parseJsonDocument<S extends z.ZodType>(
  input: string,
  schema: S,
): { ok: true; data: z.output<S> } | { ok: false; problem: JsonProblem } {
  const text = input.charCodeAt(0) === 0xfeff ? input.slice(1) : input;
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    const found = findJsonSyntaxError(text);
    if (found) {
      const problem: JsonProblem = {
        kind: 'syntax',
        message: `invalid JSON: ${found.message} (column ${found.column})`,
        line: found.line,
        column: found.column,
        cause: err,
      };
      return { ok: false, problem };
    }
    // jsonc-parser and V8 disagree: keep V8's words and its position, when it reports one.
    const native = err instanceof Error ? err.message : String(err);
    const position = /at position (\d+)/.exec(native)?.[1];
    const problem: JsonProblem = { kind: 'syntax', message: `invalid JSON: ${native}`, cause: err };
    if (position !== undefined) problem.line = lineAt(text, Number(position));
    return { ok: false, problem };
  }
  const parsed = schema.safeParse(raw);
  if (parsed.success) return { ok: true, data: parsed.data };
  const issues = toFieldIssues(parsed.error.issues);
  for (const issue of issues) {
    const line = lineOfJsonPath(text, issue.path);
    if (line !== undefined) issue.line = line;
  }
  const first = issues[0];
  const problem: JsonProblem = {
    kind: 'schema',
    message: summarizeIssues(issues),
    issues: issues.map(({ field, message, line }) => ({
      field,
      message,
      ...(line !== undefined ? { line } : {}),
    })),
  };
  if (first?.line !== undefined) problem.line = first.line;
  if (first?.field !== undefined) problem.field = first.field;
  return { ok: false, problem };
}
