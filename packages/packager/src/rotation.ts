import { canonicalJson, PackageError, UsageError } from '@cmpkg/core';
import nacl from 'tweetnacl';
import {
  decodeBase64Strict,
  encodeBase64,
  type KeyPair,
  type PublicKey,
  parsePublicKey,
  samePublicKey,
} from './keys.js';

/**
 * "Plugin `plugin`'s publisher key moves from `from` to `to`", signed by the old key. A host that pinned
 * `from` accepts packages signed by `to` when shown this statement (or a chain of them).
 *
 * @example
 * const statement: RotationStatement = createRotation({ pluginId: 'sample', from: oldKey, to: newKey });
 * writeFileSync('rotation.json', `${JSON.stringify([statement], null, 2)}\n`);
 */
export interface RotationStatement {
  format: 'cmpkg-rotation/1';
  /** Plugin id. */
  plugin: string;
  /** `PublicKey.encoded` of the old key. */
  from: string;
  /** `PublicKey.encoded` of the new key. */
  to: string;
  /** ISO 8601 time the statement was made. */
  createdAt: string;
  /** Base64 ed25519 detached signature by `from` over canonicalJson({format, plugin, from, to, createdAt}). */
  signature: string;
}

/** Format tag of rotation statements. */
export const ROTATION_FORMAT = 'cmpkg-rotation/1';

const STATEMENT_FIELDS = ['format', 'plugin', 'from', 'to', 'createdAt', 'signature'] as const;

/** The exact bytes a statement's signature covers. */
function signedBytes(statement: Omit<RotationStatement, 'signature'>): Uint8Array {
  const { format, plugin, from, to, createdAt } = statement;
  return new Uint8Array(Buffer.from(canonicalJson({ format, plugin, from, to, createdAt }), 'utf8'));
}

function isIsoTime(text: string): boolean {
  return (
    /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(text) &&
    !Number.isNaN(Date.parse(text))
  );
}

/**
 * Makes a rotation statement for `pluginId`, signed by the old key `from`, naming `to` as its successor.
 *
 * @example
 * const statement = createRotation({ pluginId: 'sample', from: await readSecretKey('old.key'), to: await readPublicKey('new.pub') });
 */
export function createRotation(options: {
  pluginId: string;
  from: KeyPair;
  to: PublicKey;
  createdAt?: string;
}): RotationStatement {
  const { pluginId, from, to } = options;
  if (pluginId === '') throw new UsageError('a rotation statement needs a plugin id');
  if (samePublicKey(from, to)) {
    throw new UsageError(`a rotation statement must move to a different key (both are ${from.keyId})`);
  }
  const createdAt = options.createdAt ?? new Date().toISOString();
  if (!isIsoTime(createdAt)) throw new UsageError(`createdAt "${createdAt}" is not an ISO 8601 time`);
  const body = {
    format: ROTATION_FORMAT,
    plugin: pluginId,
    from: from.encoded,
    to: to.encoded,
    createdAt,
  } as const;
  return { ...body, signature: encodeBase64(nacl.sign.detached(signedBytes(body), from.secretKey)) };
}

function rotationError(
  source: string | undefined,
  where: string,
  message: string,
  cause?: unknown,
): PackageError {
  const location = [source, where].filter((part) => part).join(': ');
  return new PackageError('E_ROTATION_INVALID', location ? `${location}: ${message}` : message, {
    details: { ...(source ? { file: source } : {}), ...(where ? { field: where } : {}) },
    ...(cause === undefined ? {} : { cause }),
  });
}

