/** s3s3's public API: everything an application or the scripts need, and nothing else. */
export {
  loadConfig,
  parseConfig,
  configSearchPath,
  parseBoolean,
  parseSize,
  formatSize,
  parseMaxDelete,
  s3Section,
  swiftSection,
} from './config.js';
export type {
  MaxDelete,
  Config,
  EndpointConfig,
  S3EndpointConfig,
  SwiftEndpointConfig,
  SharedEndpointConfig,
  EndpointSettings,
  EndpointType,
  SwiftConfig,
  PubsubConfig,
  NotifyConfig,
  LoadConfigOptions,
  ConfigOverride,
  Bandwidth,
  BandwidthPeriod,
  SignatureVersion,
  ChecksumMode,
} from './config.js';
export { parseDuration, formatDuration, DURATION_HINT } from './duration.js';
export { BANDWIDTH_HINT, parseBandwidth } from './config.js';
export { S3s3Error, ConfigError, StoreError, VerificationError, ListingOrderError, formatProblem } from './errors.js';
export type { ConfigProblem, ErrorClass, ErrorKind } from './errors.js';
export { createLogger, silentLogger } from './log.js';
export type { Logger, LogLevel, LogFormat, LogFields } from './log.js';
export { S3Store } from './store/s3-store.js';
export { SwiftStore } from './store/swift-store.js';
export type { SwiftStoreOptions } from './store/swift-store.js';
export type { StoreOptions } from './store/store-common.js';
export { createStore } from './store/registry.js';
export { isMd5Etag } from './store/object-store.js';
export type {
  ObjectStore,
  ObjectInfo,
  HeadInfo,
  ObjectHeaders,
  ListPage,
  PutOptions,
  PutResult,
  StoreSettings,
} from './store/object-store.js';
export { decide, META_MD5, META_SOURCE_ETAG } from './copy/decide.js';
export type { Decision, CopyReason } from './copy/decide.js';
export { copyKey, hashObject } from './copy/copy-key.js';
export type { CopySource, CopyTarget, TargetResult, Outcome, CopyKeyOptions } from './copy/copy-key.js';
export { duplicateBucket } from './sweep/duplicate.js';
export { syncKey, deleteKey, deletesAt } from './sync/sync-key.js';
export {
  DEFAULT_TRASH_ROOT,
  TRASH_REGISTRY_PREFIX,
  loadTrashRoots,
  registerTrashRoot,
  trashRegistryKey,
} from './sync/trash-roots.js';
export { listTrash, purgeTrash, formatAge, trashRootsToList } from './sweep/trash.js';
export {
  abortStaleUploads,
  abortUploads,
  listUploads,
  openUploadJournal,
  type AbortReport,
  type UploadEntry,
  type UploadFilter,
} from './uploads/manage.js';
export { defaultStateDir, FileUploadJournal, type UploadJournal, type UploadRecord } from './uploads/journal.js';
export { RedisUploadJournal } from './uploads/redis-journal.js';
export { bucketFeatureProblems, configFeatureProblems } from './bucket-features.js';
export { sweepVersions } from './versions/sweep-versions.js';
export { checkVersions } from './versions/check-versions.js';
export { HistoryDiffersError, syncKeyVersions } from './versions/reconcile.js';
export type { TrashObject, PurgeOptions, PurgeReport, PurgeAction } from './sweep/trash.js';
export type { SyncKeyOptions, SyncResult } from './sync/sync-key.js';
export type { DuplicateOptions, DuplicateReport, DestinationTotals, Failure } from './sweep/duplicate.js';
export { globToRegExp, compileGlob, validateGlobs, GlobError } from './sweep/filters.js';
export { choosePartSize, ObjectTooLargeError } from './copy/multipart.js';
export { compareKeys } from './sweep/ordered.js';
export { BucketClient, createConnection, upload } from './bucket-client.js';
export type { BucketClientOptions, ObjectRef, UploadOptions, UploadResult } from './bucket-client.js';
export type { RetryPolicy } from './retry.js';
export { ListenClient, LISTEN_ROLES } from './listen/listen-client.js';
export type { ListenClientOptions, ListenStats, ListenRole, ListenStopReport } from './listen/listen-client.js';
export { markerKey, MARKER_VALUE } from './worker/settle.js';
export type { SettledEvent, SettledOutcome } from './worker/settle.js';
export { takeOverLegacy } from './queue/upgrade.js';
export type { UpgradeReport } from './queue/upgrade.js';
export { SyncQueue, queueName, keyId } from './queue/queue.js';
export { requeueFailed } from './queue/retry.js';
export { Enqueuer } from './queue/enqueue.js';
export type { EnqueuerOptions, DrainedReport } from './queue/enqueue.js';
export type { RequeueFailedOptions, RequeueFailedReport } from './queue/retry.js';
export type { QueueCounts, FailedJob, SyncJobData, JobHints, JobOp } from './queue/queue.js';
export { publish, Publisher, InvalidKeyError } from './listen/publish.js';
export type { PublishOptions, PublishResult } from './listen/publish.js';
export { parseMessage, encodeMessage, MAX_KEY_BYTES } from './listen/message.js';
export type { ParsedMessage } from './listen/message.js';
export { connectRedis } from './redis/redis.js';
export type { RedisCommands, RedisCommand, RedisArg } from './redis/redis.js';
export { SweepLock, sweepLockKey, sweepScope, defaultLockFile } from './lock/sweep-lock.js';
export type { SweepLockOptions } from './lock/sweep-lock.js';
export { RedisLock } from './lock/redis-lock.js';
export { FileLock } from './lock/file-lock.js';
export { acquire as acquireLock, describeHolder } from './lock/lock.js';
export type { HeldLock, LockHolder, LockBackend, LockScope, AcquireOptions } from './lock/lock.js';
export { RedisError, ReplicasError, LockError } from './errors.js';
export { checkBucket, metadataDiff, CHECK_MARKS } from './sweep/check.js';
export type { CheckOptions, CheckReport, CheckLine, CheckMark, CheckError, MarkCounts } from './sweep/check.js';
export { HttpStartError } from './http/server.js';
export { DaemonMetrics, sweepMetricsText, writeSweepMetrics, checkMetricsFile, METRIC_NAMES } from './http/metrics.js';
export type { HttpConfig } from './config.js';
export {
  ReportWriter,
  ReportError,
  REPORT_COLUMNS,
  csvField,
  csvLine,
  neutralisedField,
  restoreField,
  resultRow,
  reportAction,
} from './report.js';
export type { ReportRow, ReportAction, ReportRotation, ReportOptions } from './report.js';
export { sendRunReport } from './notify/notify.js';
export type { SendRunReportOptions, SentReport } from './notify/notify.js';
export { runsJson, runTotal } from './notify/run-report.js';
export type { RunReport, RunTotal } from './notify/run-report.js';
export { reportSubject, reportText, quoteKey, REPORT_FAILURES } from './notify/text.js';
export { NotifyError } from './notify/notify-error.js';
export { distributeSweep, distributedRuns, DistributeError } from './distribute/coordinator.js';
export type { DistributeOptions, DistributeProgress, DistributedRunStatus } from './distribute/coordinator.js';
export { RangeWorker } from './distribute/range-worker.js';
export type { RangeWorkerOptions } from './distribute/range-worker.js';
export { rangesQueueName } from './distribute/ranges-queue.js';
export {
  status,
  statusEach,
  STATUS_ORDER,
  type StatusReport,
  type StatusOptions,
  type StatusState,
  type KeyStatus,
  type DestinationStatus,
} from './status/status.js';
export type { QueuedJob } from './queue/queue.js';
export { reclaimStreamedBuffers } from './copy/reclaim.js';
