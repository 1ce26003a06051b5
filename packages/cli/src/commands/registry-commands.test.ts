import { cp, readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import pc from 'picocolors';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Packument, SearchPage, VersionDocument } from '../registry-client.js';
import { runCli, tempProject } from '../test-support.js';
import { renderInfo, sortedVersions } from './info.js';
import { renderSearch, truncate } from './search.js';

// The registry commands in-process, for everything decided before a request is sent (usage,
// settings, local verification), and the layouts. Against the real registry: test/e2e/registry-*.

const sampleDir = path.resolve(import.meta.dirname, '..', '..', '..', '..', 'examples', 'sample-plugin');

let project: { dir: string; cleanup: () => Promise<void> };
/** A port that answers every request with 500 and counts them: none may arrive in these tests. */
let tripwire: Server;
let tripwireUrl: string;
let requests: number;

beforeEach(async () => {
  project = await tempProject('cmpkg-registry-cmd-');
  requests = 0;
  tripwire = createServer((_req, res) => {
    requests++;
    res.writeHead(500).end();
  });
  await new Promise<void>((resolve) => tripwire.listen(0, '127.0.0.1', resolve));
  tripwireUrl = `http://127.0.0.1:${(tripwire.address() as AddressInfo).port}`;
});
afterEach(async () => {
  await new Promise<void>((resolve) => tripwire.close(() => resolve()));
  await project.cleanup();
});

const run = (args: string[], env: Record<string, string> = {}) => runCli(args, { cwd: project.dir, env });

