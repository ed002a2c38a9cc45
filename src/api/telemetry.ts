/** Figures from the choke points to whoever listens (the daemon's /metrics); no metrics library here. */

/** One S3 request as the store saw it. */
export interface RequestSample {
  /** The config section (`source`, `dest1`...), or the endpoint for an unnamed store. */
  readonly section: string;
  readonly operation: string;
  /** The HTTP status, undefined when no answer came (reset, timeout, refused). */
  readonly status: number | undefined;
  readonly seconds: number;
}

/** What one destination ended in for one key. */
export interface ObjectSample {
  readonly destination: string;
  /** copied, skipped, deleted, trashed, gone, kept or failed. */
  readonly outcome: string;
  readonly bytes: number;
}

/** A key's copy reached one destination: how long after the source was written. */
export interface ReplicatedSample {
  readonly destination: string;
  readonly key: string;
  /** From the source write (the event's time, else its Last-Modified, else when it was queued) to now. */
  readonly seconds: number;
}

/** `lag_threshold` crossed: a key copied after it (`after`), or still pending past it (`missed`, once per key). */
export interface ThresholdSample {
  readonly kind: 'missed' | 'after';
  readonly destination: string;
  readonly key: string;
  readonly seconds: number;
}

/** Whoever wants figures: every method optional, each called at one choke point. */
export interface TelemetrySink {
  request?(sample: RequestSample): void;
  object?(sample: ObjectSample): void;
  /** From the moment a key was queued to its settlement. */
  lag?(seconds: number): void;
  throttled?(section: string): void;
  redisReconnect?(): void;
  /** A POST /events answered: accepted, test, subscribe, or refused. */
  event?(result: string): void;
  replicated?(sample: ReplicatedSample): void;
  threshold?(sample: ThresholdSample): void;
}

const sinks = new Set<TelemetrySink>();

function each(f: (s: TelemetrySink) => void): void {
  for (const s of sinks) {
    try {
      f(s);
    } catch {
      // a broken sink never breaks a copy
    }
  }
}

/**
 * The choke points report here — the store's one request function, settlement, the Redis
 * connections, the webhook — and whoever wants figures (the daemon's /metrics) listens.
 * With no listener every call is a loop over an empty set: nothing else in s3s3 needs to
 * know metrics exist, and nothing here imports a metrics library.
 */
export const telemetry = {
  /** Start listening; returns the function that stops it. */
  subscribe(sink: TelemetrySink): () => void {
    sinks.add(sink);
    return () => sinks.delete(sink);
  },
  get active(): boolean {
    return sinks.size > 0;
  },
  request(sample: RequestSample): void {
    if (sinks.size > 0) each((s) => s.request?.(sample));
  },
  object(sample: ObjectSample): void {
    if (sinks.size > 0) each((s) => s.object?.(sample));
  },
  lag(seconds: number): void {
    if (sinks.size > 0) each((s) => s.lag?.(seconds));
  },
  throttled(section: string): void {
    if (sinks.size > 0) each((s) => s.throttled?.(section));
  },
  redisReconnect(): void {
    if (sinks.size > 0) each((s) => s.redisReconnect?.());
  },
  event(result: string): void {
    if (sinks.size > 0) each((s) => s.event?.(result));
  },
  replicated(sample: ReplicatedSample): void {
    if (sinks.size > 0) each((s) => s.replicated?.(sample));
  },
  threshold(sample: ThresholdSample): void {
    if (sinks.size > 0) each((s) => s.threshold?.(sample));
  },
};
