import { Command, InvalidArgumentError, Option } from 'commander';
import pkg from '../package.json' with { type: 'json' };
import { type CopyCommandOptions, runCopy } from './commands/copy.js';
import { runDeprecate } from './commands/deprecate.js';
import { runDistTagAdd, runDistTagRm } from './commands/dist-tag.js';
import { type DownCommandOptions, runDown } from './commands/down.js';
import { type ExportCommandOptions, runExport } from './commands/export.js';
import { runHistory } from './commands/history.js';
import { IMPORT_MODES, type ImportCommandOptions, runImport } from './commands/import.js';
import { runInfo } from './commands/info.js';
import { runInit } from './commands/init.js';
import { runInspect } from './commands/inspect.js';
import { type InstallCommandOptions, runInstall } from './commands/install.js';
import { type IntrospectCommandOptions, runIntrospect } from './commands/introspect.js';
import { type KeygenCommandOptions, runKeygen } from './commands/keygen.js';
import { type KeysAddCommandOptions, runKeysAdd, runKeysList, runKeysRemove } from './commands/keys.js';
import { runNew } from './commands/new.js';
import { type PackCommandOptions, runPack } from './commands/pack.js';
import { runPlan } from './commands/plan.js';
import { type PublishCommandOptions, runPublish } from './commands/publish.js';
import { runSearch, type SearchCommandOptions } from './commands/search.js';
import { runStatus } from './commands/status.js';
import { runUp, type UpCommandOptions } from './commands/up.js';
import { runValidate } from './commands/validate.js';
import { type PackageFileOptions, runVerify } from './commands/verify.js';
import { runYank, type YankCommandOptions } from './commands/yank.js';
import type { CommandContext, GlobalOptions } from './context.js';
import { MIGRATION_FORMATS } from './templates.js';

/**
 * Runs one command's action. `main` supplies it: it turns the parsed options into a
 * `CommandContext`, runs the action and keeps the exit code, so the commands know nothing of
 * commander and the program knows nothing of output.
 */
export type ActionRunner = (
  command: Command,
  action: (ctx: CommandContext) => Promise<number>,
) => Promise<void>;

function nonNegativeNumber(what: string) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || n < 0) {
      throw new InvalidArgumentError(`${what} must be a number of seconds (0 or more).`);
    }
    return n;
  };
}

function nonNegativeInteger(what: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n)) {
      throw new InvalidArgumentError(`${what} must be a whole number, 0 or more.`);
    }
    return n;
  };
}

/** `--registry URL` of every command that talks to the registry (a new Option per command). */
function registryOption(): Option {
  return new Option('--registry <url>', 'the registry (env CMPKG_REGISTRY; config "registry")');
}

function positiveInteger(what: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < 1) {
      throw new InvalidArgumentError(`${what} must be a whole number, 1 or more.`);
    }
    return n;
  };
}

/** `a,b, c` → `['a', 'b', 'c']`; an empty name (`a,,b`, `''`) is a usage error naming the option. */
function nameList(what: string) {
  return (value: string, previous: string[] | undefined): string[] => {
    const names = value.split(',').map((n) => n.trim());
    if (names.some((n) => n === '')) {
      throw new InvalidArgumentError(`${what} takes names separated by commas (got "${value}").`);
    }
    // Repeating the option adds to the list.
    return [...(previous ?? []), ...names];
  };
}

const EXIT_CODES_HELP = `
Exit codes:
  0  success (including "nothing to do")
  1  the operation failed (a migration failed, the database or the registry is unreachable)
  2  bad input or usage (the message names the file and the field or line; an unknown plugin,
     version or range in the registry)
  3  refused for safety (drift, lock timeout, rollback without --force, backup impossible,
     a copy into a non-empty table, an untrusted or altered package signature, a downgrade
     without --allow-downgrade, a registry refusal (token, owner, key, version exists), a
     download that does not match its integrity)

Settings: flags > DATABASE_URL > cmpkg.config.json > defaults. NO_COLOR turns colour off.
Registry: --registry URL > CMPKG_REGISTRY > "registry" in cmpkg.config.json; the token for
publish, deprecate, yank, keys add/remove and dist-tag comes only from CMPKG_TOKEN;
CMPKG_REGISTRY_TIMEOUT sets the request timeout in milliseconds (default 30000).`;

