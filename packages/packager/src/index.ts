export { ArchiveDigest } from './archive-digest.js';
export type { OpenPackageOptions, PackageSummary, VerifiedPackage } from './archive-reader.js';
export { openPackage, verifyPackage } from './archive-reader.js';
export type { ArchiveEntry, ArchiveWriteResult, WriteArchiveOptions } from './archive-writer.js';
export { writeArchive } from './archive-writer.js';
export type { PackageInspection } from './inspect.js';
export { inspectPackage } from './inspect.js';
export type { InstallEvent, InstallOptions, InstallResult } from './install.js';
export { installPackage } from './install.js';
export type { KeyPair, PublicKey } from './keys.js';
export {
  decodeSecretKey,
  encodeSecretKey,
  formatPublicKey,
  generateKeyPair,
  parsePublicKey,
  readPublicKey,
  readSecretKey,
  refuseExistingKeyFiles,
  SECRET_KEY_FORMAT,
  samePublicKey,
  writeFileExclusive,
  writeKeyFiles,
} from './keys.js';
export type { PackageManifest } from './manifest.js';
export {
  CREATED_BY,
  compareEntryPaths,
  DEFAULT_MAX_MANIFEST_BYTES,
  dataEntryPath,
  isPackagePath,
  isSafeEntryPath,
  MANIFEST_ENTRY,
  MAX_SIGNATURE_BYTES,
  migrationEntryPath,
  PACKAGE_FORMAT,
  PackageManifestSchema,
  packageFileName,
  parseManifest,
  parseManifestJson,
  README_ENTRY,
  ROTATION_ENTRY,
  SIGNATURE_ENTRY,
  serializeManifest,
  TABLE_NAME_PATTERN,
  trustedCommentFor,
} from './manifest.js';
export type { PortableDocumentOptions } from './migration-document.js';
export { toPortableDocument } from './migration-document.js';
export type { PackOptions, PackResult } from './pack.js';
export { packPlugin } from './pack.js';
export type { RotationStatement } from './rotation.js';
export { createRotation, parseRotations, ROTATION_FORMAT, verifyKeyChange } from './rotation.js';
export type { MinisignSignature } from './signature.js';
export { parseSignature, signMessage, verifyMessage } from './signature.js';
