// What a caller of startServer (main.ts) sets beside the configuration: knobs of the process, not of the hub.
import type { LogFormat } from "./background/log-format.js";

export interface StartOptions {
  /** Serve Prometheus metrics on `GET /metrics` (default true; `modelhub serve --no-metrics` turns it off). */
  metrics?: boolean;
  /** Change-feed subscribers at once (default 1000); more are answered 503. */
  maxEventSubscribers?: number;
  /** Heartbeat comments on change feeds this often (default 15 s). */
  eventHeartbeatMs?: number;
  /** Window in which the audit log sums up a client's refusals for want of an identity (default a minute). */
  auditRefusalWindowMs?: number;
  /** Audit entries wait at most this long before they are written (default 100 ms; a test makes it long to see its own commits). */
  auditFlushIntervalMs?: number;
  /** `json` (pino's lines, the default) or `human` (one readable line per event, for a terminal; app/log-format.ts). */
  logFormat?: LogFormat;
}