function parseStatement(value: unknown, where: string, source: string | undefined): RotationStatement {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw rotationError(source, where, 'a rotation statement must be an object');
  }
  const record = value as Record<string, unknown>;
  // The signature covers only the known fields, so any other field would be unsigned text: refuse it.
  const unknown = Object.keys(record).find(
    (field) => !(STATEMENT_FIELDS as readonly string[]).includes(field),
  );
  if (unknown !== undefined) throw rotationError(source, `${where}${unknown}`, 'unknown field');
  for (const field of STATEMENT_FIELDS) {
    if (typeof record[field] !== 'string' || record[field] === '') {
      throw rotationError(source, `${where}${field}`, 'missing or not a non-empty string');
    }
  }
  const statement = record as unknown as RotationStatement;
  if (statement.format !== ROTATION_FORMAT) {
    throw rotationError(source, `${where}format`, `expected "${ROTATION_FORMAT}", got "${statement.format}"`);
  }
  const keys: PublicKey[] = [];
  for (const field of ['from', 'to'] as const) {
    try {
      keys.push(parsePublicKey(statement[field]));
    } catch (cause) {
      const message = cause instanceof Error ? cause.message.replace(/^line \d+: /, '') : String(cause);
      throw rotationError(source, `${where}${field}`, message, cause);
    }
  }
  if (samePublicKey(keys[0]!, keys[1]!)) {
    throw rotationError(source, `${where}to`, 'rotates to the same key it rotates from');
  }
  if (!isIsoTime(statement.createdAt)) {
    throw rotationError(source, `${where}createdAt`, `"${statement.createdAt}" is not an ISO 8601 time`);
  }
  const signature = decodeBase64Strict(statement.signature);
  if (signature === undefined || signature.length !== nacl.sign.signatureLength) {
    throw rotationError(source, `${where}signature`, 'not a base64 64-byte ed25519 signature');
  }
  return {
    format: ROTATION_FORMAT,
    plugin: statement.plugin,
    from: statement.from,
    to: statement.to,
    createdAt: statement.createdAt,
    signature: statement.signature,
  };
}

/**
 * Parses rotation statements: one JSON statement, or an array of them (a chain). Checks their shape
 * only; {@link verifyKeyChange} checks signatures. `E_ROTATION_INVALID` naming the file and field.
 *
 * @example
 * const statements = parseRotations(readFileSync('rotation.json', 'utf8'), 'rotation.json');
 */
export function parseRotations(text: string, source?: string): RotationStatement[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw rotationError(source, '', `not valid JSON (${reason})`, cause);
  }
  if (Array.isArray(value)) return value.map((item, index) => parseStatement(item, `[${index}].`, source));
  return [parseStatement(value, '', source)];
}

/** Statement checked for this plugin and signed by its `from` key. */
interface CheckedStatement {
  statement: RotationStatement;
  index: number;
  from: PublicKey;
  to: PublicKey;
}

function checkStatement(statement: RotationStatement, index: number, pluginId: string): CheckedStatement {
  const where = `rotation statement [${index}]`;
  let from: PublicKey;
  let to: PublicKey;
  try {
    from = parsePublicKey(statement.from);
    to = parsePublicKey(statement.to);
  } catch (cause) {
    throw new PackageError('E_ROTATION_INVALID', `${where}: malformed key: ${(cause as Error).message}`, {
      details: { index },
      cause,
    });
  }
  if (statement.format !== ROTATION_FORMAT) {
    throw new PackageError('E_ROTATION_INVALID', `${where}: format is not "${ROTATION_FORMAT}"`, {
      details: { index },
    });
  }
  if (samePublicKey(from, to)) {
    throw new PackageError('E_ROTATION_INVALID', `${where}: rotates key ${from.keyId} to itself`, {
      details: { index },
    });
  }
  if (statement.plugin !== pluginId) {
    throw new PackageError(
      'E_ROTATION_INVALID',
      `${where} is for plugin "${statement.plugin}", not "${pluginId}" (key ${from.keyId} → ${to.keyId})`,
      { details: { index, plugin: statement.plugin, expectedPlugin: pluginId } },
    );
  }
  const signature = decodeBase64Strict(statement.signature);
  if (
    signature === undefined ||
    signature.length !== nacl.sign.signatureLength ||
    !nacl.sign.detached.verify(signedBytes(statement), signature, from.publicKey)
  ) {
    throw new PackageError(
      'E_ROTATION_INVALID',
      `${where} (key ${from.keyId} → ${to.keyId}) is not signed by the key it rotates from (${from.keyId}); it was forged or altered`,
      { details: { index, from: from.keyId, to: to.keyId } },
    );
  }
  return { statement, index, from, to };
}

function keyHex(key: PublicKey): string {
  return Buffer.from(key.publicKey).toString('hex');
}

