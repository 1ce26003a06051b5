import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { checksumMigration } from '../checksum.js';
import { MigrationParseError } from '../errors.js';
import { loadModuleMigrations } from './module-loader.js';

const dir = mkdtempSync(join(tmpdir(), 'cmpkg-module-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The real `defineMigration` source, imported by the fixtures the way a project imports the package. */
const defineModule = fileURLToPath(new URL('../model/define-migration.ts', import.meta.url));

function write(name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

async function fails(file: string): Promise<MigrationParseError> {
  try {
    await loadModuleMigrations(file);
  } catch (err) {
    if (err instanceof MigrationParseError) return err;
    throw err;
  }
  throw new Error('expected a MigrationParseError');
}

const sqlStep = "{ id: 'up', name: 'Up', sql: { universal: 'CREATE TABLE t (id int)' } }";

describe('loadModuleMigrations', () => {
  it("recomputes a migration's checksum instead of trusting the one the module carries", async () => {
    const file = write(
      '0009_claims.mjs',
      `import { defineMigration } from ${JSON.stringify(defineModule)};
const m = defineMigration({ id: '0009_claims', version: '1.0.0', name: 'Claims', steps: { up: [${sqlStep}] } });
export default { ...m, checksum: 'sha256:${'0'.repeat(64)}' };
`,
    );
    const [m] = await loadModuleMigrations(file);
    expect(m?.checksum).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(m?.checksum).not.toBe(`sha256:${'0'.repeat(64)}`);
    expect(m?.checksum).toBe(checksumMigration(m!));
  });

  it('loads a TypeScript default export made with defineMigration', async () => {
    const file = write(
      '0001_ts.ts',
      `import { defineMigration } from ${JSON.stringify(defineModule)};
import type { StepContext } from ${JSON.stringify(fileURLToPath(new URL('../model/types.ts', import.meta.url)))};
export default defineMigration({
  id: '0001_ts',
  version: '1.0.0',
  name: 'TS',
  async up(ctx: StepContext): Promise<void> {
    await ctx.execute('SELECT 1');
  },
});
`,
    );
    const [m, ...rest] = await loadModuleMigrations(file);
    expect(rest).toEqual([]);
    expect(m).toMatchObject({ id: '0001_ts', source: { file, format: 'module' } });
    expect(m?.steps.up[0]?.type).toBe('code');
    expect(typeof m?.steps.up[0]?.run).toBe('function');
  });

  it('loads an array default export and named exports from .mts, without duplicates', async () => {
    const file = write(
      'many.mts',
      `import { defineMigration } from ${JSON.stringify(defineModule)};
export const a = defineMigration({ id: 'a', version: '1.0.0', name: 'A', steps: { up: [${sqlStep}] } });
export const b = defineMigration({ id: 'b', version: '1.1.0', name: 'B', steps: { up: [${sqlStep}] } });
export const notAMigration = { hello: 'world' };
export const count = 2;
export default [a, b];
`,
    );
    const ids = (await loadModuleMigrations(file)).map((m) => m.id).sort();
    expect(ids).toEqual(['a', 'b']);
  });

  it('loads CommonJS TypeScript (.cts) through module.exports', async () => {
    const file = write(
      'c.cts',
      `const { defineMigration } = require(${JSON.stringify(defineModule)});
module.exports = defineMigration({ id: 'c', version: '1.0.0', name: 'C', steps: { up: [${sqlStep}] } });
`,
    );
    expect((await loadModuleMigrations(file)).map((m) => m.id)).toEqual(['c']);
  });

  it('loads plain JavaScript (.mjs, .cjs) natively, validating plain objects through defineMigration', async () => {
    const mjs = write(
      'plain.mjs',
      `export default { id: 'plain', version: '1.0.0', name: 'Plain', riskLevel: 'HIGH', steps: { up: [${sqlStep}] } };
export const second = { id: 'second', version: '1.0.0', name: 'Second', up: async () => {} };
`,
    );
    const loaded = await loadModuleMigrations(mjs);
    expect(loaded.map((m) => m.id).sort()).toEqual(['plain', 'second']);
    expect(loaded.find((m) => m.id === 'plain')).toMatchObject({
      riskLevel: 'high',
      checksum: expect.stringMatching(/^sha256:/),
    });

    const cjs = write(
      'plain.cjs',
      `module.exports = [{ id: 'x1', version: '1.0.0', name: 'X', steps: { up: [${sqlStep}] } }];\n`,
    );
    expect((await loadModuleMigrations(cjs)).map((m) => m.id)).toEqual(['x1']);
  });

  it('a module without migrations → E_PARSE naming the file', async () => {
    const file = write('empty.mjs', 'export const answer = 42;\n');
    const err = await fails(file);
    expect(err.code).toBe('E_PARSE');
    expect(err.location.file).toBe(file);
    expect(err.message).toContain(file);
  });

  it('a module that fails to load → E_PARSE naming the file and the cause', async () => {
    const file = write('throws.ts', "throw new Error('boom');\nexport default 1;\n");
    const err = await fails(file);
    expect(err.code).toBe('E_PARSE');
    expect(err.message).toContain(file);
    expect(err.message).toContain('boom');
  });

  it('an invalid defineMigration call inside the module → E_SCHEMA naming the file and the field', async () => {
    const file = write(
      'invalid.ts',
      `import { defineMigration } from ${JSON.stringify(defineModule)};
export default defineMigration({ id: 'x', version: 'one', name: 'X', steps: { up: [${sqlStep}] } });
`,
    );
    const err = await fails(file);
    expect(err.code).toBe('E_SCHEMA');
    expect(err.location).toMatchObject({ file, field: 'version' });
    expect(err.message).toContain(file);
    expect(err.message).toContain('semver');
  });

  it('an invalid plain export → E_SCHEMA naming the export', async () => {
    const file = write(
      'invalid-plain.mjs',
      "export const broken = { id: 'x', version: '1.0.0', name: 'X', steps: { up: [] } };\n",
    );
    const err = await fails(file);
    expect(err.code).toBe('E_SCHEMA');
    expect(err.message).toContain('export "broken"');
    expect(err.location).toMatchObject({ file, field: 'steps.up' });
  });
});
