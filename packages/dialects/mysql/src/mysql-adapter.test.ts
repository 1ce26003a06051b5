import { PORTABLE_TYPE_KINDS, type PortableType, splitStatements, UsageError } from '@cmpkg/core';
import { describe, expect, it } from 'vitest';
import {
  MYSQL_TYPE_MAP,
  mysqlCapabilities,
  mysqlNativeType,
  mysqlPortableType,
  mysqlSplitterOptions,
  quoteMysqlIdentifier,
  vectorComment,
} from './mysql-adapter.js';

/** Every portable type, its MySQL type, and how introspection reports that type back. */
const TABLE: Array<[PortableType, string, { dataType: string; columnType: string }]> = [
  ['uuid', 'CHAR(36)', { dataType: 'char', columnType: 'char(36)' }],
  ['text', 'LONGTEXT', { dataType: 'longtext', columnType: 'longtext' }],
  ['varchar(200)', 'VARCHAR(200)', { dataType: 'varchar', columnType: 'varchar(200)' }],
  ['integer', 'INT', { dataType: 'int', columnType: 'int(11)' }],
  ['bigint', 'BIGINT', { dataType: 'bigint', columnType: 'bigint(20)' }],
  ['smallint', 'SMALLINT', { dataType: 'smallint', columnType: 'smallint' }],
  ['boolean', 'TINYINT(1)', { dataType: 'tinyint', columnType: 'tinyint(1)' }],
  ['real', 'FLOAT', { dataType: 'float', columnType: 'float' }],
  ['double', 'DOUBLE', { dataType: 'double', columnType: 'double' }],
  ['decimal(10,2)', 'DECIMAL(10,2)', { dataType: 'decimal', columnType: 'decimal(10,2)' }],
  ['date', 'DATE', { dataType: 'date', columnType: 'date' }],
  ['timestamp', 'DATETIME(6)', { dataType: 'datetime', columnType: 'datetime(6)' }],
  ['timestamptz', 'TIMESTAMP(6)', { dataType: 'timestamp', columnType: 'timestamp(6)' }],
  ['json', 'JSON', { dataType: 'json', columnType: 'json' }],
  ['blob', 'LONGBLOB', { dataType: 'longblob', columnType: 'longblob' }],
  ['vector(3)', 'JSON', { dataType: 'json', columnType: 'json' }],
];

