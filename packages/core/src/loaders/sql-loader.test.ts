import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MigrationParseError } from '../errors.js';
import { parseJsonMigration } from './json-loader.js';
import { parseSqlMigration } from './sql-loader.js';

const dir = mkdtempSync(join(tmpdir(), 'cmpkg-sql-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function load(name: string, text: string) {
  const file = join(dir, name);
  writeFileSync(file, text);
  return { file, migration: parseSqlMigration(readFileSync(file, 'utf8'), file) };
}

function fails(name: string, text: string): MigrationParseError {
  try {
    load(name, text);
  } catch (err) {
    if (err instanceof MigrationParseError) return err;
    throw err;
  }
  throw new Error('expected a MigrationParseError');
}

const full = `-- @id: 0002_add_tags
-- @name: Add tags
-- @description: Tags for entries
-- @version: 1.1.0
-- @timestamp: 2024-01-01T00:00:00Z
-- @rollbackSafe: true
-- @performanceImpact: MEDIUM
-- @riskLevel: low
-- @dependencies: [0001_base, other-plugin:init]
-- @engines: [postgresql, sqlite]
-- @transactional: true

-- UP MIGRATION: create the tags table
CREATE TABLE tags (id int, name text);
CREATE INDEX tags_name ON tags (name);

-- DOWN MIGRATION
DROP TABLE tags;
`;

describe('parseSqlMigration', () => {
  it('reads every documented header and both sections', () => {
    const { file, migration: m } = load('0002_add_tags.sql', full);
    expect(m).toMatchObject({
      id: '0002_add_tags',
      pluginId: '',
      name: 'Add tags',
      description: 'Tags for entries',
      version: '1.1.0',
      createdAt: '2024-01-01T00:00:00Z',
      performanceImpact: 'medium',
      riskLevel: 'low',
      dependencies: ['0001_base', 'other-plugin:init'],
      databaseEngines: ['postgresql', 'sqlite'],
      type: 'schema',
      category: 'install',
      source: { file, format: 'sql' },
    });
    expect(m.steps.up).toEqual([
      {
        id: 'up',
        type: 'sql',
        name: 'Add tags',
        sql: { universal: 'CREATE TABLE tags (id int, name text);\nCREATE INDEX tags_name ON tags (name);' },
        transactional: true,
        rollbackSupported: true,
        skipOnError: false,
        dependencies: [],
      },
    ]);
    expect(m.steps.down).toHaveLength(1);
    expect(m.steps.down[0]).toMatchObject({
      id: 'down',
      name: 'Add tags',
      sql: { universal: 'DROP TABLE tags;' },
    });
  });

  it('defaults id to the file name, name to the id and version to 0.0.0', () => {
    const { migration: m } = load('0001_base.sql', 'CREATE TABLE base (id int);\n');
    expect(m).toMatchObject({ id: '0001_base', name: '0001_base', version: '0.0.0' });
    expect(m.steps.up[0]?.sql?.universal).toBe('CREATE TABLE base (id int);');
    expect(m.steps.down).toEqual([]);
  });

  it('without an UP marker everything after the headers is up, and DOWN still splits', () => {
    const { migration: m } = load(
      'nomarker.sql',
      '-- @version: 1.0.0\n-- a plain comment\n\nCREATE TABLE a (id int);\n-- DOWN\nDROP TABLE a;\n',
    );
    expect(m.steps.up[0]?.sql?.universal).toBe('CREATE TABLE a (id int);');
    expect(m.steps.down[0]?.sql?.universal).toBe('DROP TABLE a;');
  });

  it('does not split statements at load time and keeps trigger bodies intact', () => {
    const body =
      'CREATE TRIGGER t AFTER INSERT ON a BEGIN\n  UPDATE a SET n = 1;\nEND;\nINSERT INTO a VALUES (1);';
    const { migration: m } = load('trigger.sql', `-- up migration\n${body}\n`);
    expect(m.steps.up).toHaveLength(1);
    expect(m.steps.up[0]?.sql?.universal).toBe(body);
  });

  it('accepts CRLF files and gives them the same checksum as LF files', () => {
    const lf = load(
      'crlf_a.sql',
      '-- @id: same\n-- UP\nCREATE TABLE a (id int);  \n-- DOWN\nDROP TABLE a;\n',
    ).migration;
    const crlf = load(
      'crlf_b.sql',
      '-- @id: same\r\n-- UP\r\nCREATE TABLE a (id int);\r\n-- DOWN\r\nDROP TABLE a;\r\n',
    ).migration;
    expect(crlf.checksum).toBe(lf.checksum);
  });

  it('keeps the checksum when the plugin version changes but the file has no @version', () => {
    const a = load('v_a.sql', '-- @id: v\nCREATE TABLE a (id int);').migration;
    const b = load('v_b.sql', '-- @id: v\n\nCREATE TABLE a (id int);\n').migration;
    expect(a.version).toBe('0.0.0');
    expect(a.checksum).toBe(b.checksum);
  });

  it('maps rollbackSafe and transactional onto the steps', () => {
    const { migration: m } = load(
      'flags.sql',
      '-- @rollbackSafe: FALSE\n-- @transactional: false\n-- UP\nCREATE INDEX CONCURRENTLY i ON t (a);\n-- DOWN\nDROP INDEX i;\n',
    );
    expect(m.steps.up[0]?.rollbackSupported).toBe(false);
    expect(m.steps.down[0]?.rollbackSupported).toBe(true);
    for (const step of [...m.steps.up, ...m.steps.down]) expect(step.transactional).toBe(false);
  });

  it('maps the extension headers onto model fields', () => {
    const { migration: m } = load(
      'ext.sql',
      [
        '-- @type: Data',
        '-- @category: patch',
        '-- @conflicts: [old-thing]',
        '-- @requiresBackup: true',
        '-- @estimatedDuration: 12.5',
        '-- @pluginId: knowledge-base',
        '-- @engines: pg, MariaDB',
        'UPDATE t SET a = 1;',
      ].join('\n'),
    );
    expect(m).toMatchObject({
      type: 'data',
      category: 'patch',
      conflicts: ['old-thing'],
      requiresBackup: true,
      estimatedDuration: 12.5,
      pluginId: 'knowledge-base',
      databaseEngines: ['postgresql', 'mysql'],
    });
  });

  it('gives the same model as the equivalent JSON document', () => {
    const sql = load(
      'same_as_json.sql',
      '-- @version: 1.0.0\n-- @riskLevel: high\n-- UP\nCREATE TABLE x (id int);\n',
    ).migration;
    const json = parseJsonMigration(
      JSON.stringify({
        format: 'portable-migration-v1',
        migration: {
          id: 'same_as_json',
          version: '1.0.0',
          name: 'same_as_json',
          riskLevel: 'high',
          steps: {
            up: [
              { id: 'up', type: 'sql', name: 'same_as_json', sql: { universal: 'CREATE TABLE x (id int);' } },
            ],
          },
        },
      }),
      '/x/same_as_json.json',
    );
    const { source: _a, ...fromSql } = sql;
    const { source: _b, ...fromJson } = json;
    expect(fromSql).toEqual(fromJson);
  });

  it('allows blank lines and plain comments among the headers', () => {
    const { migration: m } = load(
      'comments.sql',
      '-- Copyright\n\n-- @version: 2.0.0\n--\n-- @name: N\n-- UP\nSELECT 1;',
    );
    expect(m).toMatchObject({ version: '2.0.0', name: 'N' });
  });
});

describe('parseSqlMigration errors', () => {
  it('unknown header → E_UNKNOWN_HEADER with file, line and header', () => {
    const err = fails('unknown.sql', '-- @id: x\n\n-- @author: me\n-- UP\nSELECT 1;');
    expect(err.code).toBe('E_UNKNOWN_HEADER');
    expect(err.location).toMatchObject({ line: 3, field: '@author' });
    expect(err.message).toContain(`${join(dir, 'unknown.sql')}:3`);
    expect(err.message).toContain('@author');
  });

  it('invalid values → E_SCHEMA naming header and line', () => {
    const cases: Array<[string, string, number]> = [
      ['-- @id: x\n-- @rollbackSafe: maybe\nSELECT 1;', '@rollbackSafe', 2],
      ['-- @performanceImpact: extreme\nSELECT 1;', '@performanceImpact', 1],
      ['-- @version: 1.0\nSELECT 1;', '@version', 1],
      ['\n-- @timestamp: yesterday\nSELECT 1;', '@timestamp', 2],
      ['-- @estimatedDuration: soon\nSELECT 1;', '@estimatedDuration', 1],
      ['-- @engines: [oracle]\nSELECT 1;', '@engines', 1],
      ['-- @dependencies: [a, B C]\nSELECT 1;', '@dependencies', 1],
      ['-- @dependencies: [a, b\nSELECT 1;', '@dependencies', 1],
      ['-- @id: Not Valid\nSELECT 1;', '@id', 1],
    ];
    for (const [text, header, line] of cases) {
      const err = fails('invalid.sql', text);
      expect(err.code, text).toBe('E_SCHEMA');
      expect(err.location, text).toMatchObject({ line, field: header });
      expect(err.message, text).toContain(header);
    }
  });

  it('explains an invalid default id from the file name', () => {
    const err = fails('V1__Init.sql', 'SELECT 1;');
    expect(err.code).toBe('E_SCHEMA');
    expect(err.message).toMatch(/file name "V1__Init".*@id/);
  });

  it('empty up section → E_PARSE', () => {
    expect(fails('empty1.sql', '-- @id: x\n-- UP MIGRATION\n\n-- DOWN MIGRATION\nDROP TABLE x;').code).toBe(
      'E_PARSE',
    );
    expect(fails('empty2.sql', '-- @id: x\n').code).toBe('E_PARSE');
    expect(fails('empty3.sql', '-- UP\n-- only a comment\n/* and another */\n').code).toBe('E_PARSE');
  });

  it('duplicate headers and markers → E_PARSE with the line', () => {
    expect(fails('dup.sql', '-- @id: a\n-- @id: b\nSELECT 1;').location.line).toBe(2);
    const up = fails('dupup.sql', '-- UP\nSELECT 1;\n-- UP again\nSELECT 2;');
    expect(up.location.line).toBe(3);
    expect(up.message).toMatch(/second UP marker/);
    expect(fails('dupdown.sql', '-- UP\nSELECT 1;\n-- DOWN\nSELECT 2;\n-- down\n').location.line).toBe(5);
    expect(fails('late.sql', 'SELECT 1;\n-- UP\nSELECT 2;').message).toMatch(/UP marker after SQL/);
  });

  it('a header after SQL in a file without an UP marker → E_PARSE', () => {
    const err = fails('lateheader.sql', '/* licence */\n-- @id: x\nSELECT 1;');
    expect(err.code).toBe('E_PARSE');
    expect(err.location.line).toBe(2);
    // With an UP marker, the sections are explicit and such lines are plain comments.
    expect(load('latecomment.sql', '-- UP\n-- @param: x\nSELECT 1;').migration.id).toBe('latecomment');
  });

  it('malformed header → E_PARSE', () => {
    expect(fails('malformed.sql', '-- @id x\nSELECT 1;').code).toBe('E_PARSE');
  });

  it('does not take -- UPDATE or -- up-to-date for markers', () => {
    const { migration: m } = load(
      'notmarker.sql',
      '-- UP\n-- UPDATE rows below\nUPDATE t SET a = 1;\n-- up-to-date now\n',
    );
    expect(m.steps.up[0]?.sql?.universal).toContain('UPDATE t SET a = 1;');
    expect(m.steps.down).toEqual([]);
  });
});