/**
 * Decides whether `signer` may sign packages of `pluginId` on a host that pinned `pinned`: yes when it
 * is the pinned key (returns `[]`), or when validly signed statements for this plugin chain
 * pinned → … → signer (returns that chain, in order). Every statement must be for `pluginId` and
 * signed by its `from` key, else `E_ROTATION_INVALID`; statements that chain from the pinned key but
 * never reach the signer (including cycles) are `E_ROTATION_INVALID` too; no statement from the
 * pinned key at all is `E_UNTRUSTED_KEY`, with both key ids and how to rotate.
 *
 * @example
 * const chain = verifyKeyChange({ pluginId: 'sample', pinned, signer: pkg.signer, statements: pkg.rotation });
 * if (chain.length > 0) await pinKey('sample', pkg.signer); // rotated
 */
export function verifyKeyChange(options: {
  pluginId: string;
  pinned: PublicKey;
  signer: PublicKey;
  statements: readonly RotationStatement[];
}): RotationStatement[] {
  const { pluginId, pinned, signer } = options;
  if (samePublicKey(pinned, signer)) return [];
  const checked = options.statements.map((statement, index) => checkStatement(statement, index, pluginId));

  // Breadth-first from the pinned key: the shortest chain wins, and each key is visited once, so a
  // cycle of statements (A → B → A) ends the walk instead of looping.
  const previous = new Map<string, CheckedStatement | null>([[keyHex(pinned), null]]);
  let frontier: PublicKey[] = [pinned];
  let cycle: CheckedStatement | undefined;
  while (frontier.length > 0) {
    const next: PublicKey[] = [];
    for (const key of frontier) {
      for (const step of checked) {
        if (!samePublicKey(step.from, key)) continue;
        const target = keyHex(step.to);
        if (previous.has(target)) {
          cycle ??= step;
          continue;
        }
        previous.set(target, step);
        if (samePublicKey(step.to, signer)) {
          const chain: RotationStatement[] = [];
          for (
            let link: CheckedStatement | null | undefined = step;
            link;
            link = previous.get(keyHex(link.from))
          ) {
            chain.unshift(link.statement);
          }
          return chain;
        }
        next.push(step.to);
      }
    }
    frontier = next;
  }

  const fromPinned = checked.filter((step) => samePublicKey(step.from, pinned));
  if (fromPinned.length === 0) {
    throw new PackageError(
      'E_UNTRUSTED_KEY',
      `plugin "${pluginId}" is pinned to key ${pinned.keyId}, but this package is signed by key ${signer.keyId}, ` +
        `and no rotation statement signed by key ${pinned.keyId} moves it on` +
        (checked.length > 0
          ? ` (the ${checked.length} statement(s) given start from key(s) ${[...new Set(checked.map((s) => s.from.keyId))].join(', ')}). `
          : '. ') +
        `To rotate keys, the holder of key ${pinned.keyId} signs a rotation statement naming key ${signer.keyId} ` +
        `(createRotation in @cmpkg/packager) and ships it in the package as rotation.json or passes it with --rotation FILE.`,
      { details: { pluginId, pinnedKeyId: pinned.keyId, signerKeyId: signer.keyId } },
    );
  }
  const reached = checked
    .filter((step) => previous.get(keyHex(step.to)) === step)
    .map((step) => step.to.keyId);
  const stranded = checked.find((step) => !previous.has(keyHex(step.from)));
  // Name the most telling reason: a gap in the chain, else a loop, else where it stops.
  const why = stranded
    ? `rotation statement [${stranded.index}] is signed by key ${stranded.from.keyId}, which is not in the chain`
    : cycle
      ? `the statements loop back (key ${cycle.from.keyId} → ${cycle.to.keyId} returns to a key already in the chain)`
      : `the chain ends at key ${reached.at(-1) ?? pinned.keyId}`;
  throw new PackageError(
    'E_ROTATION_INVALID',
    `plugin "${pluginId}": the rotation statements from pinned key ${pinned.keyId} ` +
      `(reaching ${reached.length > 0 ? reached.join(', ') : 'no other key'}) never reach the signing key ${signer.keyId}: ${why}`,
    {
      details: {
        pluginId,
        pinnedKeyId: pinned.keyId,
        signerKeyId: signer.keyId,
        reachedKeyIds: reached,
        ...(stranded ? { strandedIndex: stranded.index } : {}),
      },
    },
  );
}
