/**
 * Wire types of the iTwins' gates (`/itwins/{iTwinId}/gates`, a modelhub extension, issue 21): URLs the hub calls
 * before it accepts a changeset or creates a named version, any of which may refuse it (docs/events.md, "Gates").
 */

/** What a gate's silence means (no answer, a timeout, a 5xx): `closed` refuses, `open` accepts. */
export type GateFailureMode = "closed" | "open";
export const GATE_FAILURE_MODES = ["closed", "open"] as const satisfies readonly GateFailureMode[];

/** A gate as the API shows it: never its secret. */
export interface Gate {
  id: string;
  iTwinId: string;
  name: string;
  url: string;
  timeoutMs: number;
  failure: GateFailureMode;
  /** Whether the hub's calls carry `Signature: sha256=<HMAC>` (the gate has a secret). */
  signed: boolean;
  createdDateTime: string;
  createdBy: string;
}

/** The answer to creating a gate: `secret` only when the hub generated it (shown this once, never again). */
export interface CreatedGate extends Gate {
  secret?: string;
}

/**
 * Creating a gate. `secret`: at least 32 characters; omitted, the hub generates one (in the answer, once);
 * `null`, the calls are not signed. `timeoutMs` 100–60000 (default 10000), `failure` default `closed`, `name`
 * default the URL's host.
 */
export interface GateInput {
  url: string;
  name?: string;
  timeoutMs?: number;
  failure?: GateFailureMode;
  secret?: string | null;
}
