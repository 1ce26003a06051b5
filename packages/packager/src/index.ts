export type { KeyPair, PublicKey } from './keys.js';
export {
  decodeSecretKey,
  encodeSecretKey,
  formatPublicKey,
  generateKeyPair,
  parsePublicKey,
  readPublicKey,
  readSecretKey,
  SECRET_KEY_FORMAT,
  samePublicKey,
  writeKeyFiles,
} from './keys.js';
export type { RotationStatement } from './rotation.js';
export { createRotation, parseRotations, ROTATION_FORMAT, verifyKeyChange } from './rotation.js';
export type { MinisignSignature } from './signature.js';
export { parseSignature, signMessage, verifyMessage } from './signature.js';
