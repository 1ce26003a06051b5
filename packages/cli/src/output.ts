import { type CmpkgError, type ErrorCategory, isCmpkgError } from '@cmpkg/core';
import pc from 'picocolors';
import { isCommanderError } from './exit-codes.js';

/**
 * A stream the CLI writes to: `process.stdout`, `process.stderr`, or a test double.
 *
 * @example
 * const chunks: string[] = [];
 * const stream: CliOutputStream = { write: (s: string) => chunks.push(s), isTTY: false };
 */
export interface CliOutputStream {
  write(chunk: string): unknown;
  /** Colours, tables sized to the terminal and progress bars only happen on a TTY. */
  isTTY?: boolean;
  columns?: number;
}

/**
 * The stream the CLI reads confirmations from (only its TTY-ness matters unless it is readable).
 *
 * @example
 * const stdin: CliInputStream = { isTTY: false }; // `down` never asks, as in CI
 */
export interface CliInputStream {
  isTTY?: boolean;
}

/**
 * Everything `main` touches outside the database and the file system: the streams, the
 * environment and the working directory. Tests pass their own; the binary passes the process's.
 *
 * @example
 * let out = '';
 * const io: CliIo = { stdout: { write: (s: string) => (out += s) }, stderr: process.stderr, cwd: '/tmp/demo' };
 * await main(['status', '--json'], io);
 */
export interface CliIo {
  stdout: CliOutputStream;
  stderr: CliOutputStream;
  /** Default: `process.stdin`. `down` only asks for confirmation when this is a TTY. */
  stdin?: CliInputStream;
  /** Default: `process.env`. */
  env?: Record<string, string | undefined>;
  /** Default: `process.cwd()`. Relative paths in flags and the environment resolve against it. */
  cwd?: string;
  /** Asks a yes/no question (default: a readline prompt on stdin/stderr). */
  confirm?: (question: string) => Promise<boolean>;
  /**
   * Asks for a secret (a key passphrase) without echoing it (default: a raw-mode prompt on the
   * terminal). Only used when stdin is a TTY or this is given.
   */
  promptSecret?: (question: string) => Promise<string>;
}

/** The colour functions used (a subset of picocolors), or identity functions when colour is off. */
export type Colors = ReturnType<typeof pc.createColors>;

/** The error fields printed with `--json` (the shape of `CmpkgError.toJSON()`). */
export interface JsonError {
  name: string;
  code: string;
  category: ErrorCategory;
  message: string;
  details: Record<string, unknown>;
}

/**
 * Whether to colour a stream: never with `NO_COLOR` (any non-empty value, see no-color.org) or
 * `TERM=dumb`; always with `FORCE_COLOR`; otherwise only on a TTY so pipes and files stay clean.
 */
export function colorEnabled(stream: CliOutputStream, env: Record<string, string | undefined>): boolean {
  if (env.NO_COLOR) return false;
  if (env.FORCE_COLOR && env.FORCE_COLOR !== '0') return true;
  return stream.isTTY === true && env.TERM !== 'dumb';
}