describe('registry commands: what is checked before anything is sent', () => {
  it('every command needs a registry URL (exit 2) naming the three ways to give one', async () => {
    const commands = [
      ['search'],
      ['info', 'sample'],
      ['install', 'sample@^1', '--db', 'sqlite:./app.db'],
      ['deprecate', 'sample@1', 'old'],
      ['yank', 'sample@1.0.0'],
      ['keys', 'list', 'sample'],
      ['keys', 'remove', 'sample', 'ABCDEF0123456789'],
      ['dist-tag', 'add', 'sample@1.0.0', 'next'],
      ['dist-tag', 'rm', 'sample', 'next'],
    ];
    for (const args of commands) {
      const r = await run(args, { CMPKG_TOKEN: 'cmpkg_x' });
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr, args.join(' ')).toMatch(
        /^error\[E_USAGE\]: cmpkg .* needs --registry URL \(or CMPKG_REGISTRY, or "registry" in cmpkg\.config\.json\)\n$/,
      );
    }
    const json = await run(['search', '--json']);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: false, error: { code: 'E_USAGE' } });
  });

  it('writes need CMPKG_TOKEN (exit 2 naming it); a token flag does not exist', async () => {
    const writes = [
      ['deprecate', 'sample@1', 'old'],
      ['yank', 'sample@1.0.0'],
      ['keys', 'remove', 'sample', 'ABCDEF0123456789'],
      ['dist-tag', 'add', 'sample@1.0.0', 'next'],
      ['dist-tag', 'rm', 'sample', 'next'],
    ];
    for (const args of writes) {
      const r = await run([...args, '--registry', tripwireUrl]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr, args.join(' ')).toMatch(
        /needs a registry token: set the CMPKG_TOKEN environment variable/,
      );
    }
    expect((await run(['yank', 'sample@1.0.0', '--token', 'x', '--registry', tripwireUrl])).code).toBe(2);
    expect(requests).toBe(0);
  });

  it('bad arguments exit 2 before a request: ids, missing @VERSION, tags, sizes, timeouts, registry URLs', async () => {
    const env = { CMPKG_TOKEN: 'cmpkg_x', CMPKG_REGISTRY: tripwireUrl };
    const cases: Array<[string[], RegExp]> = [
      [['info', 'Sample'], /"Sample" is not a plugin id/],
      [['yank', 'sample'], /expected NAME@VERSION, e\.g\. sample@1\.0\.0/],
      [['deprecate', 'sample'], /expected NAME@RANGE/],
      [['dist-tag', 'add', 'sample@1.0.0', '1bad'], /"1bad" is not a dist-tag name/],
      [['dist-tag', 'rm', 'sample@1', 'next'], /takes the plugin name without a version/],
      [['keys', 'list', 'sample@1'], /takes the plugin name without a version/],
      [['search', '--size', '0'], /--size must be a whole number, 1 or more/],
      [['search', '--from', '-1'], /--from/],
      [['info', 'sample', '--registry', 'ftp://x'], /--registry "ftp:\/\/x" must be an http/],
      [
        ['keys', 'add', 'sample', '--pubkey', 'missing.pub'],
        /--pubkey missing\.pub: cannot read the file: no such file/,
      ],
    ];
    for (const [args, message] of cases) {
      const r = await run(args, env);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr, args.join(' ')).toMatch(message);
    }
    await writeFile(path.join(project.dir, 'junk.pub'), 'not a key\n');
    const junk = await run(['keys', 'add', 'sample', '--pubkey', 'junk.pub'], env);
    expect(junk.code).toBe(2);
    expect(junk.stderr).toMatch(/error\[E_KEY_FORMAT\]/);
    const timeout = await run(['search'], { ...env, CMPKG_REGISTRY_TIMEOUT: '5s' });
    expect(timeout.code).toBe(2);
    expect(timeout.stderr).toMatch(/CMPKG_REGISTRY_TIMEOUT must be a whole number of milliseconds/);
    expect(requests).toBe(0);
  });

  it('publish: a missing file, a bad tag, no token, no registry and a damaged archive exit 2 unsent', async () => {
    await cp(sampleDir, project.dir, { recursive: true });
    expect((await run(['keygen', '--out', 'publisher'])).code).toBe(0);
    const packed = await run(['pack', '--key', 'publisher.key', '--version', '1.0.0']);
    expect(packed.code, packed.stderr).toBe(0);
    const env = { CMPKG_TOKEN: 'cmpkg_x', CMPKG_REGISTRY: tripwireUrl };

    const missing = await run(['publish', 'sample-9.9.9.cmpkg'], env);
    expect([missing.code, missing.stderr]).toEqual([
      2,
      'error[E_USAGE]: sample-9.9.9.cmpkg: cannot read the package: no such file\n',
    ]);
    const tag = await run(['publish', 'sample-1.0.0.cmpkg', '--tag', 'not a tag'], env);
    expect(tag.code).toBe(2);
    expect(tag.stderr).toMatch(/--tag "not a tag" is not a dist-tag name/);
    const noToken = await run(['publish', 'sample-1.0.0.cmpkg'], { CMPKG_REGISTRY: tripwireUrl });
    expect(noToken.code).toBe(2);
    expect(noToken.stderr).toMatch(/cmpkg publish needs a registry token: set the CMPKG_TOKEN/);
    const noRegistry = await run(['publish', 'sample-1.0.0.cmpkg'], { CMPKG_TOKEN: 'cmpkg_x' });
    expect(noRegistry.code).toBe(2);
    expect(noRegistry.stderr).toMatch(/cmpkg publish needs --registry URL/);

    await writeFile(path.join(project.dir, 'broken.cmpkg'), 'this is not a gzip stream');
    const broken = await run(['publish', 'broken.cmpkg', '--json'], env);
    expect(broken.code).toBe(2);
    expect(JSON.parse(broken.stdout)).toMatchObject({ ok: false, error: { code: 'E_PKG_FORMAT' } });
    expect(requests).toBe(0);

    // Everything right: now it is sent, and the tripwire's 500 is a registry failure (exit 1).
    const sent = await run(['publish', 'sample-1.0.0.cmpkg'], env);
    expect(sent.code).toBe(1);
    expect(sent.stderr).toMatch(
      /error\[E_REGISTRY_UNAVAILABLE\]: PUT http:\/\/127\.0\.0\.1:\d+\/sample failed with 500/,
    );
    expect(sent.stderr).not.toContain('cmpkg_x');
    expect(requests).toBe(1);
  });

  it('install: an existing file or a *.cmpkg name is a file; the rest goes to the registry of the config', async () => {
    const missing = await run(['install', 'sample-1.0.0.cmpkg', '--db', 'sqlite:./app.db']);
    expect(missing.stderr).toBe(
      'error[E_USAGE]: sample-1.0.0.cmpkg: cannot read the package: no such file\n',
    );
    expect(missing.code).toBe(2);
    const path_ = await run(['install', './sample', '--db', 'sqlite:./app.db']);
    expect(path_.stderr).toMatch(/\.\/sample: cannot read the package: no such file/);
    // A file named like a plugin is a file (here a broken one), not a registry lookup.
    await writeFile(path.join(project.dir, 'sample'), 'not an archive');
    const file = await run(['install', 'sample', '--db', 'sqlite:./app.db'], { CMPKG_REGISTRY: tripwireUrl });
    expect(file.code).toBe(2);
    expect(file.stderr).toMatch(/E_PKG_FORMAT/);
    expect(requests).toBe(0);

    // The config's "registry" is used when there is no flag or variable; a bad --db is still first.
    await writeFile(
      path.join(project.dir, 'cmpkg.config.json'),
      `${JSON.stringify({ registry: tripwireUrl })}\n`,
    );
    const badDb = await run(['install', 'other@^1', '--db', 'oracle://x']);
    expect(badDb.code).toBe(2);
    expect(badDb.stderr).toMatch(/unsupported database URL/);
    expect(requests).toBe(0);
    const viaConfig = await run(['install', 'other@^1', '--db', 'sqlite:./app.db']);
    expect(viaConfig.code).toBe(1);
    expect(viaConfig.stderr).toBe(
      `error[E_REGISTRY_UNAVAILABLE]: GET ${tripwireUrl}/other/%5E1 failed with 500 Internal Server Error\n`,
    );
    // --registry wins over the config.
    const flag = await run([
      'install',
      'other',
      '--db',
      'sqlite:./app.db',
      '--registry',
      'http://127.0.0.1:9/x',
    ]);
    expect(flag.stderr).toMatch(/cannot reach the registry at http:\/\/127\.0\.0\.1:9\/x/);
    expect(requests).toBe(1);
  });
});

