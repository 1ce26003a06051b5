import { describe, expect, it } from 'vitest';
import {
  DEFAULT_SPLITTER_OPTIONS,
  type SplitterOptions,
  splitStatements,
  splitStatementsWithLines,
} from './splitter.js';

const postgres: Partial<SplitterOptions> = { dollarQuotes: true, nestedBlockComments: true };
const mysql: Partial<SplitterOptions> = {
  backslashEscapes: true,
  backtickIdentifiers: true,
  hashComments: true,
};
const sqlite: Partial<SplitterOptions> = { backtickIdentifiers: true, bracketIdentifiers: true };

describe('DEFAULT_SPLITTER_OPTIONS', () => {
  it('is ANSI: only blockBodies is on', () => {
    expect(DEFAULT_SPLITTER_OPTIONS).toEqual({
      dollarQuotes: false,
      backslashEscapes: false,
      backtickIdentifiers: false,
      bracketIdentifiers: false,
      hashComments: false,
      nestedBlockComments: false,
      blockBodies: true,
    });
    expect(Object.isFrozen(DEFAULT_SPLITTER_OPTIONS)).toBe(true);
  });
});

describe('splitStatements basics', () => {
  it('splits on semicolons, trims, drops the terminator and empty chunks', () => {
    expect(splitStatements('  SELECT 1 ;\n\n;;  SELECT 2\n')).toEqual(['SELECT 1', 'SELECT 2']);
  });

  it('returns nothing for empty, whitespace-only and comment-only input', () => {
    expect(splitStatements('')).toEqual([]);
    expect(splitStatements(' \n\t ')).toEqual([]);
    expect(splitStatements('-- just a comment;\n/* and ; another */ ;\n')).toEqual([]);
  });

  it('keeps comments inside a statement and drops them around it', () => {
    const sql = '-- leading; note\nSELECT a, -- the a; column\n  b /* ; */ FROM t; -- trailing\n';
    expect(splitStatements(sql)).toEqual(['SELECT a, -- the a; column\n  b /* ; */ FROM t']);
  });

  it("handles '' escapes and quotes inside comments", () => {
    const sql = "INSERT INTO t VALUES ('it''s; fine'); -- don't; stop\nSELECT 'x';";
    expect(splitStatements(sql)).toEqual(["INSERT INTO t VALUES ('it''s; fine')", "SELECT 'x'"]);
  });

  it('treats double quotes as identifiers with "" escapes', () => {
    expect(splitStatements('SELECT "a;""b" FROM "t;"; SELECT 2')).toEqual([
      'SELECT "a;""b" FROM "t;"',
      'SELECT 2',
    ]);
  });

  it('does not treat backslashes as escapes unless asked', () => {
    expect(splitStatements("SELECT 'a\\'; SELECT 2")).toEqual(["SELECT 'a\\'", 'SELECT 2']);
    expect(splitStatements("SELECT 'a\\'; SELECT 2'; SELECT 3", mysql)).toEqual([
      "SELECT 'a\\'; SELECT 2'",
      'SELECT 3',
    ]);
    expect(splitStatements('SELECT "a\\"; b"; SELECT 3', mysql)).toEqual(['SELECT "a\\"; b"', 'SELECT 3']);
  });

  it("honours PostgreSQL E'' strings with backslash escapes", () => {
    expect(splitStatements("SELECT E'it\\'s;'; SELECT 2", postgres)).toEqual([
      "SELECT E'it\\'s;'",
      'SELECT 2',
    ]);
    // A word that merely ends in e is not an E-string prefix.
    expect(splitStatements("SELECT 1 WHERE x = some'\\'; SELECT 2")).toEqual([
      "SELECT 1 WHERE x = some'\\'",
      'SELECT 2',
    ]);
  });

  it('block comments: flat by default, nested when enabled', () => {
    const sql = '/* a /* b */ SELECT 1; */ SELECT 2;';
    expect(splitStatements(sql)).toEqual(['SELECT 1', '*/ SELECT 2']);
    expect(splitStatements(sql, postgres)).toEqual(['SELECT 2']);
  });

  it('hash comments only when enabled', () => {
    expect(splitStatements('# note; here\nSELECT 1;', mysql)).toEqual(['SELECT 1']);
    expect(splitStatements('SELECT a # b; c\nFROM t;', { hashComments: false })).toEqual([
      'SELECT a # b',
      'c\nFROM t',
    ]);
  });

  it('keeps MySQL executable comments as statements in MySQL mode', () => {
    expect(splitStatements('/*!40101 SET NAMES utf8mb4 */;\n/* plain */;\nSELECT 1;', mysql)).toEqual([
      '/*!40101 SET NAMES utf8mb4 */',
      'SELECT 1',
    ]);
  });

  it('backticks and brackets when enabled', () => {
    expect(splitStatements('SELECT `a;b` FROM `t``;`; SELECT 2', mysql)).toEqual([
      'SELECT `a;b` FROM `t``;`',
      'SELECT 2',
    ]);
    expect(splitStatements('SELECT [a;b] FROM [t]]x]; SELECT 2', sqlite)).toEqual([
      'SELECT [a;b] FROM [t]]x]',
      'SELECT 2',
    ]);
    expect(splitStatements('SELECT arr[1]; SELECT 2', postgres)).toEqual(['SELECT arr[1]', 'SELECT 2']);
  });

  it('unterminated string: the rest of the script is one statement', () => {
    expect(splitStatements("SELECT 1; SELECT 'oops; SELECT 3;\nSELECT 4;")).toEqual([
      'SELECT 1',
      "SELECT 'oops; SELECT 3;\nSELECT 4;",
    ]);
  });

  it('unterminated block comment ends the script', () => {
    expect(splitStatements('SELECT 1; /* SELECT 2;')).toEqual(['SELECT 1']);
    expect(splitStatements('SELECT 1 /* SELECT 2;')).toEqual(['SELECT 1']);
  });
});