/**
 * Builds the `cmpkg` command tree. Commander never exits the process or prints errors itself:
 * `exitOverride` turns its errors into exceptions that `main` maps to exit codes, and its error
 * printer is silenced so every error comes out in the one `error[E_CODE]: ...` format.
 *
 * @example
 * const program = buildProgram(io, runner);
 * await program.parseAsync(['status', '--json'], { from: 'user' });
 */
export function buildProgram(
  io: { stdout: { write(s: string): unknown }; stderr: { write(s: string): unknown } },
  run: ActionRunner,
): Command {
  const program = new Command('cmpkg');
  program
    .description('Plan, apply, roll back and inspect portable database migrations.')
    .version(pkg.version, '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
      outputError: () => {},
    })
    .showSuggestionAfterError(true)
    .option('--db <url>', 'database URL (env DATABASE_URL; default sqlite:./cmpkg.db)')
    .option('--dir <dir>', 'migrations directory (default ./migrations)')
    .option('--plugin <id>', 'plugin id (default: config plugin.id, else "default")')
    .option('--config <file>', 'config file (default ./cmpkg.config.json if present)')
    .option('--json', 'print one JSON document on stdout, nothing else there')
    .option('--yes', 'do not ask for confirmation')
    .option(
      '--lock-timeout <seconds>',
      'wait this long for the migration lock (default 60)',
      nonNegativeNumber('--lock-timeout'),
    )
    .option('--user <name>', 'recorded as applied_by (default: the OS user)')
    .option('--verbose', 'print stack traces of unexpected errors')
    .addHelpText('after', EXIT_CODES_HELP);
  letCommandsOwnVersionOption(program, ['pack']);

  program
    .command('init')
    .description('write cmpkg.config.json and create the migrations directory')
    .option('--force', 'overwrite an existing config file')
    .action(async (opts: { force?: boolean }, cmd: Command) => run(cmd, (ctx) => runInit(ctx, opts)));

  program
    .command('new')
    .description('create the next numbered migration file from a template')
    .argument('<name...>', 'what the migration does, e.g. add_tags')
    .addOption(new Option('--format <format>', 'file format').choices(MIGRATION_FORMATS).default('sql'))
    .action(async (name: string[], opts: { format: (typeof MIGRATION_FORMATS)[number] }, cmd: Command) =>
      run(cmd, (ctx) => runNew(ctx, name.join(' '), opts)),
    );

  program
    .command('status')
    .description('every migration and its state: applied, pending, partial, failed, skipped, missing')
    .action(async (_opts: object, cmd: Command) => run(cmd, (ctx) => runStatus(ctx)));

  program
    .command('plan')
    .description('what `up` would do: order, risk, duration, backup, lint findings and the SQL')
    .option('--to <target>', 'latest, a version, a semver range or a migration id (default latest)')
    .option('--allow-out-of-order', 'allow pending migrations ordered before applied ones')
    .action(async (opts: { to?: string }, cmd: Command) => run(cmd, (ctx) => runPlan(ctx, opts)));

  program
    .command('up')
    .description('apply pending migrations')
    .option('--to <target>', 'latest, a version, a semver range or a migration id (default latest)')
    .option('--dry-run', 'print the plan and the exact SQL; change nothing')
    .option('--allow-out-of-order', 'allow pending migrations ordered before applied ones')
    .option('--repair', 'record the current checksum of drifted applied migrations instead of refusing')
    .option('--continue-on-error', 'go on with the next migration after one fails')
    .option('--skip-backup', 'do not back up even when the plan requires it')
    .option('--reason <text>', 'recorded in the history')
    .action(async (opts: UpCommandOptions, cmd: Command) => run(cmd, (ctx) => runUp(ctx, opts)));

  program
    .command('down')
    .description('roll back applied migrations (default: the last one)')
    .addOption(
      new Option('--steps <n>', 'roll back this many migrations')
        .argParser(positiveInteger('--steps'))
        .conflicts(['to', 'all']),
    )
    .addOption(
      new Option('--to <target>', 'roll back every migration after this version or id').conflicts('all'),
    )
    .option('--all', 'roll back every applied migration')
    .option('--force', 'also roll back migrations without down steps or marked rollbackSupported: false')
    .option('--dry-run', 'print the plan and the exact SQL; change nothing')
    .option('--reason <text>', 'recorded in the history')
    .action(async (opts: DownCommandOptions, cmd: Command) => run(cmd, (ctx) => runDown(ctx, opts)));

  program
    .command('validate')
    .description('parse every file, check dependencies and checksums against the database')
    .action(async (_opts: object, cmd: Command) => run(cmd, (ctx) => runValidate(ctx)));

  program
    .command('history')
    .description('past runs and the applied migrations')
    .option('--limit <n>', 'most recent runs to show', positiveInteger('--limit'))
    .action(async (opts: { limit?: number }, cmd: Command) => run(cmd, (ctx) => runHistory(ctx, opts)));

  program
    .command('introspect')
    .description('the database schema: tables, columns, keys, indexes, views, triggers, routines, sizes')
    .option('--table <name...>', 'only these tables (repeatable)')
    .option('--exact-counts', 'count rows with count(*) instead of reading statistics')
    .option('--include-history', "include cmpkg's own history tables")
    .option('--sql', 'print only the CREATE statements')
    .action(async (opts: IntrospectCommandOptions, cmd: Command) =>
      run(cmd, (ctx) => runIntrospect(ctx, opts)),
    );

  program
    .command('copy')
    .description('copy tables, rows, indexes and foreign keys to another database, and verify them')
    .requiredOption('--from <url>', 'source database URL (opened read-only)')
    .requiredOption('--to <url>', 'target database URL')
    .option('--tables <names>', 'only these tables, comma-separated (default: all)', nameList('--tables'))
    .option('--map <file>', 'mapping file: renames, left-out columns, field mappings')
    .option(
      '--batch-size <n>',
      'rows per batch and per commit (default 5000)',
      positiveInteger('--batch-size'),
    )
    .option('--replace', 'drop existing target tables first instead of refusing non-empty ones')
    .option('--no-verify', 'skip the row-count and checksum comparison')
    .option(
      '--no-history',
      "leave cmpkg's migration history tables behind (copied by default without --tables)",
    )
    .addHelpText('after', COPY_HELP)
    .action(async (opts: CopyCommandOptions, cmd: Command) => run(cmd, (ctx) => runCopy(ctx, opts)));

  program
    .command('export')
    .description('write tables as NDJSON (one JSON object per row) to a directory, a file or stdout')
    .requiredOption('--tables <names>', 'tables to export, comma-separated', nameList('--tables'))
    .requiredOption('--out <path>', 'a directory, a .ndjson file (one table) or - for stdout (one table)')
    .option('--date-column <column>', 'the column --since and --until filter on')
    .option('--since <date>', 'only rows with date-column >= this date or timestamp')
    .option('--until <date>', 'only rows with date-column < this date or timestamp')
    .option('--where <sql>', 'only rows matching this SQL condition')
    .option('--batch-size <n>', 'rows read per batch', positiveInteger('--batch-size'))
    .action(async (opts: ExportCommandOptions, cmd: Command) => run(cmd, (ctx) => runExport(ctx, opts)));

  program
    .command('import')
    .description('load NDJSON files (an export directory or one .ndjson file) into existing tables')
    .argument('<input>', 'an export directory or a .ndjson file')
    .option('--table <name>', 'target table of a single file (default: the file name)')
    .addOption(new Option('--mode <mode>', 'insert, merge (upsert by key) or replace').choices(IMPORT_MODES))
    .option('--batch-size <n>', 'rows written per batch', positiveInteger('--batch-size'))
    .option('--skip-errors', 'write the good rows and set the bad ones aside instead of importing nothing')
    .option('--reject-file <file>', 'with --skip-errors: write the bad rows here as NDJSON')
    .option('--validate', 'check every row against the tables and report; write nothing')
    .action(async (input: string, opts: ImportCommandOptions, cmd: Command) =>
      run(cmd, (ctx) => runImport(ctx, input, opts)),
    );

  program
    .command('keygen')
    .description('create a publisher key pair: <base>.key (secret, mode 0600) and <base>.pub (minisign)')
    .option('--out <base>', 'write <base>.key and <base>.pub (default ./cmpkg)')
    .option('--encrypt', 'encrypt the secret key with a passphrase (env CMPKG_KEY_PASSPHRASE, or typed)')
    .option('--force', 'replace existing key files')
    .option(
      '--rotate-from <old.key>',
      'also write <base>.rotation.json: the old key hands the plugin (--plugin or config) to the new one',
    )
    .addHelpText('after', KEYGEN_HELP)
    .action(async (opts: KeygenCommandOptions, cmd: Command) => run(cmd, (ctx) => runKeygen(ctx, opts)));

  program
    .command('pack')
    .description("build the configured plugin's signed, reproducible .cmpkg package")
    .requiredOption('--key <file>', 'the secret key file that signs it (cmpkg keygen)')
    .option('--version <version>', 'pack as this version: its migrations up to it (default: plugin.version)')
    .addOption(
      new Option('--out <file>', 'the package file (default <id>-<version>.cmpkg)').conflicts('outDir'),
    )
    .option('--out-dir <dir>', 'where <id>-<version>.cmpkg goes (default: the working directory)')
    .option('--with-data', 'include the rows of --tables, exported from --db')
    .option('--tables <names>', 'with --with-data: the tables, comma-separated', nameList('--tables'))
    .option('--readme <file>', 'include this README.md')
    .option(
      '--requires <id@range>',
      'a plugin that must be installed first, e.g. auth@^2.0.0 (repeatable)',
      (value: string, previous: string[] | undefined) => [...(previous ?? []), value],
    )
    .option('--rotation <file>', 'include this rotation statement (keygen --rotate-from) as rotation.json')
    .addHelpText('after', PACK_HELP)
    .action(async (opts: PackCommandOptions, cmd: Command) => run(cmd, (ctx) => runPack(ctx, opts)));

  program
    .command('verify')
    .description("check a package's signature and every file in it")
    .argument('<file>', 'the .cmpkg package')
    .option('--pubkey <file>', "the publisher's public key (.pub): the package must be signed by it")
    .action(async (file: string, opts: PackageFileOptions, cmd: Command) =>
      run(cmd, (ctx) => runVerify(ctx, file, opts)),
    );

  program
    .command('inspect')
    .description('verify a package and show what is in it: migrations, risk, data, files, signer')
    .argument('<file>', 'the .cmpkg package')
    .option('--pubkey <file>', "the publisher's public key (.pub) to check the signer against")
    .action(async (file: string, opts: PackageFileOptions, cmd: Command) =>
      run(cmd, (ctx) => runInspect(ctx, file, opts)),
    );

  program
    .command('install')
    .description(
      'install or upgrade a plugin from a signed package or the registry into --db; all or nothing',
    )
    .argument('<package>', 'a .cmpkg file, or NAME[@VERSION|@RANGE|@TAG] from the registry')
    .addOption(registryOption())
    .option('--trust-key <file>', "the publisher's public key: pinned on a first install, checked after")
    .option('--rotation <file>', 'rotation statements accepting a new signing key (keygen --rotate-from)')
    .option('--allow-downgrade', 'install an older version: the newer migrations are rolled back')
    .option('--import-data', "import the package's data on an upgrade too (a first install always does)")
    .option('--skip-backup', 'do not back up even when a migration requires it')
    .option('--dry-run', 'verify, check and print the plan; change nothing')
    .option('--reason <text>', 'recorded in the history')
    .addHelpText('after', INSTALL_HELP)
    .action(async (file: string, opts: InstallCommandOptions, cmd: Command) =>
      run(cmd, (ctx) => runInstall(ctx, file, opts)),
    );

  program
    .command('publish')
    .description('verify a signed package here, then upload it to the registry (token: CMPKG_TOKEN)')
    .argument('<file>', 'the .cmpkg package')
    .addOption(registryOption())
    .option('--tag <tag>', 'the dist-tag it gets (default latest)')
    .addHelpText('after', PUBLISH_HELP)
    .action(async (file: string, opts: PublishCommandOptions, cmd: Command) =>
      run(cmd, (ctx) => runPublish(ctx, file, opts)),
    );

  program
    .command('search')
    .description('find plugins in the registry by id, name or description (all of them without TEXT)')
    .argument('[text]', 'what to look for')
    .addOption(registryOption())
    .option('--size <n>', 'results to show, 1-250 (default 20)', positiveInteger('--size'))
    .option('--from <n>', 'results to skip (default 0)', nonNegativeInteger('--from'))
    .action(async (text: string | undefined, opts: SearchCommandOptions, cmd: Command) =>
      run(cmd, (ctx) => runSearch(ctx, text, opts)),
    );

  program
    .command('info')
    .description(
      "a plugin in the registry: owner, dist-tags, versions, and one version's migrations and dist",
    )
    .argument('<name>', 'NAME, or NAME@VERSION|@RANGE|@TAG (default: the latest tag)')
    .addOption(registryOption())
    .action(async (name: string, _opts: object, cmd: Command) => run(cmd, (ctx) => runInfo(ctx, name)));

  program
    .command('deprecate')
    .description('mark published versions deprecated with a message; no message takes the mark off')
    .argument('<name@range>', 'the plugin and the versions, e.g. sample@<1.1.0')
    .argument('[message]', 'why, and what to use instead (empty: un-deprecate)')
    .addOption(registryOption())
    .action(async (spec: string, message: string | undefined, _opts: object, cmd: Command) =>
      run(cmd, (ctx) => runDeprecate(ctx, spec, message)),
    );

  program
    .command('yank')
    .description('withdraw a published version from ranges and tags (still installable by exact version)')
    .argument('<name@version>', 'e.g. sample@1.0.0')
    .addOption(registryOption())
    .option('--undo', 'restore a yanked version')
    .action(async (spec: string, opts: YankCommandOptions, cmd: Command) =>
      run(cmd, (ctx) => runYank(ctx, spec, opts)),
    );

  const keys = program
    .command('keys')
    .description('the signing keys the registry accepts for a plugin')
    .helpCommand(false);
  keys
    .command('list')
    .description('list the registered keys of a plugin')
    .argument('<name>', 'the plugin')
    .addOption(registryOption())
    .action(async (name: string, _opts: object, cmd: Command) => run(cmd, (ctx) => runKeysList(ctx, name)));
  keys
    .command('add')
    .description('register another signing key for a plugin (owner)')
    .argument('<name>', 'the plugin')
    .requiredOption('--pubkey <file>', 'the public key file (cmpkg keygen .pub)')
    .addOption(registryOption())
    .action(async (name: string, opts: KeysAddCommandOptions, cmd: Command) =>
      run(cmd, (ctx) => runKeysAdd(ctx, name, opts)),
    );
  keys
    .command('remove')
    .description('stop accepting packages signed by a key (owner; not the last key)')
    .argument('<name>', 'the plugin')
    .argument('<keyid>', 'the key id (cmpkg keys list)')
    .addOption(registryOption())
    .action(async (name: string, keyId: string, _opts: object, cmd: Command) =>
      run(cmd, (ctx) => runKeysRemove(ctx, name, keyId)),
    );

  const distTag = program
    .command('dist-tag')
    .description("point a plugin's dist-tags (latest, next, …) at published versions")
    .helpCommand(false);
  distTag
    .command('add')
    .description('point TAG at a published version (owner)')
    .argument('<name@version>', 'e.g. sample@2.0.0-beta.1')
    .argument('<tag>', 'e.g. next')
    .addOption(registryOption())
    .action(async (spec: string, tag: string, _opts: object, cmd: Command) =>
      run(cmd, (ctx) => runDistTagAdd(ctx, spec, tag)),
    );
  distTag
    .command('rm')
    .description('remove a dist-tag (owner; not latest)')
    .argument('<name>', 'the plugin')
    .argument('<tag>', 'the tag')
    .addOption(registryOption())
    .action(async (name: string, tag: string, _opts: object, cmd: Command) =>
      run(cmd, (ctx) => runDistTagRm(ctx, name, tag)),
    );

  return program;
}

