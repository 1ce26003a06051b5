import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { CommandContext } from './context.js';
import { Output } from './output.js';
import { newPassphrase, PromptCancelledError } from './passphrase.js';

/** A terminal double: stdin in raw mode that the test types into, stderr captured. */
function terminal(env: Record<string, string> = {}) {
  const stdin = Object.assign(new PassThrough(), {
    isTTY: true,
    isRaw: false,
    rawModes: [] as boolean[],
    setRawMode(mode: boolean) {
      this.isRaw = mode;
      this.rawModes.push(mode);
      return this;
    },
  });
  let err = '';
  const io = {
    stdout: { write: () => true },
    stderr: { write: (s: string) => (err += s) },
    stdin,
    env: { NO_COLOR: '1', ...env },
  };
  const ctx: CommandContext = { io, out: new Output(io, false, false), flags: {}, cwd: '/', env: io.env };
  /** Types `text` once the prompt has been written. */
  const type = async (text: string) => {
    await new Promise((resolve) => setImmediate(resolve));
    stdin.write(text);
  };
  return { ctx, stdin, type, stderr: () => err };
}

describe('the passphrase prompt', () => {
  it('reads hidden input in raw mode (backspace edits), asks twice, and restores the terminal', async () => {
    const t = terminal();
    const answer = newPassphrase(t.ctx);
    await t.type('sec\u007fcret\r');
    await t.type('secret\r');
    await expect(answer).resolves.toBe('secret');
    // The questions and line ends only: the passphrase is never echoed.
    expect(t.stderr()).toBe('Passphrase for the new secret key: \nSame passphrase again: \n');
    expect(t.stdin.rawModes).toEqual([true, false, true, false]);
  });

  it('Ctrl-C cancels (E_CANCELLED) and leaves raw mode', async () => {
    const t = terminal();
    const answer = newPassphrase(t.ctx);
    await t.type('abc\u0003');
    await expect(answer).rejects.toBeInstanceOf(PromptCancelledError);
    await expect(answer).rejects.toMatchObject({ code: 'E_CANCELLED', category: 'failure' });
    expect(t.stdin.isRaw).toBe(false);
  });

  it('an empty passphrase is refused; CMPKG_KEY_PASSPHRASE is taken without asking', async () => {
    const t = terminal();
    const answer = newPassphrase(t.ctx);
    await t.type('\r');
    await expect(answer).rejects.toMatchObject({ code: 'E_USAGE', message: expect.stringMatching(/empty/) });

    const fromEnv = terminal({ CMPKG_KEY_PASSPHRASE: 'from the environment' });
    await expect(newPassphrase(fromEnv.ctx)).resolves.toBe('from the environment');
    expect(fromEnv.stderr()).toBe('');
  });
});
