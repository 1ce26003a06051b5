/**
 * Progress of a long data operation, emitted at least once per batch.
 *
 * @example
 * const onProgress = (e: ProgressEvent) => console.log(`${e.table}: ${e.rows}/${e.totalRows ?? '?'} (${Math.round(e.rowsPerSecond)} rows/s)`);
 */
export interface ProgressEvent {
  phase: 'copy' | 'transform' | 'export' | 'import' | 'verify' | 'indexes';
  table: string;
  /** Rows processed so far (including those of an earlier, resumed run). */
  rows: number;
  totalRows?: number;
  /** Over the last few seconds (a moving window), so a slow start does not hide the current rate. */
  rowsPerSecond: number;
  /** Seconds left at the current rate; only when `totalRows` is known. */
  etaSeconds?: number;
  done: boolean;
}

/**
 * Options of {@link ProgressTracker}.
 *
 * @example
 * const options: ProgressTrackerOptions = { totalRows: 1_000_000, windowMs: 10_000 };
 */
export interface ProgressTrackerOptions {
  totalRows?: number;
  /** The moving window rows/s is measured over (default 5000 ms). */
  windowMs?: number;
  /** A clock in milliseconds (tests pass their own). */
  now?: () => number;
}

/**
 * Turns cumulative row counts into {@link ProgressEvent}s with a moving-window rate and an ETA.
 *
 * @example
 * const tracker = new ProgressTracker('copy', 'users', { totalRows: 25_000 });
 * onProgress(tracker.update(1000));
 * onProgress(tracker.update(25_000, true));
 */
export class ProgressTracker {
  readonly #phase: ProgressEvent['phase'];
  readonly #table: string;
  readonly #windowMs: number;
  readonly #now: () => number;
  #totalRows: number | undefined;
  /** (time, rows) samples within the window, oldest first; the first is the start of the run. */
  #samples: Array<{ t: number; rows: number }> = [];

  constructor(phase: ProgressEvent['phase'], table: string, options: ProgressTrackerOptions = {}) {
    this.#phase = phase;
    this.#table = table;
    this.#windowMs = options.windowMs ?? 5000;
    this.#now = options.now ?? (() => performance.now());
    this.#totalRows = options.totalRows;
  }

  /** Sets the total once known (for example after a count). */
  setTotal(totalRows: number | undefined): void {
    this.#totalRows = totalRows;
  }

  /**
   * Starts the clock at `rows` already done (a resumed run), so the rate counts only this run's rows.
   */
  start(rows = 0): void {
    this.#samples = [{ t: this.#now(), rows }];
  }

  /** The event for `rows` processed so far. */
  update(rows: number, done = false): ProgressEvent {
    const t = this.#now();
    if (this.#samples.length === 0) this.#samples.push({ t, rows: 0 });
    this.#samples.push({ t, rows });
    // Keep one sample at or before the window start so the rate spans the whole window.
    while (this.#samples.length > 2 && this.#samples[1]!.t <= t - this.#windowMs) this.#samples.shift();
    const first = this.#samples[0]!;
    const elapsed = (t - first.t) / 1000;
    const rowsPerSecond = elapsed > 0 ? Math.max(0, rows - first.rows) / elapsed : 0;
    const event: ProgressEvent = { phase: this.#phase, table: this.#table, rows, rowsPerSecond, done };
    const total = this.#totalRows;
    if (total !== undefined) {
      event.totalRows = total;
      if (done) event.etaSeconds = 0;
      else if (rowsPerSecond > 0) event.etaSeconds = Math.max(0, total - rows) / rowsPerSecond;
    }
    return event;
  }
}
