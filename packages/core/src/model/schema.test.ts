import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { portableMigrationJsonSchema } from './schema.js';

const schemaFile = new URL('../../schemas/portable-migration-v1.json', import.meta.url);

interface JsonSchemaNode {
  type?: string;
  pattern?: string;
  properties?: Record<string, JsonSchemaNode>;
  items?: JsonSchemaNode;
}

/** Follows `properties`/`items` down a path of property names (`[]` steps into array items). */
function node(schema: JsonSchemaNode, path: string[]): JsonSchemaNode {
  let current = schema;
  for (const key of path) {
    const next = key === '[]' ? current.items : current.properties?.[key];
    if (!next) throw new Error(`no schema node at ${path.join('.')}`);
    current = next;
  }
  return current;
}

describe('schemas/portable-migration-v1.json', () => {
  const committed = readFileSync(schemaFile, 'utf8');

  it('is exactly what portableMigrationJsonSchema() generates (run `pnpm build` to refresh)', () => {
    expect(committed).toBe(`${JSON.stringify(portableMigrationJsonSchema(), null, 2)}\n`);
  });

  it('accepts enum values in any letter case, and rejects others', () => {
    const schema = JSON.parse(committed) as JsonSchemaNode;
    const sample = {
      type: 'SCHEMA',
      category: 'Upgrade',
      riskLevel: 'hIgH',
      performanceImpact: 'LOW',
      databaseEngines: ['PostgreSQL', 'SQLITE', 'mariadb'],
    };
    for (const [field, value] of Object.entries(sample)) {
      const values = Array.isArray(value) ? value : [value];
      const target = node(schema, Array.isArray(value) ? ['migration', field, '[]'] : ['migration', field]);
      expect(target.pattern, field).toBeTypeOf('string');
      const pattern = new RegExp(target.pattern ?? '');
      for (const v of values) expect(pattern.test(v), `${field}=${v}`).toBe(true);
      expect(pattern.test('not-a-value'), field).toBe(false);
    }
    const stepType = node(schema, [
      'migration',
      'steps',
      'up',
      '[]',
      'transform',
      'mapping',
      '[]',
      'transform',
      'type',
    ]);
    expect(new RegExp(stepType.pattern ?? '').test('Expression')).toBe(true);
  });
});