const PUBLISH_HELP = `
Examples:
  CMPKG_TOKEN=cmpkg_... cmpkg publish sample-1.1.0.cmpkg --registry http://127.0.0.1:4880
  CMPKG_TOKEN=cmpkg_... cmpkg publish sample-2.0.0-beta.1.cmpkg --tag next

The archive is verified here first; a damaged one exits 2 and is never sent. The first publish of
a plugin makes the token's user its owner and registers the signing key; later versions must be
signed by a registered key (or carry a rotation statement from one). A published version is never
replaced (exit 3). The token comes only from CMPKG_TOKEN (a flag would show up in ps).
Exit codes: 0 published, 1 registry unreachable or failing, 2 bad input (archive, tag, no token,
no registry), 3 refused (token, owner, key, version exists).`;

const KEYGEN_HELP = `
Examples:
  cmpkg keygen --out keys/publisher
  CMPKG_KEY_PASSPHRASE=... cmpkg keygen --out keys/publisher --encrypt
  cmpkg keygen --out keys/publisher-2025 --rotate-from keys/publisher.key --plugin sample

--encrypt takes the passphrase from CMPKG_KEY_PASSPHRASE, else asks twice on a terminal; without
either it exits 2. An encrypted --rotate-from key uses CMPKG_OLD_KEY_PASSPHRASE (else
CMPKG_KEY_PASSPHRASE, else a prompt). Existing files are refused (exit 2) unless --force.`;