describe('dollar quotes', () => {
  it('keeps $$ and $tag$ bodies whole', () => {
    const sql = [
      'CREATE FUNCTION f() RETURNS trigger AS $$',
      'BEGIN',
      "  NEW.x := 'a;b'; -- $ inside",
      '  RETURN NEW;',
      'END;',
      '$$ LANGUAGE plpgsql;',
      'CREATE FUNCTION g() RETURNS int AS $body$',
      '  SELECT $$ nested; $$::text; SELECT 1;',
      '$body$ LANGUAGE sql;',
      'SELECT 3;',
    ].join('\n');
    const parts = splitStatementsWithLines(sql, postgres);
    expect(parts.map((p) => p.line)).toEqual([1, 7, 10]);
    expect(parts[0]?.text.endsWith('$$ LANGUAGE plpgsql')).toBe(true);
    expect(parts[1]?.text).toBe(
      'CREATE FUNCTION g() RETURNS int AS $body$\n  SELECT $$ nested; $$::text; SELECT 1;\n$body$ LANGUAGE sql',
    );
    expect(parts[2]?.text).toBe('SELECT 3');
  });

  it('does not take $1 placeholders or identifiers with $ for dollar quotes', () => {
    expect(splitStatements('SELECT $1, $2; SELECT a$b$c FROM t; SELECT 3', postgres)).toEqual([
      'SELECT $1, $2',
      'SELECT a$b$c FROM t',
      'SELECT 3',
    ]);
  });

  it('ignores $$ when dollar quotes are off', () => {
    expect(splitStatements('SELECT $$a;b$$', { dollarQuotes: false, blockBodies: false })).toEqual([
      'SELECT $$a',
      'b$$',
    ]);
  });

  it('unterminated dollar quote runs to the end', () => {
    expect(splitStatements('SELECT 1; SELECT $x$ a; b;', postgres)).toEqual(['SELECT 1', 'SELECT $x$ a; b;']);
  });
});

