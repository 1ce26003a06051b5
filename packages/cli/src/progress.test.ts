import type { InstallEvent } from '@cmpkg/packager';
import type { ProgressEvent } from '@cmpkg/transform';
import pc from 'picocolors';
import { describe, expect, it } from 'vitest';
import { type CliIo, Output, stripAnsi } from './output.js';
import { formatTransferLine, installProgress, transferProgress } from './progress.js';

const plain = pc.createColors(false);

function event(over: Partial<ProgressEvent>): ProgressEvent {
  return { phase: 'copy', table: 'entries', rows: 0, rowsPerSecond: 0, done: false, ...over };
}

/** An Output whose stderr is captured; `tty` decides whether bars may be drawn. */
function capture(options: { tty: boolean; json?: boolean }): { out: Output; text: () => string } {
  let err = '';
  const io: CliIo = {
    stdout: { write: () => true },
    stderr: { write: (s: string) => (err += s), isTTY: options.tty, columns: 160 },
    env: { NO_COLOR: '1' },
  };
  return { out: new Output(io, options.json === true, false), text: () => err };
}

describe('formatTransferLine', () => {
  it('shows phase, table, a bar, rows of total, rows/s and the ETA while running', () => {
    const line = formatTransferLine(
      event({ rows: 500, totalRows: 1000, rowsPerSecond: 250.4, etaSeconds: 2 }),
      plain,
      10,
    );
    expect(line).toBe(
      `  copy    entries     ${'█'.repeat(12)}${'░'.repeat(12)}  500/1,000 rows  250 rows/s  eta 2 s`,
    );
  });

  it('has no bar and no ETA when the total is unknown, and long ETAs in minutes', () => {
    expect(formatTransferLine(event({ phase: 'export', rows: 12_345, rowsPerSecond: 0 }), plain)).toBe(
      '  export  entries  12,345 rows',
    );
    expect(
      formatTransferLine(event({ rows: 1, totalRows: 10, rowsPerSecond: 1, etaSeconds: 185 }), plain),
    ).toMatch(/eta 3 min 5 s$/);
  });

  it('marks a finished table with a tick instead of the bar', () => {
    expect(
      formatTransferLine(
        event({ phase: 'verify', rows: 1000, totalRows: 1000, rowsPerSecond: 0, done: true }),
        plain,
      ),
    ).toBe('✔ verify  entries  1,000/1,000 rows');
  });
});

describe('transferProgress', () => {
  it('draws nothing when stderr is not a TTY', () => {
    const { out, text } = capture({ tty: false });
    const progress = transferProgress(out);
    progress.onProgress(event({ rows: 10, totalRows: 100 }));
    progress.onProgress(event({ rows: 100, totalRows: 100, done: true }));
    progress.stop();
    expect(text()).toBe('');
  });

  it('draws nothing with --json, even on a TTY', () => {
    const { out, text } = capture({ tty: true, json: true });
    const progress = transferProgress(out);
    progress.onProgress(event({ rows: 10, totalRows: 100 }));
    progress.stop();
    expect(text()).toBe('');
  });

  it('draws a bar per table on a TTY, follows phase changes, and clears the bars on stop', () => {
    const { out, text } = capture({ tty: true });
    const progress = transferProgress(out);
    progress.onProgress(event({ table: 'entries', rows: 0, totalRows: 40 }));
    progress.onProgress(event({ table: 'categories', rows: 4, totalRows: 4, done: true }));
    progress.onProgress(event({ table: 'entries', phase: 'verify', rows: 40, totalRows: 40 }));
    const drawn = stripAnsi(text());
    expect(drawn).toContain(`copy    entries     ${'░'.repeat(24)}  0/40 rows`);
    expect(drawn).toContain('✔ copy    categories  4/4 rows');
    expect(drawn).toContain(`verify  entries     ${'█'.repeat(24)}  40/40 rows`);
    const before = text().length;
    progress.stop();
    // Clearing writes control sequences only: no progress text is left behind after the bars.
    const after = text().slice(before);
    expect(after.length).toBeGreaterThan(0);
    expect(stripAnsi(after)).not.toMatch(/rows/);
    progress.stop(); // twice is harmless
  });

  it('writes nothing at all when no event came', () => {
    const { out, text } = capture({ tty: true });
    transferProgress(out).stop();
    expect(text()).toBe('');
  });
});

describe('installProgress', () => {
  const start = (id: string, index: number, total: number): InstallEvent => ({
    type: 'migration:start',
    migration: { pluginId: 'sample', id, version: '1.0.0', name: id, direction: 'up', index, total },
  });
  const done = (id: string): InstallEvent => ({
    type: 'migration:done',
    result: {
      pluginId: 'sample',
      migrationId: id,
      version: '1.0.0',
      name: id,
      direction: 'up',
      status: 'applied',
      durationMs: 1,
      steps: [],
    },
  });

  it('draws nothing when stderr is not a TTY, or with --json', () => {
    for (const options of [{ tty: false }, { tty: true, json: true }]) {
      const { out, text } = capture(options);
      const progress = installProgress(out);
      progress.onEvent(start('0001_a', 0, 2));
      progress.onEvent(done('0001_a'));
      progress.onEvent({
        type: 'data:progress',
        progress: event({ phase: 'import', rows: 5, totalRows: 10 }),
      });
      progress.stop();
      expect(text()).toBe('');
    }
  });

  it('draws the migrations bar, then a bar per imported table, and clears them', () => {
    const { out, text } = capture({ tty: true });
    const progress = installProgress(out);
    progress.onEvent(start('0001_a', 0, 2));
    expect(stripAnsi(text())).toMatch(/0\/2 0001_a/);
    progress.onEvent(done('0001_a'));
    progress.onEvent(start('0002_b', 1, 2));
    progress.onEvent(done('0002_b'));
    progress.onEvent({
      type: 'data:progress',
      progress: event({ phase: 'import', table: 'entries', rows: 40, totalRows: 120 }),
    });
    expect(stripAnsi(text())).toContain('import  entries');
    expect(stripAnsi(text())).toContain('40/120 rows');
    const before = text().length;
    progress.stop();
    expect(stripAnsi(text().slice(before))).not.toMatch(/rows/);
    progress.stop();
  });
});