const PACK_HELP = `
Examples:
  cmpkg pack --key keys/publisher.key --version 1.0.0 --out-dir dist
  cmpkg pack --key keys/publisher.key --with-data --tables categories --db sqlite:./seed.db
  cmpkg pack --key keys/publisher.key --requires auth@^2.0.0 --readme README.md

Packs the plugin of cmpkg.config.json (--config). The same inputs give the same bytes. An encrypted
key takes CMPKG_KEY_PASSPHRASE, else a prompt on a terminal. Code-valued (TypeScript) steps cannot
be packed (exit 2).`;

const INSTALL_HELP = `
Examples:
  cmpkg install sample-1.0.0.cmpkg --trust-key publisher.pub --db sqlite:./app.db
  cmpkg install sample-2.0.0.cmpkg --db postgres://app@localhost/app --dry-run
  cmpkg install sample-1.0.0.cmpkg --allow-downgrade --yes
  cmpkg install sample@^1 --registry http://127.0.0.1:4880 --db sqlite:./app.db
  cmpkg install 'sample@>=1 <2' --dry-run          # CMPKG_REGISTRY=http://127.0.0.1:4880

An argument that is not an existing file (and does not end in .cmpkg) is NAME[@SPEC] from the
registry (SPEC: a version, a dist-tag or a semver range; default latest). The registry resolves it,
the archive is downloaded into a temporary directory (TMPDIR) and must match the integrity and the
signer the registry published (else exit 3), then it is installed like a file.

The first install pins the signer's key (or --trust-key); later packages must be signed by it, or
carry a rotation statement signed by it (--rotation). Everything is verified before the database is
touched, and any failure puts the database back as it was.
Exit codes: 0 installed (or already installed), 1 the install failed (the database was restored),
2 a damaged package or bad input, 3 refused (untrusted key, altered signature, downgrade, requires).`;

