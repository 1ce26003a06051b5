import { join } from 'node:path';
import { defineMigration, loadPlugin, type Migration, parseJsonMigration } from '@cmpkg/core';
import { describe, expect, it } from 'vitest';
import { toPortableDocument } from './migration-document.js';

const SAMPLE = join(import.meta.dirname, '../../../examples/sample-plugin/migrations');

function roundTrip(m: Migration): Migration {
  return parseJsonMigration(toPortableDocument(m), `${m.id}.json`);
}

describe('toPortableDocument', () => {
  it('round-trips the sample plugin (SQL and JSON files) with the same checksum and model', async () => {
    const plugin = await loadPlugin({ dir: SAMPLE, id: 'sample' });
    const formats = new Set(plugin.migrations.map((m) => m.source?.format));
    expect(formats).toEqual(new Set(['sql', 'json']));
    for (const m of plugin.migrations) {
      const back = roundTrip(m);
      expect(back.checksum).toBe(m.checksum);
      const { source: _a, ...expected } = m;
      const { source: _b, ...actual } = back;
      expect(actual).toEqual(expected);
    }
  });

  it('round-trips a TypeScript migration with a transform step', () => {
    const m = defineMigration({
      id: '0004_copy_titles',
      pluginId: 'sample',
      version: '1.1.0',
      name: 'Copy titles',
      type: 'DATA',
      riskLevel: 'high',
      requiresBackup: true,
      steps: {
        up: [
          {
            id: 'copy',
            name: 'Copy titles',
            type: 'transform',
            transform: {
              kind: 'copy',
              source: 'entries',
              target: 'entry_titles',
              mapping: [
                { source: 'id', target: 'entry_id' },
                {
                  source: 'title',
                  target: 'title',
                  transform: { type: 'function', definition: 'upper', parameters: { z: 1, a: [2] } },
                  defaultValue: { b: 1, a: 2 },
                },
              ],
              filter: 'id > 0  \r\n',
              batchSize: 500,
              validation: [{ field: 'title', rule: 'required', message: 'needs a title' }],
            },
            expectedChanges: { rows: 3 },
          },
        ],
        down: [{ id: 'undo', name: 'Undo', sql: { universal: 'DELETE FROM entry_titles' } }],
      },
      createdAt: '2024-02-01T00:00:00Z',
    });
    const text = toPortableDocument(m);
    const back = parseJsonMigration(text, 'x.json');
    expect(back.checksum).toBe(m.checksum);
    expect(back.steps).toEqual(m.steps);
    expect(back.riskLevel).toBe('high');
    // Stable: schema key order, free-form values sorted, 2-space indent, trailing newline.
    expect(text.endsWith('}\n')).toBe(true);
    expect(text.indexOf('"id"')).toBeLessThan(text.indexOf('"version"'));
    expect(text).toContain('"defaultValue": {\n');
    expect(text.indexOf('"a": 2')).toBeLessThan(text.indexOf('"b": 1'));
    expect(toPortableDocument(back)).toBe(text);
  });

  it('leaves out an empty pluginId and the model-only members', () => {
    const m = defineMigration({
      id: 'a',
      version: '1.0.0',
      name: 'A',
      steps: { up: [{ id: 'u', name: 'U', sql: { universal: 'SELECT 1' } }] },
    });
    const doc = JSON.parse(toPortableDocument(m)) as { migration: Record<string, unknown> };
    expect(doc.migration.pluginId).toBeUndefined();
    expect(doc.migration.checksum).toBeUndefined();
    expect(doc.migration.source).toBeUndefined();
  });

  it('refuses code steps with E_PACK_INPUT naming the migration and its file', () => {
    const m = defineMigration({ id: '0005_code', version: '1.0.0', name: 'Code', up: async () => {} });
    m.source = { file: '/project/migrations/0005_code.ts', format: 'module' };
    expect(() => toPortableDocument(m)).toThrow(
      expect.objectContaining({
        code: 'E_PACK_INPUT',
        message: expect.stringMatching(/0005_code.*\/project\/migrations\/0005_code\.ts.*step "up" is code/),
      }),
    );
  });

  it('refuses a migration whose checksum no longer matches its content', () => {
    const m = defineMigration({
      id: 'a',
      version: '1.0.0',
      name: 'A',
      steps: { up: [{ id: 'u', name: 'U', sql: { universal: 'SELECT 1' } }] },
    });
    m.steps.up[0]!.sql = { universal: 'SELECT 2' };
    expect(() => toPortableDocument(m)).toThrow(
      expect.objectContaining({ code: 'E_PACK_INPUT', message: expect.stringContaining('checksum') }),
    );
    expect(() => toPortableDocument(m, { verify: false })).not.toThrow();
  });

  it('refuses a migration that would not validate as a document', () => {
    const m = defineMigration({
      id: 'a',
      version: '1.0.0',
      name: 'A',
      steps: { up: [{ id: 'u', name: 'U', sql: { universal: 'SELECT 1' } }] },
    });
    (m as unknown as Record<string, unknown>).extra = 1;
    expect(() => toPortableDocument(m)).toThrow(
      expect.objectContaining({
        code: 'E_PACK_INPUT',
        message: expect.stringContaining('cannot be written'),
      }),
    );
  });
});