/** Removes ANSI colour codes so widths are measured on what the user sees. */
export function stripAnsi(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching the ESC of ANSI sequences is the point
  return text.replace(/\u001b\[[0-9;]*m/g, '');
}

function visibleWidth(text: string): number {
  return [...stripAnsi(text)].length;
}

export interface TableOptions {
  /** Column titles, printed dimmed above the rows. */
  header?: string[];
  /** Spaces before every line. */
  indent?: number;
  /** Columns aligned to the right (numbers, durations). */
  alignRight?: number[];
  /** Applied to each header cell after padding, so colour codes do not disturb the widths. */
  headerStyle?: (text: string) => string;
}

/**
 * Lays out rows as aligned columns (two spaces apart). Cells may already contain colour codes.
 * The last column is not padded, so lines carry no trailing spaces.
 *
 * @example
 * formatTable([['0001_init', 'applied'], ['0002_add_tags', 'pending']], { header: ['ID', 'STATE'] });
 * // ['ID             STATE', '0001_init      applied', '0002_add_tags  pending']
 */
export function formatTable(rows: string[][], options: TableOptions = {}): string[] {
  const all = options.header ? [options.header, ...rows] : rows;
  const columns = Math.max(0, ...all.map((r) => r.length));
  const widths: number[] = [];
  for (let c = 0; c < columns; c++) widths.push(Math.max(0, ...all.map((r) => visibleWidth(r[c] ?? ''))));
  const right = new Set(options.alignRight ?? []);
  const indent = ' '.repeat(options.indent ?? 0);
  const render = (row: string[], style?: (text: string) => string): string => {
    const cells = row.map((cell, c) => {
      const pad = ' '.repeat((widths[c] ?? 0) - visibleWidth(cell));
      const last = c === row.length - 1;
      const padded = right.has(c) ? pad + cell : last ? cell : cell + pad;
      return style ? style(padded) : padded;
    });
    return (indent + cells.join('  ')).trimEnd();
  };
  const lines = rows.map((r) => render(r));
  return options.header ? [render(options.header, options.headerStyle), ...lines] : lines;
}

/** `12 ms`, `1.4 s`, `2 min 5 s`: durations the way people read them. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const minutes = Math.floor(ms / 60_000);
  return `${minutes} min ${Math.round((ms % 60_000) / 1000)} s`;
}

/** `812 B`, `3.2 kB`, `1.4 MB`: file sizes the way people read them (powers of 1000, like ls --si). */
export function formatBytes(bytes: number): string {
  if (bytes < 1000) return `${bytes} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let value = bytes / 1000;
  let unit = 0;
  // Decided on the rounded value, so 999,999 bytes is `1.0 MB`, not `1000 kB`.
  while (value >= 999.5 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${value < 9.95 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`;
}

/** `1 migration`, `3 migrations`. */
export function plural(count: number, word: string): string {
  return `${count} ${word}${count === 1 ? '' : 's'}`;
}

/** Any thrown value as the `error` object of `--json` output. */
export function toJsonError(err: unknown): JsonError {
  if (isCmpkgError(err)) {
    const e = err as CmpkgError;
    if (typeof e.toJSON === 'function') return e.toJSON();
    return { name: e.name, code: e.code, category: e.category, message: e.message, details: e.details ?? {} };
  }
  if (isCommanderError(err)) {
    return {
      name: 'UsageError',
      code: 'E_USAGE',
      category: 'input',
      message: commanderMessage(err.message),
      details: { commanderCode: err.code },
    };
  }
  const message = err instanceof Error ? err.message : String(err);
  return {
    name: err instanceof Error ? err.name : 'Error',
    code: 'E_INTERNAL',
    category: 'failure',
    message,
    details: {},
  };
}

/** Commander prefixes its messages with `error: `; ours add the code instead. */
function commanderMessage(message: string): string {
  return message.replace(/^error:\s*/i, '');
}

/** Error messages are printed on one line: drivers sometimes put newlines in theirs. */
function oneLine(message: string): string {
  return message.replace(/\s*\r?\n\s*/g, ' ').trim();
}

/**
 * Everything the commands print goes through here, so that `--json` mode is enforced in one
 * place: human text to stdout is dropped, and exactly one JSON document is written.
 */
export class Output {
  /** Colours for stdout. */
  readonly c: Colors;
  /** Colours for stderr. */
  readonly ce: Colors;
  private jsonWritten = false;

  constructor(
    readonly io: CliIo,
    readonly json: boolean,
    readonly verbose: boolean,
  ) {
    const env = io.env ?? process.env;
    this.c = pc.createColors(!json && colorEnabled(io.stdout, env));
    this.ce = pc.createColors(colorEnabled(io.stderr, env));
  }

  /** A line of human output on stdout (nothing in `--json` mode). */
  line(text = ''): void {
    if (!this.json) this.io.stdout.write(`${text}\n`);
  }

  /** Several lines of human output. */
  lines(texts: string[]): void {
    for (const t of texts) this.line(t);
  }

  /** A note on stderr: shown in both modes, never mixed into the JSON on stdout. */
  note(text: string): void {
    this.io.stderr.write(`${text}\n`);
  }

  /** `warning: ...` on stderr. */
  warn(text: string): void {
    this.note(`${this.ce.yellow('warning')}: ${text}`);
  }

  /** The one JSON document of a `--json` run (later calls are ignored: one document, always). */
  emitJson(value: unknown): void {
    if (!this.json || this.jsonWritten) return;
    this.jsonWritten = true;
    this.io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  }

  /** Whether the JSON document has been written already. */
  get jsonDone(): boolean {
    return this.jsonWritten;
  }

  /**
   * Reports an error: one line `error[E_CODE]: message` on stderr, the stack (and causes) only
   * with `--verbose` / `CMPKG_DEBUG=1`, and with `--json` the `{ ok: false, error }` document
   * unless the command already wrote its own.
   */
  error(err: unknown): void {
    const json = toJsonError(err);
    this.note(`${this.ce.red(`error[${json.code}]`)}: ${oneLine(json.message)}`);
    if (this.verbose) {
      let current: unknown = err;
      const seen = new Set<unknown>();
      while (current !== undefined && current !== null && !seen.has(current)) {
        if (seen.size > 0) this.note(this.ce.dim('caused by:'));
        seen.add(current);
        this.note(
          this.ce.dim(current instanceof Error ? (current.stack ?? current.message) : String(current)),
        );
        current = current instanceof Error ? current.cause : undefined;
      }
    }
    this.emitJson({ ok: false, error: json });
  }
}