const COPY_HELP = `
Examples:
  cmpkg copy --from sqlite:./app.db --to postgres://app@localhost:5432/app
  cmpkg copy --from postgres://app@old/app --to mysql://root@new/app --tables users,orders --map mapping.json

An interrupted copy resumes when it is run again with the same arguments. Without --tables, cmpkg's
migration history comes along (--no-history leaves it), so 'cmpkg status' on the target shows what was applied.
Exit codes: 0 copied and verified, 1 verification failed, 2 bad mapping or data, 3 a target table is not empty.`;

/**
 * `cmpkg pack --version 1.0.0` must reach `pack`: commander lets the program claim its own options
 * anywhere on the line, so the program's `--version` would print cmpkg's version instead. For the
 * named commands, a `--version` after the command name is taken out of what the program parses and
 * handed to the command with the rest of its options; before the command name (and for every other
 * command) `--version` is still the program's.
 */
function letCommandsOwnVersionOption(program: Command, commands: readonly string[]): void {
  const parseOptions = program.parseOptions.bind(program);
  program.parseOptions = (argv: string[]) => {
    const at = commandIndex(program, argv);
    if (at < 0 || !commands.includes(argv[at] ?? '')) return parseOptions(argv);
    const kept = argv.slice(0, at + 1);
    const moved: string[] = [];
    for (let i = at + 1; i < argv.length; i++) {
      const arg = argv[i] ?? '';
      if (arg === '--') {
        kept.push(...argv.slice(i));
        break;
      }
      if (arg === '--version') {
        moved.push(arg);
        const value = argv[i + 1];
        if (value !== undefined && !value.startsWith('-')) moved.push(argv[++i] ?? '');
      } else if (arg.startsWith('--version=')) moved.push(arg);
      else kept.push(arg);
    }
    const parsed = parseOptions(kept);
    // The command parses `unknown`; its options keep their relative order there.
    return { operands: parsed.operands, unknown: [...parsed.unknown, ...moved] };
  };
}

