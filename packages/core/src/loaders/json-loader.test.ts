import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checksumMigration } from '../checksum.js';
import { MigrationParseError } from '../errors.js';
import { findJsonSyntaxError, lineOfJsonPath } from './json-document.js';
import { parseJsonMigration } from './json-loader.js';

const dir = mkdtempSync(join(tmpdir(), 'cmpkg-json-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function write(name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

function load(file: string) {
  return parseJsonMigration(readFileSync(file, 'utf8'), file);
}

function catchError(fn: () => unknown): MigrationParseError {
  try {
    fn();
  } catch (err) {
    if (err instanceof MigrationParseError) return err;
    throw err;
  }
  throw new Error('expected a MigrationParseError');
}

const valid = {
  format: 'portable-migration-v1',
  migration: {
    id: 'kb-001-create-entries',
    pluginId: 'knowledge-base',
    version: '1.0.0',
    name: 'Create entries',
    type: 'SCHEMA',
    category: 'Install',
    riskLevel: 'LOW',
    databaseEngines: ['postgres', 'SQLite'],
    steps: {
      up: [{ id: 'create', name: 'Create', sql: { universal: 'CREATE TABLE entries (id int);\r\n' } }],
      down: [{ id: 'drop', name: 'Drop', sql: { universal: 'DROP TABLE entries;' } }],
    },
  },
};

describe('parseJsonMigration', () => {
  it('loads a valid document into the normalised model', () => {
    const file = write('valid.json', JSON.stringify(valid, null, 2));
    const m = load(file);
    expect(m).toMatchObject({
      id: 'kb-001-create-entries',
      pluginId: 'knowledge-base',
      type: 'schema',
      category: 'install',
      riskLevel: 'low',
      databaseEngines: ['postgresql', 'sqlite'],
      requiresBackup: false,
      dependencies: [],
      source: { file, format: 'json' },
    });
    expect(m.steps.up[0]).toMatchObject({
      type: 'sql',
      transactional: true,
      rollbackSupported: true,
      skipOnError: false,
    });
    expect(m.checksum).toBe(checksumMigration(m));
    expect(m.checksum).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it('leaves pluginId empty when the file does not name one', () => {
    const { pluginId: _, ...migration } = valid.migration;
    const m = parseJsonMigration(JSON.stringify({ ...valid, migration }), '/x/a.json');
    expect(m.pluginId).toBe('');
  });

  it('accepts a byte-order mark', () => {
    expect(parseJsonMigration(`\uFEFF${JSON.stringify(valid)}`, '/x/bom.json').id).toBe(
      'kb-001-create-entries',
    );
  });

  it('has the same checksum whatever the formatting and key order', () => {
    const reordered = {
      migration: { ...valid.migration, steps: valid.migration.steps },
      format: valid.format,
    };
    const a = parseJsonMigration(JSON.stringify(valid), '/x/a.json');
    const b = parseJsonMigration(JSON.stringify(reordered, null, 4), '/x/b.json');
    expect(a.checksum).toBe(b.checksum);
  });

  it('names file and line for invalid JSON', () => {
    const file = write(
      'broken.json',
      '{\n  "format": "portable-migration-v1",\n  "migration": {\n    "id": "x",\n  }\n}\n',
    );
    const err = catchError(() => load(file));
    expect(err.code).toBe('E_INVALID_JSON');
    expect(err.category).toBe('input');
    expect(err.location).toEqual({ file, line: 5 });
    expect(err.message).toContain(`${file}:5`);
    expect(err.message).toMatch(/trailing comma/);
  });

  it('finds the line of syntax errors Node reports without a position', () => {
    const err = catchError(() => parseJsonMigration('{\n"a":\n  nope}', '/x/n.json'));
    expect(err.location.line).toBe(3);
    const end = catchError(() => parseJsonMigration('{\n"a": [1,\n', '/x/e.json'));
    expect(end.message).toMatch(/unexpected end of input/);
    expect(end.location.line).toBe(3);
  });

  it('names the field path, message and line of a schema violation', () => {
    const doc = structuredClone(valid);
    (doc.migration.steps.up[0] as Record<string, unknown>).type = 42;
    const file = write('bad-type.json', JSON.stringify(doc, null, 2));
    const err = catchError(() => load(file));
    expect(err.code).toBe('E_SCHEMA');
    expect(err.location.field).toBe('migration.steps.up[0].type');
    const expectedLine =
      readFileSync(file, 'utf8')
        .split('\n')
        .findIndex((l) => l.includes('"type": 42')) + 1;
    expect(err.location.line).toBe(expectedLine);
    expect(err.message).toContain(`${file}:${expectedLine}`);
    expect(err.message).toContain('migration.steps.up[0].type');
    expect(err.message).toMatch(/expected string/);
  });

  it('reports every issue in details.issues and the first in the message', () => {
    const doc = structuredClone(valid) as { migration: Record<string, unknown> };
    doc.migration.id = 'Bad Id';
    doc.migration.riskLevel = 'extreme';
    doc.migration.extra = true;
    delete doc.migration.name;
    const file = write('many.json', JSON.stringify(doc, null, 2));
    const err = catchError(() => load(file));
    const issues = err.details.issues as Array<{ field: string; message: string; line?: number }>;
    expect(issues.map((i) => i.field).sort()).toEqual([
      'migration.extra',
      'migration.id',
      'migration.name',
      'migration.riskLevel',
    ]);
    expect(err.message).toMatch(/and 3 more issues/);
    const extra = issues.find((i) => i.field === 'migration.extra');
    expect(extra?.line).toBe(
      readFileSync(file, 'utf8')
        .split('\n')
        .findIndex((l) => l.includes('"extra"')) + 1,
    );
    // A missing field points at the object that lacks it.
    expect(issues.find((i) => i.field === 'migration.name')?.line).toBe(3);
  });

  it('rejects a step with neither sql nor transform', () => {
    const doc = structuredClone(valid);
    doc.migration.steps.up[0] = { id: 'x', name: 'X' } as (typeof doc.migration.steps.up)[0];
    const err = catchError(() => parseJsonMigration(JSON.stringify(doc), '/x/s.json'));
    expect(err.location.field).toBe('migration.steps.up[0].sql');
    expect(err.location.line).toBe(1);
  });
});

describe('json positions', () => {
  it('accepts valid JSON and locates errors with line and column', () => {
    expect(findJsonSyntaxError('{"a": [1, 2.5e3, "x\\n", true, null, {}]}')).toBeUndefined();
    expect(findJsonSyntaxError('{"a": 1}\n// c')).toMatchObject({ line: 2, column: 1 });
    expect(findJsonSyntaxError("{'a': 1}")?.message).toMatch(/need double quotes/);
    expect(findJsonSyntaxError('{"a": "x\ny"}')).toMatchObject({
      line: 1,
      message: expect.stringMatching(/unterminated string.*cannot span lines/),
    });
    expect(findJsonSyntaxError('[1 2]')).toMatchObject({ column: 4, message: 'expected "," between values' });
    expect(findJsonSyntaxError('{"a": 1,\n}')).toMatchObject({
      line: 2,
      message: 'trailing comma before "}"',
    });
  });

  it('finds the line of a path, including array elements and escaped keys', () => {
    const text = '{\n  "a": {\n    "b\\"c": [\n      1,\n      {"d": 2}\n    ]\n  },\n  "e": 3\n}';
    expect(lineOfJsonPath(text, ['a', 'b"c', 1, 'd'])).toBe(5);
    expect(lineOfJsonPath(text, ['e'])).toBe(8);
    expect(lineOfJsonPath(text, ['a', 'missing'])).toBe(2);
    expect(lineOfJsonPath(text, [])).toBeUndefined();
  });
});