describe('block bodies', () => {
  it('keeps a SQLite trigger body with CASE ... END whole', () => {
    const sql = [
      'CREATE TABLE t (id INTEGER PRIMARY KEY, status TEXT, n INT);',
      'CREATE TRIGGER IF NOT EXISTS trg AFTER INSERT ON t',
      'FOR EACH ROW WHEN NEW.status IS NOT NULL',
      'BEGIN',
      "  UPDATE t SET n = CASE WHEN NEW.status = 'end;' THEN 1 ELSE 2 END WHERE id = NEW.id;",
      '  INSERT INTO log VALUES (CASE NEW.n WHEN 1 THEN 1 END);',
      'END;',
      "INSERT INTO t (status) VALUES ('x');",
    ].join('\n');
    const parts = splitStatementsWithLines(sql, sqlite);
    expect(parts.map((p) => p.line)).toEqual([1, 2, 8]);
    expect(parts[1]?.text.startsWith('CREATE TRIGGER IF NOT EXISTS trg')).toBe(true);
    expect(parts[1]?.text.endsWith('VALUES (CASE NEW.n WHEN 1 THEN 1 END);\nEND')).toBe(true);
  });

  it('handles TEMP triggers, OR REPLACE and qualified column names called end', () => {
    const sql =
      'CREATE TEMP TRIGGER a BEFORE DELETE ON t BEGIN SELECT RAISE(ABORT, "no;"); UPDATE x SET y = OLD.end; END; SELECT 1;';
    expect(splitStatements(sql, sqlite)).toEqual([
      'CREATE TEMP TRIGGER a BEFORE DELETE ON t BEGIN SELECT RAISE(ABORT, "no;"); UPDATE x SET y = OLD.end; END',
      'SELECT 1',
    ]);
    expect(splitStatements('CREATE OR REPLACE FUNCTION f() BEGIN SELECT 1; END; SELECT 2')).toHaveLength(2);
  });

  it('keeps a MySQL procedure with IF, LOOP, WHILE, REPEAT, CASE and nested BEGIN whole', () => {
    const sql = [
      'DROP PROCEDURE IF EXISTS p;',
      'CREATE DEFINER=`root`@`localhost` PROCEDURE p(IN x INT)',
      'BEGIN',
      '  DECLARE i INT DEFAULT 0;',
      '  DECLARE CONTINUE HANDLER FOR SQLEXCEPTION BEGIN SET i = -1; END;',
      '  SELECT IF(x > 0, 1, 0) INTO i;',
      '  lbl: LOOP',
      '    SET i = i + 1;',
      '    IF i > 10 THEN LEAVE lbl; ELSEIF i = 5 THEN SET i = 6; END IF;',
      '  END LOOP lbl;',
      '  WHILE i > 0 DO SET i = i - 1; END WHILE;',
      '  REPEAT SET i = i + 1; UNTIL i > 5 END REPEAT;',
      "  CASE i WHEN 1 THEN SELECT \"end;\"; ELSE SELECT 'it\\'s'; END CASE;",
      '  DROP TABLE IF EXISTS tmp; # a comment; with semicolons',
      'END;',
      'CALL p(1);',
    ].join('\n');
    const parts = splitStatementsWithLines(sql, mysql);
    expect(parts.map((p) => p.line)).toEqual([1, 2, 16]);
    expect(parts[1]?.text.startsWith('CREATE DEFINER=`root`@`localhost` PROCEDURE p')).toBe(true);
    expect(parts[1]?.text.endsWith('with semicolons\nEND')).toBe(true);
    expect(parts[2]?.text).toBe('CALL p(1)');
  });

  it('handles MySQL definers written without quotes, functions and events', () => {
    const sql = [
      'CREATE DEFINER = root@localhost FUNCTION f() RETURNS INT DETERMINISTIC BEGIN RETURN 1; END;',
      'CREATE DEFINER=CURRENT_USER() EVENT e ON SCHEDULE EVERY 1 DAY DO BEGIN DELETE FROM t; DELETE FROM u; END;',
      'SELECT f();',
    ].join('\n');
    expect(splitStatements(sql, mysql)).toHaveLength(3);
  });

  it('keeps a PostgreSQL BEGIN ATOMIC body whole', () => {
    const sql = [
      'CREATE FUNCTION add(a int, b int) RETURNS int LANGUAGE sql',
      'BEGIN ATOMIC',
      '  SELECT a + b;',
      '  SELECT CASE WHEN a > 0 THEN a ELSE b END;',
      'END;',
      'SELECT add(1, 2);',
    ].join('\n');
    expect(splitStatementsWithLines(sql, postgres).map((s) => s.line)).toEqual([1, 6]);
  });

  it('keeps MSSQL-style BEGIN TRANSACTION inside a body from opening a block', () => {
    const sql = 'CREATE PROCEDURE p AS BEGIN BEGIN TRANSACTION; UPDATE t SET a = 1; COMMIT; END; SELECT 1;';
    expect(splitStatements(sql)).toEqual([
      'CREATE PROCEDURE p AS BEGIN BEGIN TRANSACTION; UPDATE t SET a = 1; COMMIT; END',
      'SELECT 1',
    ]);
  });

  it('treats a top-level BEGIN / BEGIN TRANSACTION as an ordinary statement', () => {
    expect(
      splitStatements('BEGIN; CREATE TABLE a (x int); COMMIT; BEGIN TRANSACTION; SELECT 1; END;'),
    ).toEqual(['BEGIN', 'CREATE TABLE a (x int)', 'COMMIT', 'BEGIN TRANSACTION', 'SELECT 1', 'END']);
  });

  it('ignores keywords inside strings, comments and quoted identifiers', () => {
    const sql = [
      'CREATE TRIGGER t1 AFTER INSERT ON t BEGIN SELECT \'BEGIN\'; SELECT "END"; -- END;',
      '/* BEGIN */ SELECT `case`; END;',
      'SELECT 2;',
    ].join('\n');
    expect(splitStatements(sql, sqlite)).toHaveLength(2);
  });

  it('does not treat CREATE TABLE / INDEX with routine-like names as bodies', () => {
    expect(
      splitStatements('CREATE TABLE trigger_log (id int); CREATE INDEX function_idx ON t (a); SELECT 1'),
    ).toEqual(['CREATE TABLE trigger_log (id int)', 'CREATE INDEX function_idx ON t (a)', 'SELECT 1']);
  });

  it('splits bodies on every ; when blockBodies is off', () => {
    expect(splitStatements('CREATE TRIGGER a BEGIN SELECT 1; END;', { blockBodies: false })).toEqual([
      'CREATE TRIGGER a BEGIN SELECT 1',
      'END',
    ]);
  });

  it('PostgreSQL trigger without a body ends at its semicolon', () => {
    expect(
      splitStatements(
        'CREATE TRIGGER t BEFORE INSERT ON x FOR EACH ROW EXECUTE FUNCTION f(); SELECT 1',
        postgres,
      ),
    ).toEqual(['CREATE TRIGGER t BEFORE INSERT ON x FOR EACH ROW EXECUTE FUNCTION f()', 'SELECT 1']);
  });
});