describe('type mapping', () => {
  it('covers every portable type kind', () => {
    expect(Object.keys(MYSQL_TYPE_MAP).sort()).toEqual([...PORTABLE_TYPE_KINDS].sort());
    expect(new Set(TABLE.map(([t]) => t.replace(/\(.*$/, '')))).toEqual(new Set(PORTABLE_TYPE_KINDS));
    expect(Object.isFrozen(MYSQL_TYPE_MAP)).toBe(true);
  });

  it.each(TABLE)('%s -> %s and back', (portable, native, reported) => {
    expect(mysqlNativeType(portable)).toBe(native);
    const comment = vectorComment(portable);
    expect(mysqlPortableType({ ...reported, ...(comment ? { comment } : {}) }).type).toBe(portable);
  });

  it('marks vectors with a column comment', () => {
    expect(vectorComment('vector(3)')).toBe('cmpkg:vector(3)');
    expect(vectorComment('json')).toBeUndefined();
    expect(mysqlPortableType({ dataType: 'json', columnType: 'json', comment: 'cmpkg:vector(8)' })).toEqual({
      type: 'vector(8)',
      vectorMarker: true,
    });
    // The marker means nothing on a column that is not JSON.
    expect(
      mysqlPortableType({ dataType: 'longtext', columnType: 'longtext', comment: 'cmpkg:vector(8)' }),
    ).toEqual({
      type: 'text',
      vectorMarker: false,
    });
  });

  it("reads MariaDB's JSON (LONGTEXT with the implicit json_valid check)", () => {
    expect(mysqlPortableType({ dataType: 'longtext', columnType: 'longtext', jsonCheck: true }).type).toBe(
      'json',
    );
    expect(
      mysqlPortableType({
        dataType: 'longtext',
        columnType: 'longtext',
        jsonCheck: true,
        comment: 'cmpkg:vector(2)',
      }).type,
    ).toBe('vector(2)');
  });

  it('maps the other native spellings of the same portable types', () => {
    const type = (dataType: string, columnType: string) => mysqlPortableType({ dataType, columnType }).type;
    expect(type('mediumtext', 'mediumtext')).toBe('text');
    expect(type('text', 'text')).toBe('text');
    expect(type('int', 'int')).toBe('integer');
    expect(type('bigint', 'bigint')).toBe('bigint');
    expect(type('smallint', 'smallint(6)')).toBe('smallint');
    expect(type('datetime', 'datetime')).toBe('timestamp');
    expect(type('datetime', 'datetime(3)')).toBe('timestamp');
    expect(type('timestamp', 'timestamp')).toBe('timestamptz');
    expect(type('blob', 'blob')).toBe('blob');
    expect(type('mediumblob', 'mediumblob')).toBe('blob');
  });

  it('has no portable type for unsigned, zerofill and MySQL-only types', () => {
    const type = (dataType: string, columnType: string) => mysqlPortableType({ dataType, columnType }).type;
    expect(type('int', 'int(10) unsigned')).toBeNull();
    expect(type('bigint', 'bigint(20) unsigned zerofill')).toBeNull();
    expect(type('tinyint', 'tinyint(4)')).toBeNull();
    expect(type('char', 'char(10)')).toBeNull();
    expect(type('enum', "enum('a','b')")).toBeNull();
    expect(type('float', 'float(7,2)')).toBeNull();
    expect(type('tinytext', 'tinytext')).toBeNull();
    expect(type('mediumint', 'mediumint(9)')).toBeNull();
  });

  it('rejects what is not a portable type', () => {
    expect(() => mysqlNativeType('money' as PortableType)).toThrow(UsageError);
  });
});

describe('capabilities and splitting', () => {
  it('declares no transactional DDL and no partial or expression indexes', () => {
    expect(mysqlCapabilities).toEqual({
      transactionalDdl: false,
      concurrentIndex: true,
      returning: false,
      savepoints: true,
      statementTimeout: true,
      partialIndexes: false,
      expressionIndexes: false,
    });
  });

  it('splits procedures and triggers with BEGIN ... END bodies, backslash escapes and # comments', () => {
    const script = `
      # a hash comment; with a semicolon
      CREATE TABLE t (id INT PRIMARY KEY, note VARCHAR(50));
      INSERT INTO t VALUES (1, 'it\\'s; fine');
      CREATE PROCEDURE add_one(IN x INT)
      BEGIN
        DECLARE y INT;
        SET y = x + 1;
        SELECT y;
      END;
      CREATE TRIGGER t_bi BEFORE INSERT ON t FOR EACH ROW
      BEGIN
        IF NEW.note IS NULL THEN SET NEW.note = 'n;a'; END IF;
      END;
      SELECT \`weird;name\` FROM t;
    `;
    const statements = splitStatements(script, mysqlSplitterOptions);
    expect(statements).toHaveLength(5);
    expect(statements[1]).toBe("INSERT INTO t VALUES (1, 'it\\'s; fine')");
    expect(statements[2]).toMatch(/^CREATE PROCEDURE add_one[\s\S]*SELECT y;\s+END$/);
    expect(statements[3]).toMatch(/^CREATE TRIGGER t_bi[\s\S]*END IF;\s+END$/);
    expect(statements[4]).toBe('SELECT `weird;name` FROM t');
  });

  it('quotes identifiers with backticks', () => {
    expect(quoteMysqlIdentifier('order')).toBe('`order`');
    expect(quoteMysqlIdentifier('a`b')).toBe('`a``b`');
  });
});
