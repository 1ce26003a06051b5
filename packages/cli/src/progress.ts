import type { Migrator } from '@cmpkg/core';
import { SingleBar } from 'cli-progress';
import type { Output } from './output.js';

/** Stops and clears the bar; safe to call more than once, and a no-op when no bar was drawn. */
export interface ProgressHandle {
  stop(): void;
}

/**
 * Draws a progress bar on stderr while the migrator runs, driven by its `progress` events. Only
 * when stderr is a TTY and `--json` is off: pipes, files and CI logs get no control characters,
 * and stdout is never touched (it belongs to the results, or to the one JSON document).
 *
 * @example
 * const progress = attachProgress(migrator, out);
 * try { await migrator.up(); } finally { progress.stop(); }
 */
export function attachProgress(migrator: Pick<Migrator, 'on'>, out: Output): ProgressHandle {
  const stderr = out.io.stderr;
  if (out.json || stderr.isTTY !== true) return { stop() {} };

  let bar: SingleBar | undefined;
  let current = '';
  // Start on the first migration, not the first finished one: a single slow migration should show
  // a bar while it runs, not only when it is over.
  const ensureBar = (total: number, done: number) => {
    if (bar) {
      bar.setTotal(total);
      bar.update(done, { migration: current });
      return;
    }
    bar = new SingleBar({
      // cli-progress only needs write/isTTY/columns; the CliIo stream has them on a real TTY.
      stream: stderr as NodeJS.WritableStream,
      format: ` {bar} {value}/{total} ${out.ce.dim('{migration}')}`,
      barsize: 30,
      hideCursor: true,
      clearOnComplete: true,
      barCompleteChar: '█',
      barIncompleteChar: '░',
    });
    bar.start(total, done, { migration: current });
  };
  migrator.on('migration:start', (m) => {
    current = m.id;
    ensureBar(m.total, m.index);
  });
  migrator.on('progress', ({ done, total, migrationId }) => {
    current = migrationId || current;
    ensureBar(total, done);
  });
  return {
    stop() {
      bar?.stop();
      bar = undefined;
    },
  };
}
