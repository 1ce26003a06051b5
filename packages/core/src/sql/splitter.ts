/**
 * The one SQL statement splitter of cmpkg. Dialects pass the hooks their SQL needs; everything that
 * splits SQL (planner, lint, dialects) goes through here so quoting rules live in one place.
 */
export interface SplitterOptions {
  /** PostgreSQL `$tag$ ... $tag$` strings. */
  dollarQuotes: boolean;
  /** MySQL: a backslash escapes the next character inside quoted strings. */
  backslashEscapes: boolean;
  /** `` `name` `` identifiers (MySQL, SQLite). */
  backtickIdentifiers: boolean;
  /** `[name]` identifiers (SQLite, MSSQL). */
  bracketIdentifiers: boolean;
  /** `# comment` to end of line (MySQL). */
  hashComments: boolean;
  /** Block comments nest (PostgreSQL). */
  nestedBlockComments: boolean;
  /**
   * `CREATE TRIGGER/PROCEDURE/FUNCTION ... BEGIN ... END` bodies are one statement: semicolons
   * inside the body do not split (no DELIMITER needed).
   */
  blockBodies: boolean;
}

/** One statement and the 1-based line of the script it starts on. */
export interface SqlStatement {
  text: string;
  line: number;
}

/**
 * ANSI SQL: `'strings'`, `"identifiers"`, `--` and `/* *\/` comments, and `BEGIN ... END` bodies of
 * triggers and routines kept whole. Dialects switch on what their engine adds.
 *
 * @example
 * splitStatements(sql, { ...DEFAULT_SPLITTER_OPTIONS, dollarQuotes: true, nestedBlockComments: true });
 */
export const DEFAULT_SPLITTER_OPTIONS: Readonly<SplitterOptions> = Object.freeze({
  dollarQuotes: false,
  backslashEscapes: false,
  backtickIdentifiers: false,
  bracketIdentifiers: false,
  hashComments: false,
  nestedBlockComments: false,
  blockBodies: true,
});

/**
 * Splits a script into statements: trimmed, without the terminating `;`, comment-only chunks dropped.
 *
 * @example
 * splitStatements("INSERT INTO t VALUES ('a;b'); -- done\nSELECT 1;");
 * // => ["INSERT INTO t VALUES ('a;b')", 'SELECT 1']
 */
export function splitStatements(sql: string, options?: Partial<SplitterOptions>): string[] {
  return splitStatementsWithLines(sql, options).map((s) => s.text);
}

const TAB = 9;
const LF = 10;
const VT = 11;
const FF = 12;
const CR = 13;
const SPACE = 32;
const BANG = 33;
const DQUOTE = 34;
const HASH = 35;
const DOLLAR = 36;
const SQUOTE = 39;
const STAR = 42;
const DASH = 45;
const DOT = 46;
const SLASH = 47;
const SEMI = 59;
const UPPER_E = 69;
const UPPER_M = 77;
const LBRACKET = 91;
const BACKSLASH = 92;
const RBRACKET = 93;
const BACKTICK = 96;
const LOWER_E = 101;

