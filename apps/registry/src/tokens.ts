import { randomBytes } from 'node:crypto';
import { RegistryError, sha256Hex } from '@cmpkg/core';
import type { RegistryStore } from './registry-store.js';

/** Prefix of every token, so a leaked one is recognisable (secret scanners, logs). */
export const TOKEN_PREFIX = 'cmpkg_';
const TOKEN_PATTERN = /^cmpkg_[A-Za-z0-9_-]{43}$/;
const TOKEN_ID_PATTERN = /^tok_[0-9a-f]{16}$/;
/** User names: what `--user` and `POST /-/tokens` accept. */
export const USER_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$/;

/**
 * What the registry shows of a token (never the token itself, which it does not keep).
 *
 * @example
 * const info: TokenInfo = (await store.listTokens())[0];
 * console.log(info.id, info.user, info.revokedAt ?? 'active');
 */
export interface TokenInfo {
  id: string;
  user: string;
  admin: boolean;
  note: string | null;
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

/**
 * A fresh token and its id: `cmpkg_` + 43 base64url characters (32 random bytes) and `tok_` + 16 hex.
 *
 * @example
 * const { id, token } = generateToken(); // tok_3f2a…, cmpkg_Qm9…
 */
export function generateToken(): { id: string; token: string; hash: string } {
  const token = `${TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
  return { id: `tok_${randomBytes(8).toString('hex')}`, token, hash: hashToken(token) };
}

/**
 * The stored form of a token: sha256 hex. Tokens are 256-bit random, so a plain (unsalted, fast)
 * hash is enough: there is nothing to guess from it.
 *
 * @example
 * hashToken('cmpkg_…'); // '9f86d08…' (64 hex)
 */
export function hashToken(token: string): string {
  return sha256Hex(token);
}

/**
 * Whether `text` has the shape of a token (checked before any database lookup).
 *
 * @example
 * isTokenShaped('cmpkg_' + 'A'.repeat(43)); // true
 */
export function isTokenShaped(text: string): boolean {
  return TOKEN_PATTERN.test(text);
}

/**
 * Whether `text` has the shape of a token id.
 *
 * @example
 * isTokenId('tok_0123456789abcdef'); // true
 */
export function isTokenId(text: string): boolean {
  return TOKEN_ID_PATTERN.test(text);
}

/**
 * The token in an `Authorization: Bearer <token>` header, or undefined when there is none.
 *
 * @example
 * bearerToken('Bearer cmpkg_abc'); // 'cmpkg_abc'
 */
export function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}

/**
 * Creates a token for `user` and stores its hash; the token is returned once and never again.
 * A bad user name or a note over 1000 characters is E_REGISTRY_BAD_REQUEST.
 *
 * @example
 * const { id, token } = await createToken(store, { user: 'alice', admin: true, note: 'laptop' });
 * console.log(`export CMPKG_TOKEN=${token}  # ${id}`);
 */
export async function createToken(
  store: RegistryStore,
  input: { user: string; admin?: boolean; note?: string },
): Promise<{ id: string; token: string; user: string; admin: boolean }> {
  if (typeof input.user !== 'string' || !USER_PATTERN.test(input.user)) {
    throw new RegistryError(
      'E_REGISTRY_BAD_REQUEST',
      `user ${JSON.stringify(input.user)} is not a valid user name (1-100 of letters, digits, ".", "_", "@", "-"; starting with a letter or digit)`,
    );
  }
  if (input.note !== undefined && input.note.length > 1000) {
    throw new RegistryError('E_REGISTRY_BAD_REQUEST', 'note is longer than 1000 characters');
  }
  const { id, token, hash } = generateToken();
  const admin = input.admin === true;
  await store.insertToken({ id, hash, user: input.user, admin, note: input.note ?? null });
  return { id, token, user: input.user, admin };
}
