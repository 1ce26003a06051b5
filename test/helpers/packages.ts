import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { type CliResult, describeRun, parseJsonOutput, runCli } from './cli.js';
import type { Project } from './project.js';
import { sampleWithRows } from './sample-data.js';

/** A key pair written by `cmpkg keygen`. */
export interface KeyFiles {
  /** Absolute paths. */
  key: string;
  pub: string;
  keyId: string;
  /** The minisign base64 line: what `cmpkg_plugins.key_id` pins. */
  encoded: string;
}

/** Everything the package suites share, made with the CLI itself (the code under test). */
export interface PackageFixture {
  /** A scratch directory with no cmpkg.config.json: install runs need none. */
  work: string;
  /** The sample plugin with a SQLite file at 1.0.0 holding 120 entries, 3 tags, 40 links. */
  project: Project;
  keys: {
    publisher: KeyFiles;
    /** A key nobody pinned. */
    other: KeyFiles;
    /** The publisher's successor, with `rotation`: publisher → successor for plugin `sample`. */
    successor: KeyFiles & { rotation: string };
  };
  /** Absolute paths of the packages, all of the sample plugin. */
  packages: {
    /** 1.0.0, signed by the publisher, with the rows of entries, tags and entry_tags. */
    v1: string;
    /** 1.1.0 and 2.0.0 by the publisher, migrations only. */
    v11: string;
    v2: string;
    /** 2.0.0 signed by `other`. */
    v2Other: string;
    /** 2.0.0 signed by the successor, without and with its rotation statement inside. */
    v2Successor: string;
    v2SuccessorWithRotation: string;
  };
  /** Removes the scratch directory. */
  cleanup(): void;
}

/** The tables 1.0.0 packs as data, and how many rows each has. */
export const PACKED_DATA = { entries: 120, tags: 3, entry_tags: 40 } as const;

/** Runs `cmpkg` and expects exit 0, with the whole output in the failure message. */
export async function cmpkgOk(args: string[], cwd: string, env?: Record<string, string>): Promise<CliResult> {
  const result = await runCli(args, { cwd, ...(env ? { env } : {}) });
  expect(result.code, describeRun(args, result)).toBe(0);
  return result;
}

async function keygen(work: string, base: string, extra: string[] = []): Promise<KeyFiles> {
  const result = await cmpkgOk(['keygen', '--out', join(work, base), '--json', ...extra], work);
  const doc = parseJsonOutput<{
    keyId: string;
    publicKey: string;
    secretKeyFile: string;
    publicKeyFile: string;
  }>(result);
  return { key: doc.secretKeyFile, pub: doc.publicKeyFile, keyId: doc.keyId, encoded: doc.publicKey };
}

/** `cmpkg pack` in the project (its config and database), returning the file written. */
export async function pack(project: Project, args: string[]): Promise<string> {
  const full = ['pack', ...args, '--json'];
  const result = await project.run(full);
  expect(result.code, describeRun(full, result)).toBe(0);
  return parseJsonOutput<{ file: string }>(result).file;
}

/** Keys and packages for the package suites. */
export async function packageFixture(): Promise<PackageFixture> {
  const work = mkdtempSync(join(tmpdir(), 'cmpkg-e2e-packages-'));
  const project = await sampleWithRows({ version: '1.0.0' });
  const publisher = await keygen(work, 'publisher');
  const other = await keygen(work, 'other');
  const successorKey = await keygen(work, 'successor', [
    '--rotate-from',
    join(work, 'publisher.key'),
    '--plugin',
    'sample',
  ]);
  const successor = { ...successorKey, rotation: join(work, 'successor.rotation.json') };
  const out = (name: string) => join(work, name);
  const v1 = await pack(project, [
    '--key',
    publisher.key,
    '--version',
    '1.0.0',
    '--with-data',
    '--tables',
    Object.keys(PACKED_DATA).join(','),
    '--out',
    out('sample-1.0.0.cmpkg'),
  ]);
  const v11 = await pack(project, ['--key', publisher.key, '--version', '1.1.0', '--out-dir', work]);
  const v2 = await pack(project, ['--key', publisher.key, '--version', '2.0.0', '--out-dir', work]);
  const v2Other = await pack(project, ['--key', other.key, '--out', out('other-2.0.0.cmpkg')]);
  const v2Successor = await pack(project, ['--key', successor.key, '--out', out('successor-2.0.0.cmpkg')]);
  const v2SuccessorWithRotation = await pack(project, [
    '--key',
    successor.key,
    '--rotation',
    successor.rotation,
    '--out',
    out('successor-rotation-2.0.0.cmpkg'),
  ]);
  return {
    work,
    project,
    keys: { publisher, other, successor },
    packages: { v1, v11, v2, v2Other, v2Successor, v2SuccessorWithRotation },
    cleanup: () => rmSync(work, { recursive: true, force: true }),
  };
}

/** `sha256` hex of a file's bytes. */
export function sha256File(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}