describe('lines', () => {
  it('reports the line of the first significant character', () => {
    const sql = '\n-- comment\n\n  SELECT 1;   SELECT 2;\n/* a\nb */\nSELECT\n3';
    expect(splitStatementsWithLines(sql)).toEqual([
      { text: 'SELECT 1', line: 4 },
      { text: 'SELECT 2', line: 4 },
      { text: 'SELECT\n3', line: 7 },
    ]);
  });

  it('handles CRLF and lone CR line endings', () => {
    const crlf = 'SELECT 1;\r\n\r\n-- x;\r\nSELECT\r\n 2;\r\n';
    expect(splitStatementsWithLines(crlf)).toEqual([
      { text: 'SELECT 1', line: 1 },
      { text: 'SELECT\r\n 2', line: 4 },
    ]);
    expect(splitStatementsWithLines('SELECT 1;\r-- c\rSELECT 2;').map((s) => s.line)).toEqual([1, 3]);
  });

  it('counts lines inside skipped strings and comments', () => {
    const sql = "SELECT 'a\nb\nc';\n/* x\ny */ SELECT $$\n;\n$$;\nSELECT 3";
    expect(splitStatementsWithLines(sql, postgres).map((s) => s.line)).toEqual([1, 5, 8]);
  });
});

// Speed is measured in bench/, not asserted here; these inputs would hang a quadratic splitter.
describe('large input', () => {
  it('splits a large script with many bodies', () => {
    const unit =
      "CREATE TRIGGER t AFTER INSERT ON x BEGIN UPDATE y SET a = CASE WHEN 1 THEN 'a;' END; END;\n-- c;\nINSERT INTO z VALUES (1, 'b');\n";
    const sql = unit.repeat(20_000);
    const parts = splitStatements(sql, sqlite);
    expect(parts).toHaveLength(40_000);
    expect(parts[39_999]).toBe("INSERT INTO z VALUES (1, 'b')");
  });

  it('keeps an unterminated quote at the start as one statement', () => {
    const sql = `'${'x;'.repeat(500_000)}`;
    expect(splitStatements(sql)).toHaveLength(1);
  });
});
