import type { Migrator } from '@cmpkg/core';
import type { InstallEvent } from '@cmpkg/packager';
import type { ProgressEvent } from '@cmpkg/transform';
import { MultiBar, type Options, SingleBar } from 'cli-progress';
import type { Colors, Output } from './output.js';

/** Stops and clears the bar; safe to call more than once, and a no-op when no bar was drawn. */
export interface ProgressHandle {
  stop(): void;
}

// One look for every bar cmpkg draws.
const BAR_STYLE = {
  hideCursor: true,
  clearOnComplete: true,
  barCompleteChar: '█',
  barIncompleteChar: '░',
} satisfies Options;

/** Bars are drawn only on an interactive stderr, and never in `--json` mode. */
function drawsBars(out: Output): boolean {
  return !out.json && out.io.stderr.isTTY === true;
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
  if (!drawsBars(out)) return { stop() {} };

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
      ...BAR_STYLE,
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

/**
 * Progress of a copy, export or import: `onProgress` is handed to the library as its progress
 * callback; `stop` clears the bars (call it in a `finally`).
 */
export interface TransferProgress extends ProgressHandle {
  onProgress(event: ProgressEvent): void;
}

const BAR_WIDTH = 24;
const count = (n: number): string => Math.round(n).toLocaleString('en-US');

/** `42 s`, `3 min 5 s`, `2 h 10 min`: an ETA needs no more precision than that. */
function etaText(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

/**
 * One line of transfer progress: phase, table, a bar when the total is known, rows, rows/s and the
 * ETA; a finished table gets a tick instead of the bar. Pure, so the layout is tested without a TTY.
 *
 * @example
 * formatTransferLine({ phase: 'copy', table: 'entries', rows: 500, totalRows: 1000, rowsPerSecond: 250, etaSeconds: 2, done: false }, c, 8);
 * // 'copy     entries  ████░░░░  500/1,000 rows  250 rows/s  eta 2 s'
 */
export function formatTransferLine(event: ProgressEvent, c: Colors, tableWidth = 0): string {
  const phase = event.phase.padEnd(8);
  const table = event.table.padEnd(tableWidth);
  const total = event.totalRows;
  const rows =
    total !== undefined ? `${count(event.rows)}/${count(total)} rows` : `${count(event.rows)} rows`;
  const rate = event.rowsPerSecond > 0 ? `  ${c.dim(`${count(event.rowsPerSecond)} rows/s`)}` : '';
  if (event.done) return `${c.green('✔')} ${phase}${table}  ${rows}${rate}`;
  let bar = '';
  if (total !== undefined && total > 0) {
    const filled = Math.min(BAR_WIDTH, Math.round((event.rows / total) * BAR_WIDTH));
    bar = `${BAR_STYLE.barCompleteChar.repeat(filled)}${BAR_STYLE.barIncompleteChar.repeat(BAR_WIDTH - filled)}  `;
  }
  const eta = event.etaSeconds !== undefined ? `  ${c.dim(`eta ${etaText(event.etaSeconds)}`)}` : '';
  return `  ${phase}${table}  ${bar}${rows}${rate}${eta}`;
}

/**
 * Draws a bar per table on stderr for the `ProgressEvent`s of `copyDatabase`, `exportTables` and
 * `importTables` (phases copy, indexes, verify, export, import). Like {@link attachProgress}, only
 * when stderr is a TTY and `--json` is off: anywhere else `onProgress` does nothing.
 *
 * @example
 * const progress = transferProgress(out);
 * try { await copyDatabase({ from, to, onProgress: progress.onProgress }); } finally { progress.stop(); }
 */
export function transferProgress(out: Output): TransferProgress {
  if (!drawsBars(out)) return { onProgress() {}, stop() {} };
  const c = out.ce;
  let tableWidth = 0;
  const multi = new MultiBar({
    // cli-progress only needs write/isTTY/columns; the CliIo stream has them on a real TTY.
    stream: out.io.stderr as NodeJS.WritableStream,
    format: (_options, _params, payload: { event: ProgressEvent }) =>
      formatTransferLine(payload.event, c, tableWidth),
    ...BAR_STYLE,
  });
  const bars = new Map<string, { bar: ReturnType<MultiBar['create']>; phase: string; done: boolean }>();
  return {
    onProgress(event) {
      const known = bars.get(event.table);
      // A new table, a new phase or a finished table is drawn at once; plain row counts wait for
      // the next scheduled redraw, so a fast copy is not slowed by the terminal.
      const redraw = !known || known.phase !== event.phase || (event.done && !known.done);
      if (!known) {
        tableWidth = Math.max(tableWidth, event.table.length);
        bars.set(event.table, {
          bar: multi.create(event.totalRows ?? 0, event.rows, { event }),
          phase: event.phase,
          done: event.done,
        });
      } else {
        if (event.totalRows !== undefined) known.bar.setTotal(event.totalRows);
        known.bar.update(event.rows, { event });
        known.phase = event.phase;
        known.done = event.done;
      }
      if (redraw) multi.update();
    },
    stop() {
      // Nothing drawn, nothing to clear (and no cursor codes for a run that printed no bar).
      if (bars.size > 0) multi.stop();
      bars.clear();
    },
  };
}

/** Progress of `cmpkg install`: `onEvent` is handed to `installPackage`; `stop` clears the bars. */
export interface InstallProgress extends ProgressHandle {
  onEvent(event: InstallEvent): void;
}

/**
 * Draws the progress of an install on stderr: a bar over the migrations (as {@link attachProgress}
 * does for `up`), then a bar per table while the package's data is imported (as
 * {@link transferProgress}). Only when stderr is a TTY and `--json` is off.
 *
 * @example
 * const progress = installProgress(out);
 * try { await installPackage({ ...options, onEvent: progress.onEvent }); } finally { progress.stop(); }
 */
export function installProgress(out: Output): InstallProgress {
  if (!drawsBars(out)) return { onEvent() {}, stop() {} };
  const data = transferProgress(out);
  let bar: SingleBar | undefined;
  let done = 0;
  const stopMigrations = () => {
    bar?.stop();
    bar = undefined;
  };
  return {
    onEvent(event) {
      switch (event.type) {
        case 'migration:start': {
          const { id, index, total } = event.migration;
          if (!bar) {
            bar = new SingleBar({
              stream: out.io.stderr as NodeJS.WritableStream,
              format: ` {bar} {value}/{total} ${out.ce.dim('{migration}')}`,
              barsize: 30,
              ...BAR_STYLE,
            });
            bar.start(total, index, { migration: id });
          } else {
            bar.setTotal(total);
            bar.update(index, { migration: id });
          }
          done = index;
          break;
        }
        case 'migration:done':
          done += 1;
          bar?.update(done);
          break;
        case 'data:progress':
          // The migrations are over once rows move: one kind of bar at a time.
          stopMigrations();
          data.onProgress(event.progress);
          break;
        case 'undo':
          stopMigrations();
          data.stop();
          break;
        default:
          break;
      }
    },
    stop() {
      stopMigrations();
      data.stop();
    },
  };
}