/** Where the command name is in `argv`: the first argument that is neither a program option nor its value. */
function commandIndex(program: Command, argv: readonly string[]): number {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--') return -1;
    if (!arg.startsWith('-')) return i;
    const option = program.options.find((o) => o.long === arg || o.short === arg);
    if (option?.required || (option?.optional && !(argv[i + 1] ?? '-').startsWith('-'))) i++;
  }
  return -1;
}

/** The global options out of a command's merged options, typed. */
export function globalOptionsOf(command: Command): GlobalOptions {
  const o = command.optsWithGlobals<GlobalOptions & { allowOutOfOrder?: boolean; registry?: string }>();
  const flags: GlobalOptions = {};
  if (o.db !== undefined) flags.db = o.db;
  if (o.dir !== undefined) flags.dir = o.dir;
  if (o.plugin !== undefined) flags.plugin = o.plugin;
  if (o.config !== undefined) flags.config = o.config;
  if (o.json) flags.json = true;
  if (o.yes) flags.yes = true;
  if (o.lockTimeout !== undefined) flags.lockTimeout = o.lockTimeout;
  if (o.user !== undefined) flags.user = o.user;
  if (o.verbose) flags.verbose = true;
  if (o.allowOutOfOrder) flags.allowOutOfOrder = true;
  if (o.registry !== undefined) flags.registry = o.registry;
  return flags;
}
