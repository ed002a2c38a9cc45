/**
 * The configuration, as the rest of s3s3 imports it. The code lives in config/: the key table
 * (keys.ts), the reader (reader.ts), one reader per section or backend (s3.ts, swift.ts,
 * pubsub.ts, http.ts, notify.ts), the rules across sections (rules.ts) and the loading
 * (load.ts). This file only re-exports it.
 */
export type {
  ChecksumMode,
  Config,
  ConfigOverride,
  EndpointConfig,
  EndpointSettings,
  EndpointType,
  HttpConfig,
  LoadConfigOptions,
  MaxDelete,
  NotifyConfig,
  ParseConfigOptions,
  PubsubConfig,
  RedisNode,
  RedisTarget,
  RedisTlsConfig,
  S3EndpointConfig,
  SharedEndpointConfig,
  SignatureVersion,
  SwiftConfig,
  SwiftEndpointConfig,
} from './config/types.js';
export { ENDPOINT_SETTING_FIELDS } from './config/types.js';
export { configSearchPath, loadConfig, parseConfig } from './config/load.js';
export { ENDPOINT_BACKENDS, s3Section, swiftSection, type EndpointBackend } from './config/backends.js';
export { swiftAuthVersion } from './config/swift.js';
export { BANDWIDTH_HINT, parseBandwidth, type Bandwidth, type BandwidthPeriod } from './config/bandwidth.js';
export { formatSize, parseBoolean, parseMaxDelete, parseSize, redactUrl } from './config/values.js';