function isLetter(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c > 127;
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/** Characters that continue an identifier; `$` included because PostgreSQL and MySQL allow it there. */
function isWordChar(c: number): boolean {
  return isLetter(c) || isDigit(c) || c === DOLLAR;
}

function isSpace(c: number): boolean {
  return c === SPACE || c === LF || c === CR || c === TAB || c === VT || c === FF;
}

/** Words after which `CREATE ...` cannot be a trigger or routine, so detection can stop early. */
const NOT_A_ROUTINE = new Set([
  'TABLE',
  'INDEX',
  'VIEW',
  'SEQUENCE',
  'SCHEMA',
  'DATABASE',
  'TYPE',
  'DOMAIN',
  'EXTENSION',
  'ROLE',
  'USER',
  'POLICY',
  'MATERIALIZED',
  'UNIQUE',
  'VIRTUAL',
  'RULE',
  'AS',
  'ON',
  'SELECT',
]);
const ROUTINE_KINDS = new Set(['TRIGGER', 'PROCEDURE', 'FUNCTION', 'EVENT']);
/** `END IF` etc. close constructs whose openers are never counted (`IF(` is also a function). */
const UNCOUNTED_BLOCKS = new Set(['IF', 'LOOP', 'WHILE', 'REPEAT']);
/** `BEGIN TRANSACTION` and friends (MSSQL, also valid in bodies) open no block. */
const TRANSACTION_WORDS = new Set(['TRANSACTION', 'TRAN', 'WORK', 'DISTRIBUTED']);
/** `CREATE OR REPLACE DEFINER=... TEMP TRIGGER` needs a few words of look-ahead, never many. */
const MAX_DETECTION_WORDS = 16;
const LONGEST_KEYWORD = 12;

const UNKNOWN = 0;
const ROUTINE = 1;
const PLAIN = 2;

/**
 * Like {@link splitStatements}, with the 1-based line each statement starts on (for error messages).
 * One pass over the input; quoted text and comments are skipped with `indexOf`-style scans.
 *
 * @example
 * splitStatementsWithLines('SELECT 1;\n\nSELECT 2;');
 * // => [{ text: 'SELECT 1', line: 1 }, { text: 'SELECT 2', line: 3 }]
 */
export function splitStatementsWithLines(sql: string, options?: Partial<SplitterOptions>): SqlStatement[] {
  const o: SplitterOptions = { ...DEFAULT_SPLITTER_OPTIONS, ...options };
  const n = sql.length;
  const out: SqlStatement[] = [];

  // Lines are counted lazily with a cursor that only moves forward, which keeps the whole run linear.
  let lineCursor = 0;
  let line = 1;
  const lineAt = (pos: number): number => {
    while (lineCursor < pos) {
      const c = sql.charCodeAt(lineCursor++);
      if (c === LF || (c === CR && sql.charCodeAt(lineCursor) !== LF)) line++;
    }
    return line;
  };

  // The statement being collected: from its first to its last significant character, so comments
  // and blank lines around it are not part of its text.
  let start = -1;
  let startLine = 0;
  let end = 0;
  // Body tracking, reset per statement.
  let kind = UNKNOWN;
  let words = 0;
  let depth = 0;
  let pendingEnd = false;
  let pendingBegin = false;
  let afterDot = false;

  const mark = (from: number, to: number): void => {
    if (start < 0) {
      start = from;
      startLine = lineAt(from);
    }
    end = to;
  };

  const flush = (): void => {
    if (start >= 0) out.push({ text: sql.slice(start, end).trim(), line: startLine });
    start = -1;
    kind = o.blockBodies ? UNKNOWN : PLAIN;
    words = 0;
    depth = 0;
    pendingEnd = false;
    pendingBegin = false;
    afterDot = false;
  };
  kind = o.blockBodies ? UNKNOWN : PLAIN;

  // A non-keyword token settles a pending END (it closes a block) or BEGIN (it opens one).
  const settle = (): void => {
    if (pendingEnd) {
      pendingEnd = false;
      if (depth > 0) depth--;
    }
    if (pendingBegin) {
      pendingBegin = false;
      depth++;
    }
  };

  const onWord = (from: number, to: number): void => {
    if (kind === PLAIN) return;
    const qualified = afterDot;
    afterDot = false;
    const c0 = sql.charCodeAt(from);
    const word =
      !qualified && to - from <= LONGEST_KEYWORD && !isDigit(c0) && c0 !== DOLLAR
        ? sql.slice(from, to).toUpperCase()
        : '';
    if (kind === UNKNOWN) {
      words++;
      if (words === 1) kind = word === 'CREATE' ? UNKNOWN : PLAIN;
      else if (ROUTINE_KINDS.has(word)) kind = ROUTINE;
      else if (NOT_A_ROUTINE.has(word) || words > MAX_DETECTION_WORDS) kind = PLAIN;
      return;
    }
    if (pendingEnd) {
      pendingEnd = false;
      if (UNCOUNTED_BLOCKS.has(word)) return;
      if (depth > 0) depth--;
      if (word === 'CASE') return;
    }
    if (pendingBegin) {
      pendingBegin = false;
      if (TRANSACTION_WORDS.has(word)) return;
      depth++;
    }
    if (word === 'BEGIN') pendingBegin = true;
    else if (word === 'END') pendingEnd = true;
    else if (word === 'CASE') depth++;
  };

  const onOther = (isDot: boolean): void => {
    if (kind === ROUTINE) settle();
    afterDot = isDot;
  };

  const skipLine = (from: number): number => {
    let j = from;
    while (j < n) {
      const c = sql.charCodeAt(j);
      if (c === LF || c === CR) return j;
      j++;
    }
    return n;
  };

  const skipBlockComment = (from: number): number => {
    let nesting = 1;
    let j = from;
    while (j < n) {
      const c = sql.charCodeAt(j);
      if (c === STAR && sql.charCodeAt(j + 1) === SLASH) {
        j += 2;
        if (--nesting === 0) return j;
      } else if (o.nestedBlockComments && c === SLASH && sql.charCodeAt(j + 1) === STAR) {
        j += 2;
        nesting++;
      } else j++;
    }
    return n;
  };

  const skipQuoted = (from: number, quote: number, backslash: boolean): number => {
    let j = from + 1;
    while (j < n) {
      const c = sql.charCodeAt(j);
      if (backslash && c === BACKSLASH) j += 2;
      else if (c === quote) {
        if (sql.charCodeAt(j + 1) !== quote) return j + 1;
        j += 2;
      } else j++;
    }
    return n;
  };

  /** The end of a `$tag$...$tag$` string starting at `from`, or -1 when `from` starts none. */
  const skipDollarQuote = (from: number): number => {
    if (from > 0 && isWordChar(sql.charCodeAt(from - 1))) return -1;
    let j = from + 1;
    if (j < n && isLetter(sql.charCodeAt(j))) {
      j++;
      while (j < n && (isLetter(sql.charCodeAt(j)) || isDigit(sql.charCodeAt(j)))) j++;
    }
    if (sql.charCodeAt(j) !== DOLLAR) return -1;
    const delimiter = sql.slice(from, j + 1);
    const close = sql.indexOf(delimiter, j + 1);
    return close < 0 ? n : close + delimiter.length;
  };

  let i = 0;
  while (i < n) {
    const c = sql.charCodeAt(i);
    if (isSpace(c)) {
      i++;
      continue;
    }
    const next = sql.charCodeAt(i + 1);
    if ((c === DASH && next === DASH) || (c === HASH && o.hashComments)) {
      i = skipLine(i + 1);
      continue;
    }
    if (c === SLASH && next === STAR) {
      const close = skipBlockComment(i + 2);
      // MySQL/MariaDB executable comments (`/*!40101 SET ... */`, `/*M!...`) are statements there.
      const third = sql.charCodeAt(i + 2);
      if (o.hashComments && (third === BANG || (third === UPPER_M && sql.charCodeAt(i + 3) === BANG))) {
        mark(i, close);
        onOther(false);
      }
      i = close;
      continue;
    }
    if (c === SEMI) {
      if (kind === ROUTINE) {
        // `BEGIN;` is a transaction statement, never a block opener.
        pendingBegin = false;
        settle();
        if (depth > 0) {
          mark(i, i + 1);
          i++;
          continue;
        }
      }
      flush();
      i++;
      continue;
    }
    let close = -1;
    if (c === SQUOTE) {
      // PostgreSQL E'...' strings take backslash escapes whatever the dialect's default.
      const prev = i > 0 ? sql.charCodeAt(i - 1) : 0;
      const eString = (prev === UPPER_E || prev === LOWER_E) && (i < 2 || !isWordChar(sql.charCodeAt(i - 2)));
      close = skipQuoted(i, SQUOTE, o.backslashEscapes || eString);
    } else if (c === DQUOTE) close = skipQuoted(i, DQUOTE, o.backslashEscapes);
    else if (c === BACKTICK && o.backtickIdentifiers) close = skipQuoted(i, BACKTICK, false);
    else if (c === LBRACKET && o.bracketIdentifiers) close = skipQuoted(i, RBRACKET, false);
    else if (c === DOLLAR && o.dollarQuotes) close = skipDollarQuote(i);
    if (close >= 0) {
      mark(i, close);
      onOther(false);
      i = close;
      continue;
    }
    if (isWordChar(c)) {
      let j = i + 1;
      while (j < n && isWordChar(sql.charCodeAt(j))) j++;
      mark(i, j);
      onWord(i, j);
      i = j;
      continue;
    }
    mark(i, i + 1);
    onOther(c === DOT);
    i++;
  }
  flush();
  return out;
}
