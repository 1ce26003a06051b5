import { createReadStream, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openPackage, type VerifiedPackage } from './archive-reader.js';
import { failureOf } from './testing/fixtures.js';
import { buildHostileCorpus, type HostileCase, type HostileCorpus } from './testing/hostile-corpus.js';

// Built at collection time so every case is its own test; archives are written when a case runs.
const work = mkdtempSync(join(tmpdir(), 'cmpkg-hostile-'));
mkdirSync(join(work, 'archives'));
const corpus: HostileCorpus = await buildHostileCorpus(work);

afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

/** A dedicated, empty temp root per test, inside a dedicated parent (where `..` escapes would land). */
function freshRoot(): { parent: string; root: string } {
  const parent = mkdtempSync(join(work, 'run-'));
  const root = join(parent, 'root');
  mkdirSync(root);
  return { parent, root };
}

describe('hostile archives', () => {
  it('has at least 40 distinct cases', () => {
    expect(corpus.cases.length).toBeGreaterThanOrEqual(40);
    expect(new Set(corpus.cases.map((c) => c.name)).size).toBe(corpus.cases.length);
  });

  it('control: the valid package the corpus is forged from opens, loads and extracts everything', async () => {
    const { parent, root } = freshRoot();
    const pkg = await openPackage(corpus.valid, {
      tempRoot: root,
      trustedKeys: [corpus.key],
      expect: { pluginId: 'sample', version: '1.1.0' },
    });
    try {
      expect(pkg.manifest.files.map((f) => f.path).sort()).toEqual(
        readdirSync(pkg.dir, { recursive: true, withFileTypes: true })
          .filter((e) => e.isFile())
          .map((e) => join(e.parentPath, e.name).slice(pkg.dir.length + 1))
          .filter((p) => p !== 'cmpkg.json' && p !== 'cmpkg.sig')
          .sort(),
      );
      expect(pkg.manifest.files.find((f) => f.path === corpus.largeEntry)?.size).toBeGreaterThan(256 * 1024);
      expect(pkg.rotation).toHaveLength(1);
      const plugin = await pkg.loadPlugin();
      expect(plugin.migrations.map((m) => m.checksum)).toEqual(
        corpus.manifest.migrations.map((m) => m.checksum),
      );
    } finally {
      await pkg.dispose();
    }
    expect(readdirSync(root)).toEqual([]);
    expect(readdirSync(parent)).toEqual(['root']);
  });

  it('control: the valid package also opens from a stream', async () => {
    const { root } = freshRoot();
    const pkg = await openPackage(createReadStream(corpus.valid), { tempRoot: root });
    expect(pkg.file).toBe('<stream>');
    await pkg.dispose();
    expect(readdirSync(root)).toEqual([]);
  });

  const run = async (c: HostileCase, fromStream: boolean) => {
    const file = await c.build(join(work, 'archives'));
    const { parent, root } = freshRoot();
    const options = { ...c.options, tempRoot: root };
    const source = fromStream ? createReadStream(file) : file;
    let pkg: VerifiedPackage | undefined;
    let error: { code: string; message: string };
    if (c.stage === 'open') {
      error = await failureOf(openPackage(source, options));
    } else {
      pkg = await openPackage(source, options);
      error = await failureOf(pkg.loadPlugin());
      await pkg.dispose();
    }
    expect(error.code, error.message).toBe(c.code);
    // The message names the archive.
    expect(error.message).toContain(fromStream ? '<stream>' : basename(file));
    // Nothing left: not in the temp root, not next to it, not where an escape would land.
    expect(readdirSync(root)).toEqual([]);
    expect(readdirSync(parent)).toEqual(['root']);
    for (const target of c.escapes?.(root) ?? []) expect(existsSync(target), target).toBe(false);
    rmSync(file, { force: true });
  };

  it.each(corpus.cases.map((c) => [c.code, c.name, c] as const))(
    '%s: %s',
    async (_code, _name, c) => {
      await run(c, false);
    },
    60_000,
  );

  it('refuses hostile archives read from a stream the same way', async () => {
    for (const name of [
      'duplicate entry',
      '".." path',
      'signature not second',
      'gzip bomb: more than 2 GiB of zeros after the last entry',
    ]) {
      const c = corpus.cases.find((x) => x.name === name);
      expect(c, name).toBeDefined();
      if (c) await run(c, true);
    }
  }, 60_000);
});
