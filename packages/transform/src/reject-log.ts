import { appendFile, open, readFile, rm, writeFile } from 'node:fs/promises';

/**
 * Rows that were left out, as NDJSON (one JSON object per line). Entries are staged in a side file
 * until the transaction that decided their fate commits (`flush`); a rolled-back batch `discard`s
 * its entries, so the log never lists a row that was rolled back for another reason.
 *
 * `bigint` values are written as strings and bytes as base64, so every entry is plain JSON.
 *
 * @example
 * const log = await RejectLog.open('rejects.ndjson');
 * await log.stage([{ table: 'users', key: 'id=7', error: 'email: not an email' }]);
 * await log.flush(); // after COMMIT
 * console.log(log.count); // 1
 */
export class RejectLog {
  readonly file: string;
  readonly #staging: string;
  #staged = 0;
  #count = 0;

  private constructor(file: string) {
    this.file = file;
    this.#staging = `${file}.${process.pid}.staged`;
  }

  /** Creates (or, with `append`, continues) the log file. */
  static async open(file: string, options: { append?: boolean } = {}): Promise<RejectLog> {
    const log = new RejectLog(file);
    if (options.append) await (await open(file, 'a')).close();
    else await writeFile(file, '');
    await rm(log.#staging, { force: true });
    return log;
  }

  /** Entries written to the log (flushed). */
  get count(): number {
    return this.#count;
  }

  /** Entries waiting for `flush`/`discard`. */
  get staged(): number {
    return this.#staged;
  }

  /** Stages entries until the current transaction commits. */
  async stage(entries: readonly Record<string, unknown>[]): Promise<void> {
    if (entries.length === 0) return;
    await appendFile(this.#staging, entries.map((e) => `${JSON.stringify(e, jsonSafe)}\n`).join(''));
    this.#staged += entries.length;
  }

  /** Moves the staged entries into the log (call after COMMIT). */
  async flush(): Promise<void> {
    if (this.#staged === 0) return;
    await appendFile(this.file, await readFile(this.#staging));
    await rm(this.#staging, { force: true });
    this.#count += this.#staged;
    this.#staged = 0;
  }

  /** Drops the staged entries (call after ROLLBACK). */
  async discard(): Promise<void> {
    await rm(this.#staging, { force: true });
    this.#staged = 0;
  }
}

function jsonSafe(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  // Buffer.toJSON runs before the replacer sees it.
  if (
    typeof value === 'object' &&
    value !== null &&
    (value as { type?: unknown }).type === 'Buffer' &&
    Array.isArray((value as { data?: unknown }).data)
  ) {
    return Buffer.from((value as { data: number[] }).data).toString('base64');
  }
  return value;
}
