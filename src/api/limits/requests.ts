/** `tps_limit`/`tps_burst`: requests per second to one endpoint (rclone's `--tps-limit`). */
import { TokenBucket } from './token-bucket.js';

/** A bucket letting `perSecond` requests through, `burst` at once after a quiet spell. */
export function requestBucket(perSecond: number, burst: number): TokenBucket {
  return new TokenBucket(
    () => perSecond,
    () => burst,
  );
}