describe('install from a registry that lies about what it serves', () => {
  // Stands for a compromised or broken registry: the archive is real and matches the integrity the
  // registry states, but the document names another signer, version or plugin. The host refuses.
  it('refuses another signer than dist.keyId or version than resolved (exit 3), another plugin (exit 1); installs nothing', async () => {
    await cp(sampleDir, project.dir, { recursive: true });
    expect((await run(['keygen', '--out', 'publisher'])).code).toBe(0);
    const packed = await run(['pack', '--key', 'publisher.key', '--version', '1.0.0', '--json']);
    expect(packed.code, packed.stderr).toBe(0);
    const archive = JSON.parse(packed.stdout) as {
      file: string;
      integrity: string;
      digest: string;
      size: number;
      keyId: string;
    };
    const bytes = await readFile(archive.file);

    let doc: Record<string, unknown> = {};
    const liar = createServer((req, res) => {
      if (req.url?.endsWith('.cmpkg')) {
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        res.end(bytes);
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(doc));
    });
    await new Promise<void>((resolve) => liar.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(liar.address() as AddressInfo).port}`;
    const truthful = {
      name: 'sample',
      version: '1.0.0',
      displayName: 'Sample',
      description: '',
      engines: ['sqlite'],
      requires: {},
      migrations: [],
      data: [],
      dist: {
        tarball: `${url}/sample/-/sample-1.0.0.cmpkg`,
        integrity: archive.integrity,
        digest: archive.digest,
        size: archive.size,
        keyId: archive.keyId,
      },
      publishedAt: '2025-01-01T00:00:00.000Z',
      publishedBy: 'alice',
    };
    const install = () => run(['install', 'sample@^1', '--registry', url, '--db', 'sqlite:./app.db'], {});
    try {
      doc = { ...truthful, dist: { ...truthful.dist, keyId: 'FFFFFFFFFFFFFFFF' } };
      const signer = await install();
      expect(signer.code, signer.stderr).toBe(3);
      expect(signer.stderr).toBe(
        `error[E_UNTRUSTED_KEY]: sample-1.0.0.cmpkg is signed by ${archive.keyId}, but the registry published FFFFFFFFFFFFFFFF as its signer: refusing it\n`,
      );
      doc = { ...truthful, version: '1.1.0' };
      const version = await install();
      expect(version.code, version.stderr).toBe(3);
      expect(version.stderr).toMatch(/^error\[E_PKG_UNEXPECTED\]: .*1\.1\.0/);
      doc = { ...truthful, name: 'other' };
      const plugin = await install();
      expect(plugin.code, plugin.stderr).toBe(1);
      expect(plugin.stderr).toBe(
        `error[E_REGISTRY_RESPONSE]: ${url} answered other@1.0.0 when asked for sample@^1\n`,
      );
      await expect(readFile(path.join(project.dir, 'app.db'))).rejects.toThrow(/ENOENT/);

      // The same archive with a truthful document installs: the refusals were the lies.
      doc = truthful;
      const ok = await install();
      expect(ok.code, ok.stderr).toBe(0);
      expect(ok.stdout).toMatch(/Installed sample \(none\) → 1\.0\.0/);
    } finally {
      liar.closeAllConnections();
      await new Promise<void>((resolve) => liar.close(() => resolve()));
    }
  });
});

describe('publish to a registry that records something else', () => {
  // Stands for a broken registry: it accepts the upload but answers another integrity than the bytes
  // that were verified and sent. The CLI does not report that as published.
  it('refuses an answer naming other bytes (E_REGISTRY_RESPONSE, exit 1)', async () => {
    await cp(sampleDir, project.dir, { recursive: true });
    expect((await run(['keygen', '--out', 'publisher'])).code).toBe(0);
    const packed = await run(['pack', '--key', 'publisher.key', '--version', '1.0.0', '--json']);
    expect(packed.code, packed.stderr).toBe(0);
    const archive = JSON.parse(packed.stdout) as {
      integrity: string;
      digest: string;
      size: number;
      keyId: string;
    };
    const other = `sha512-${Buffer.alloc(64, 1).toString('base64')}`;
    let uploads = 0;
    const liar = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        uploads++;
        res.writeHead(201, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            ok: true,
            name: 'sample',
            version: '1.0.0',
            integrity: other,
            digest: archive.digest,
            size: archive.size,
            keyId: archive.keyId,
            tarball: 'http://127.0.0.1:1/sample/-/sample-1.0.0.cmpkg',
            firstPublish: true,
            distTags: { latest: '1.0.0' },
          }),
        );
      });
    });
    await new Promise<void>((resolve) => liar.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(liar.address() as AddressInfo).port}`;
    try {
      const r = await run(['publish', 'sample-1.0.0.cmpkg'], { CMPKG_TOKEN: 'cmpkg_x', CMPKG_REGISTRY: url });
      expect([r.code, r.stdout, r.stderr]).toEqual([
        1,
        '',
        `error[E_REGISTRY_RESPONSE]: ${url} recorded sample@1.0.0 (${other}) for sample-1.0.0.cmpkg, which is sample@1.0.0 (${archive.integrity})\n`,
      ]);
      expect(uploads).toBe(1);
    } finally {
      liar.closeAllConnections();
      await new Promise<void>((resolve) => liar.close(() => resolve()));
    }
  });
});

