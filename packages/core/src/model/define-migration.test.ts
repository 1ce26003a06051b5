import { describe, expect, expectTypeOf, it } from 'vitest';
import { checksumMigration } from '../checksum.js';
import { MigrationParseError } from '../errors.js';
import { defineMigration, isMigration } from './define-migration.js';
import type { Migration, StepContext } from './types.js';

function fails(fn: () => unknown): MigrationParseError {
  try {
    fn();
  } catch (err) {
    if (err instanceof MigrationParseError) return err;
    throw err;
  }
  throw new Error('expected a MigrationParseError');
}

describe('defineMigration', () => {
  it('normalises JSON-form steps like the JSON loader does', () => {
    const m = defineMigration({
      id: '0001_init',
      version: '1.0.0',
      name: 'Init',
      riskLevel: 'HIGH',
      steps: { up: [{ id: 'create', name: 'Create', sql: { universal: 'CREATE TABLE t (id int);' } }] },
    });
    expectTypeOf(m).toEqualTypeOf<Migration>();
    expect(m).toMatchObject({ pluginId: '', riskLevel: 'high', type: 'schema', category: 'install' });
    expect(m.steps.up[0]).toMatchObject({ type: 'sql', transactional: true });
    expect(m.steps.down).toEqual([]);
    expect(m.checksum).toBe(checksumMigration(m));
    expect(isMigration(m)).toBe(true);
  });

  it('turns up/down functions into one code step each', async () => {
    const calls: string[] = [];
    const m = defineMigration({
      id: '0002_code',
      pluginId: 'app',
      version: '1.0.0',
      name: 'Backfill',
      async up(ctx) {
        calls.push(`up:${ctx.engine}`);
      },
      down: () => {
        calls.push('down');
      },
    });
    expect(m.pluginId).toBe('app');
    expect(m.steps.up).toHaveLength(1);
    expect(m.steps.up[0]).toMatchObject({ id: 'up', type: 'code', name: 'Backfill', transactional: true });
    expect(m.steps.down[0]).toMatchObject({ id: 'down', type: 'code', name: 'Backfill' });
    await m.steps.up[0]?.run?.({ engine: 'sqlite' } as StepContext);
    await m.steps.down[0]?.run?.({ engine: 'sqlite' } as StepContext);
    expect(calls).toEqual(['up:sqlite', 'down']);
  });

  it('mixes JSON and code steps in steps', () => {
    const m = defineMigration({
      id: 'mixed',
      version: '1.0.0',
      name: 'Mixed',
      steps: {
        up: [
          { id: 'a', name: 'A', sql: { universal: 'SELECT 1' } },
          { id: 'b', name: 'B', transactional: false, run: async () => {} },
        ],
      },
    });
    expect(m.steps.up.map((s) => s.type)).toEqual(['sql', 'code']);
    expect(m.steps.up[1]?.transactional).toBe(false);
  });

  it('refuses invalid input with E_SCHEMA and the field path', () => {
    const err = fails(() =>
      defineMigration({
        id: 'Bad',
        version: '1.0.0',
        name: 'x',
        steps: {
          up: [
            { id: 'a', name: 'A', sql: { universal: 'x' } },
            { id: 'b', name: 'B' },
          ],
        },
      }),
    );
    expect(err.code).toBe('E_SCHEMA');
    expect(err.location.field).toBe('id');
    const issues = err.details.issues as Array<{ field: string }>;
    expect(issues.map((i) => i.field)).toEqual(['id', 'steps.up[1].sql']);
  });

  it('needs steps or an up function, and not both', () => {
    const none = fails(() => defineMigration({ id: 'a', version: '1.0.0', name: 'A', steps: { up: [] } }));
    expect(none.location.field).toBe('steps.up');
    const both = fails(() =>
      // A JavaScript author can pass both; the types forbid it.
      defineMigration({
        id: 'a',
        version: '1.0.0',
        name: 'A',
        steps: { up: [{ id: 'a', name: 'A', sql: { universal: 'SELECT 1' } }] },
        up: async () => {},
      } as never),
    );
    expect(both.message).toMatch(/either "steps" or "up"/);
  });

  it('refuses a code step that also has sql', () => {
    const err = fails(() =>
      defineMigration({
        id: 'a',
        version: '1.0.0',
        name: 'A',
        steps: { up: [{ id: 'a', name: 'A', run: async () => {}, sql: { universal: 'x' } } as never] },
      }),
    );
    expect(err.location.field).toBe('steps.up[0].sql');
  });
});

describe('isMigration', () => {
  it('recognises loaded migrations by shape and rejects other values', () => {
    expect(
      isMigration({ id: 'a', version: '1.0.0', checksum: 'sha256:x', steps: { up: [], down: [] } }),
    ).toBe(true);
    expect(isMigration({ id: 'a', version: '1.0.0', steps: { up: [] } })).toBe(false);
    expect(isMigration(null)).toBe(false);
    expect(isMigration('a')).toBe(false);
  });
});
