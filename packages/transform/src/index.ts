export {
  type BatchLoopOptions,
  type BatchLoopResult,
  type BatchTarget,
  type InputBatch,
  isRowError,
  type MappedRow,
  RowError,
  runBatchLoop,
} from './batch-loop.js';
export { CHECKPOINT_TABLE, type Checkpoint, CheckpointStore } from './checkpoint-store.js';
export { ContentChecksum, type TableChecksumOptions, tableChecksum } from './content-checksum.js';
export {
  type CopyOptions,
  type CopyReport,
  type CopyTableReport,
  copyDatabase,
  type VerifyCopyOptions,
  verifyCopy,
} from './copy/copy-database.js';
export {
  type CopyMapping,
  type CopyTableMapping,
  mappingError,
  parseCopyMapping,
  parseCopyMappingText,
} from './copy/copy-mapping.js';
export { type CopyPlan, type CopyTablePlan, type PlanCopyInput, planCopy } from './copy/copy-plan.js';
export { orderByForeignKeys } from './copy/table-order.js';
export type { TableVerification } from './copy/verify-copy.js';
export { type DatabaseHandle, placeholder, sqlParam } from './database-handle.js';
export {
  EXPORT_FORMAT,
  EXPORT_MANIFEST,
  type ExportManifest,
  type ExportOptions,
  type ExportReport,
  type ExportTableReport,
  exportTables,
} from './export-import/export-tables.js';
export {
  type ImportOptions,
  type ImportProblem,
  type ImportReport,
  type ImportTableReport,
  importTables,
  MAX_PROBLEMS,
} from './export-import/import-tables.js';
export { type NdjsonLine, readNdjsonLines } from './export-import/ndjson.js';
export {
  type CompiledMapping,
  type CompileMappingOptions,
  compileMapping,
  type MappingColumn,
  type MappingEntry,
  sqlLiteral,
} from './mapping/compile.js';
export {
  BUILTIN_FUNCTIONS,
  type BuiltinFunction,
  type RunContext,
  type SqlRenderContext,
} from './mapping/functions.js';
export { type ProgressEvent, ProgressTracker, type ProgressTrackerOptions } from './progress.js';
export { type CustomTransform, defaultRegistry, registerTransform, TransformRegistry } from './registry.js';
export { RejectLog } from './reject-log.js';
export {
  checkTransform,
  type RunTransformOptions,
  runTransform,
  type TransformResult,
  type TransformSpec,
} from './run-transform.js';
export { chooseKey, describeKey, type ReadBatch, type ReadTableOptions, readTable } from './table-reader.js';
export { createTransformRunner, type TransformRunnerOptions } from './transform-runner.js';
export { createUpdateWriter } from './update-writer.js';
export { type CompiledRule, compileRule, RULE_NAMES } from './validation.js';