const c = pc.createColors(false);

describe('the search table', () => {
  const page: SearchPage = {
    objects: [
      {
        package: {
          name: 'sample',
          displayName: 'Sample',
          description: 'A knowledge base with entries, tags and revisions, packaged as the example of cmpkg',
          version: '2.0.0',
          date: '2025-03-04T05:06:07.000Z',
          owner: 'alice',
          engines: ['sqlite'],
        },
        score: { final: 1 },
      },
      {
        package: {
          name: 'sample-tags',
          displayName: 'Tags',
          description: '',
          version: null,
          date: '2025-01-02T00:00:00.000Z',
          owner: 'bob',
          engines: [],
        },
        score: { final: 0.5 },
      },
    ],
    total: 2,
    time: '2025-03-04T05:06:07.000Z',
  };

  it('aligns name, latest, description (cut) and updated', () => {
    expect(renderSearch({ c }, page, 'sam')).toEqual([
      'NAME         LATEST  DESCRIPTION                                                   UPDATED',
      'sample       2.0.0   A knowledge base with entries, tags and revisions, packaged…  2025-03-04',
      'sample-tags  (none)  Tags                                                          2025-01-02',
      '2 plugins',
    ]);
    expect(renderSearch({ c }, { ...page, total: 45 }, '', 20).at(-1)).toBe(
      '21–22 of 45 plugins (--from 22 for more)',
    );
    expect(renderSearch({ c }, { ...page, objects: [], total: 0 }, 'zzz')).toEqual([
      'No plugins match "zzz".',
    ]);
    expect(truncate('  two\n lines  ', 20)).toBe('two lines');
    expect(truncate('abcdef', 4)).toBe('abc…');
  });
});

