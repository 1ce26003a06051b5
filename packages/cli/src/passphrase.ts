import { CmpkgError, isCmpkgError, PackageError, UsageError } from '@cmpkg/core';
import { decodeSecretKey, type KeyPair } from '@cmpkg/packager';
import { readOptionFile } from './commands/transfer.js';
import type { CommandContext } from './context.js';

/** The environment variable that holds the passphrase of an encrypted secret key. */
export const PASSPHRASE_ENV = 'CMPKG_KEY_PASSPHRASE';
/** The passphrase of the old key of `keygen --rotate-from`, when it differs from the new key's. */
export const OLD_PASSPHRASE_ENV = 'CMPKG_OLD_KEY_PASSPHRASE';

/** Ctrl-C or Ctrl-D at a passphrase prompt (exit 1: nothing was done, nothing was refused). */
export class PromptCancelledError extends CmpkgError {
  constructor() {
    super('E_CANCELLED', 'failure', 'cancelled at the passphrase prompt: nothing was written');
  }
}

/** Whether the user can be asked: stdin is an interactive terminal (or the caller supplied a prompt). */
function canPrompt(ctx: CommandContext): boolean {
  return ctx.io.promptSecret !== undefined || ctx.io.stdin?.isTTY === true;
}

/**
 * Asks for a secret on the terminal: the question on stderr (stdout may carry JSON), the answer
 * read from stdin in raw mode and never echoed. Backspace edits, Enter ends, Ctrl-C / Ctrl-D cancel.
 */
async function askHidden(ctx: CommandContext, question: string): Promise<string> {
  if (ctx.io.promptSecret) return ctx.io.promptSecret(question);
  const stdin = (
    ctx.io.stdin !== undefined && 'read' in ctx.io.stdin ? ctx.io.stdin : process.stdin
  ) as NodeJS.ReadStream;
  const stderr = ctx.io.stderr;
  stderr.write(question);
  return new Promise<string>((resolve, reject) => {
    const wasRaw = stdin.isRaw === true;
    let value = '';
    const finish = (error?: Error) => {
      stdin.off('data', onData);
      if (typeof stdin.setRawMode === 'function') stdin.setRawMode(wasRaw);
      stdin.pause();
      stderr.write('\n');
      if (error) reject(error);
      else resolve(value);
    };
    const onData = (chunk: Buffer | string) => {
      for (const ch of chunk.toString()) {
        if (ch === '\r' || ch === '\n') return finish();
        if (ch === '\u0003' || ch === '\u0004') return finish(new PromptCancelledError());
        if (ch === '\u007f' || ch === '\b') value = [...value].slice(0, -1).join('');
        else if (ch >= ' ') value += ch;
      }
    };
    if (typeof stdin.setRawMode === 'function') stdin.setRawMode(true);
    stdin.on('data', onData);
    stdin.resume();
  });
}

/**
 * The passphrase for a new encrypted key (`keygen --encrypt`): `CMPKG_KEY_PASSPHRASE`, else asked
 * twice on a terminal, else a usage error (a script must not hang waiting for a prompt).
 *
 * @example
 * const passphrase = await newPassphrase(ctx); // from the environment or the terminal
 */
export async function newPassphrase(ctx: CommandContext): Promise<string> {
  const fromEnv = ctx.env[PASSPHRASE_ENV];
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  if (!canPrompt(ctx)) {
    throw new UsageError(
      `--encrypt needs a passphrase: set ${PASSPHRASE_ENV}, or run keygen on a terminal to type it`,
      { details: { env: PASSPHRASE_ENV } },
    );
  }
  const first = await askHidden(ctx, 'Passphrase for the new secret key: ');
  if (first === '') throw new UsageError('the passphrase is empty: nothing was written');
  const second = await askHidden(ctx, 'Same passphrase again: ');
  if (first !== second) throw new UsageError('the two passphrases differ: nothing was written');
  return first;
}

/**
 * Reads a secret key file given on the command line (`--key`, `--rotate-from`). An unencrypted key
 * needs nothing; an encrypted one takes the passphrase from `env` (default `CMPKG_KEY_PASSPHRASE`),
 * else asks once on a terminal, else fails with `E_KEY_PASSPHRASE` (exit 2) saying how to give it.
 * A wrong passphrase is `E_KEY_PASSPHRASE` too, naming the file.
 *
 * @example
 * const key = await readSecretKeyFor(ctx, '--key', 'publisher.key');
 */
export async function readSecretKeyFor(
  ctx: CommandContext,
  option: string,
  file: string,
  shownAs: string,
  envNames: readonly string[] = [PASSPHRASE_ENV],
): Promise<KeyPair> {
  const text = await readOptionFile(option, file, shownAs);
  const fromEnv = envNames.map((name) => ctx.env[name]).find((v) => v !== undefined && v !== '');
  try {
    return await decodeSecretKey(text, { source: shownAs, ...(fromEnv ? { passphrase: fromEnv } : {}) });
  } catch (err) {
    const needsPassphrase = isCmpkgError(err) && err.code === 'E_KEY_PASSPHRASE' && fromEnv === undefined;
    if (!needsPassphrase) throw err;
    if (!canPrompt(ctx)) {
      throw new PackageError(
        'E_KEY_PASSPHRASE',
        `${err.message}; set ${envNames.join(' or ')} (or run on a terminal to type it)`,
        { details: { file: shownAs, env: envNames[0] }, cause: err },
      );
    }
    const passphrase = await askHidden(ctx, `Passphrase for ${shownAs}: `);
    return decodeSecretKey(text, { source: shownAs, passphrase });
  }
}
