/**
 * The one SQL statement splitter of cmpkg. Dialects pass the hooks their SQL needs.
 * (Implementation in progress.)
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
