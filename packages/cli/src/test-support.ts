// Helpers for the colocated tests (not part of the public API, not bundled: tsup only follows the entries).
import { mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { main } from './index.js';
import type { CliIo } from './output.js';

/** The result of one in-process `cmpkg` run. */
export interface RunOutcome {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `main(args)` with captured output, in `cwd`, with a clean environment plus `env`. */
export async function runCli(
  args: string[],
  options: { cwd: string; env?: Record<string, string | undefined>; io?: Partial<CliIo> },
): Promise<RunOutcome> {
  let stdout = '';
  let stderr = '';
  const io: CliIo = {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    stdin: { isTTY: false },
    // NO_COLOR keeps assertions free of escape codes; DATABASE_URL from the outer shell must not leak in.
    env: { NO_COLOR: '1', ...options.env },
    cwd: options.cwd,
    ...options.io,
  };
  const code = await main(args, io);
  return { code, stdout, stderr };
}

/** A fresh temp directory whose `node_modules/@cmpkg/core` resolves (TypeScript migrations import it). */
export async function tempProject(
  prefix = 'cmpkg-cli-',
): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  const coreDir = path.resolve(import.meta.dirname, '..', 'node_modules', '@cmpkg', 'core');
  await mkdir(path.join(dir, 'node_modules', '@cmpkg'), { recursive: true });
  await symlink(coreDir, path.join(dir, 'node_modules', '@cmpkg', 'core'), 'dir');
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}