describe('the info view', () => {
  const doc = (version: string, extra: Partial<VersionDocument> = {}): VersionDocument => ({
    name: 'sample',
    version,
    displayName: 'Sample',
    description: 'A sample',
    engines: ['postgresql', 'sqlite'],
    requires: {},
    migrations: [
      {
        id: '0004_entry_slugs',
        version: '1.1.0',
        name: 'Entry slugs',
        description: '',
        risk: 'medium',
        reversible: true,
      },
    ],
    data: [{ table: 'entries', rows: 1200 }],
    dist: {
      tarball: `http://reg/sample/-/sample-${version}.cmpkg`,
      integrity: 'sha512-AAAA',
      digest: `sha256:${'a'.repeat(64)}`,
      size: 2048,
      keyId: 'ABCDEF0123456789',
    },
    publishedAt: '2025-01-01T00:00:00.000Z',
    publishedBy: 'alice',
    ...extra,
  });
  const packument: Packument = {
    name: 'sample',
    displayName: 'Sample',
    description: 'A sample',
    owner: 'alice',
    'dist-tags': { next: '2.0.0-beta.10', latest: '1.1.0' },
    versions: {
      '2.0.0-beta.10': doc('2.0.0-beta.10'),
      '1.1.0': doc('1.1.0'),
      '2.0.0-beta.2': doc('2.0.0-beta.2', { yanked: true }),
      '1.0.0': doc('1.0.0', { deprecated: 'use 1.1' }),
    },
    time: { created: '2025-01-01T00:00:00.000Z', modified: '2025-02-01T00:00:00.000Z' },
    keys: [
      { keyId: 'ABCDEF0123456789', publicKey: 'RWS…', addedAt: '2025-01-01T00:00:00.000Z', addedBy: 'alice' },
    ],
  };

  it('sorts versions by semver and marks tags, deprecated and yanked ones', () => {
    expect(sortedVersions(packument)).toEqual(['1.0.0', '1.1.0', '2.0.0-beta.2', '2.0.0-beta.10']);
    const lines = renderInfo(c, packument, packument.versions['1.1.0'], 'latest');
    expect(lines.slice(0, 12)).toEqual([
      'sample — Sample',
      '  A sample',
      '  owner      alice',
      '  dist-tags  latest: 1.1.0, next: 2.0.0-beta.10',
      '  keys       ABCDEF0123456789',
      '  updated    2025-02-01 00:00:00Z',
      '',
      'Versions (4):',
      '  VERSION        PUBLISHED   SIZE    SIGNER            TAGS',
      '  1.0.0          2025-01-01  2.0 kB  ABCDEF0123456789          deprecated: use 1.1',
      '  1.1.0          2025-01-01  2.0 kB  ABCDEF0123456789  latest',
      '  2.0.0-beta.2   2025-01-01  2.0 kB  ABCDEF0123456789          yanked',
    ]);
    const text = lines.join('\n');
    expect(text).toMatch(/\nsample@1\.1\.0 \(latest\)\n/);
    expect(text).toMatch(/ {2}integrity +sha512-AAAA/);
    expect(text).toMatch(/0004_entry_slugs +1\.1\.0 +Entry slugs +medium +reversible/);
    expect(text).toMatch(/entries +1,200/);
    const old = renderInfo(c, packument, packument.versions['1.0.0'], '1.0.0').join('\n');
    expect(old).toMatch(/\nsample@1\.0\.0\n {2}deprecated: use 1\.1\n/);
    expect(renderInfo(c, packument, undefined, 'latest').at(-1)).toMatch(/No version is tagged latest/);
  });
});
