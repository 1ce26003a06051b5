/**
 * Line numbers for JSON files: where a syntax error is, and where a field lives. Only used on error
 * paths (the happy path is plain `JSON.parse`), so clarity beats speed here — but all of it is linear.
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

/** A JSON syntax error: where, and what was expected there. */
export interface JsonSyntaxError {
  offset: number;
  line: number;
  column: number;
  message: string;
}

class Stop extends Error {
  constructor(
    readonly offset: number,
    readonly reason: string,
  ) {
    super(reason);
  }
}

/**
 * Finds the first JSON syntax error in `text`, or `undefined` when it is valid JSON. Node's own
 * messages differ between versions and some carry no position, hence a small scanner of our own.
 */
export function findJsonSyntaxError(text: string): JsonSyntaxError | undefined {
  const n = text.length;
  let i = 0;

  const ws = (): void => {
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c === 32 || c === 9 || c === 10 || c === 13) i++;
      else break;
    }
  };
  const describe = (at: number): string => {
    if (at >= n) return 'unexpected end of input';
    const ch = text[at] ?? '';
    if (ch === '/' && (text[at + 1] === '/' || text[at + 1] === '*'))
      return 'comments are not allowed in JSON';
    if (ch === "'") return 'strings must use double quotes';
    return `unexpected character ${JSON.stringify(ch)}`;
  };
  const fail = (reason?: string): never => {
    throw new Stop(i, reason ?? describe(i));
  };

  const string = (): void => {
    i++;
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c === 34) {
        i++;
        return;
      }
      if (c < 32) fail('unescaped control character (a raw line break?) in a string');
      if (c === 92) {
        const e = text[i + 1] ?? '';
        if (e === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) fail('invalid \\u escape');
          i += 6;
        } else if ('"\\/bfnrt'.includes(e) && e !== '') i += 2;
        else fail(`invalid escape "\\${e}"`);
      } else i++;
    }
    fail('unterminated string');
  };

  const number = (): void => {
    const m = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
    m.lastIndex = i;
    if (!m.exec(text)) fail('invalid number');
    i = m.lastIndex;
  };

  const value = (): void => {
    ws();
    const c = text.charCodeAt(i);
    if (c === 123) object();
    else if (c === 91) array();
    else if (c === 34) string();
    else if (c === 45 || (c >= 48 && c <= 57)) number();
    else {
      for (const word of ['true', 'false', 'null']) {
        if (text.startsWith(word, i)) {
          i += word.length;
          return;
        }
      }
      fail();
    }
  };

  const object = (): void => {
    i++;
    ws();
    if (text.charCodeAt(i) === 125) {
      i++;
      return;
    }
    for (;;) {
      ws();
      if (text.charCodeAt(i) !== 34) {
        fail(
          text.charCodeAt(i) === 125
            ? 'trailing comma before "}"'
            : `expected a property name in double quotes, ${describe(i)}`,
        );
      }
      string();
      ws();
      if (text.charCodeAt(i) !== 58) fail(`expected ":" after the property name, ${describe(i)}`);
      i++;
      value();
      ws();
      const c = text.charCodeAt(i);
      if (c === 125) {
        i++;
        return;
      }
      if (c !== 44) fail(`expected "," or "}" after a property value, ${describe(i)}`);
      i++;
    }
  };

  const array = (): void => {
    i++;
    ws();
    if (text.charCodeAt(i) === 93) {
      i++;
      return;
    }
    for (;;) {
      ws();
      if (text.charCodeAt(i) === 93) fail('trailing comma before "]"');
      value();
      ws();
      const c = text.charCodeAt(i);
      if (c === 93) {
        i++;
        return;
      }
      if (c !== 44) fail(`expected "," or "]" after an array element, ${describe(i)}`);
      i++;
    }
  };

  try {
    value();
    ws();
    if (i < n) fail(`unexpected content after the JSON value, ${describe(i)}`);
    return undefined;
  } catch (err) {
    // Absurdly deep nesting overflows the recursion: report no position rather than crash.
    if (!(err instanceof Stop)) return undefined;
    const line = lineAt(text, err.offset);
    const lineStart =
      Math.max(text.lastIndexOf('\n', err.offset - 1), text.lastIndexOf('\r', err.offset - 1)) + 1;
    return { offset: err.offset, line, column: err.offset - lineStart + 1, message: err.reason };
  }
}

/**
 * The line where `path` (e.g. `['migration', 'steps', 'up', 0, 'type']`) is written in valid JSON
 * `text`: the line of the member's key, or of the array element. When the path does not exist (a
 * missing field), the line of its deepest existing ancestor.
 */
export function lineOfJsonPath(text: string, path: readonly PropertyKey[]): number | undefined {
  const n = text.length;
  let i = 0;
  let found = -1;

  const ws = (): void => {
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c === 32 || c === 9 || c === 10 || c === 13) i++;
      else break;
    }
  };
  const readString = (): string => {
    const startAt = i;
    i++;
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c === 92) i += 2;
      else if (c === 34) {
        i++;
        break;
      } else i++;
    }
    return JSON.parse(text.slice(startAt, i)) as string;
  };
  const skipValue = (): void => {
    ws();
    const c = text.charCodeAt(i);
    if (c === 34) {
      readString();
      return;
    }
    if (c === 123 || c === 91) {
      let depth = 0;
      while (i < n) {
        const d = text.charCodeAt(i);
        if (d === 34) {
          readString();
          continue;
        }
        if (d === 123 || d === 91) depth++;
        else if (d === 125 || d === 93) {
          depth--;
          if (depth === 0) {
            i++;
            return;
          }
        }
        i++;
      }
      return;
    }
    while (i < n && !/[\s,\]}]/.test(text[i] ?? '')) i++;
  };

  // Walks down `path`, skipping every sibling value on the way.
  const descend = (depth: number): void => {
    ws();
    if (depth === path.length) return;
    const want = path[depth];
    const c = text.charCodeAt(i);
    if (c === 123 && typeof want === 'string') {
      i++;
      for (;;) {
        ws();
        if (text.charCodeAt(i) !== 34) return;
        const keyAt = i;
        const key = readString();
        ws();
        i++; // ':'
        if (key === want) {
          found = keyAt;
          descend(depth + 1);
          return;
        }
        skipValue();
        ws();
        if (text.charCodeAt(i) !== 44) return;
        i++;
      }
    }
    if (c === 91 && typeof want === 'number') {
      i++;
      for (let index = 0; ; index++) {
        ws();
        if (text.charCodeAt(i) === 93) return;
        if (index === want) {
          found = i;
          descend(depth + 1);
          return;
        }
        skipValue();
        ws();
        if (text.charCodeAt(i) !== 44) return;
        i++;
      }
    }
  };

  try {
    descend(0);
  } catch {
    return undefined;
  }
  return found < 0 ? undefined : lineAt(text, found);
}
