// Calling gates (issue 21, docs/events.md "Gates"): one POST per gate with the operation's facts, signed when the gate
// has a secret; a 2xx accepts, a 4xx refuses with the gate's message, anything else is the gate's failure mode.
import { createHmac, randomUUID } from "node:crypto";
import type { Callout } from "../../ports/callout.js";
import { CalloutFailed, CalloutRefused } from "../../ports/callout.js";
import type { GateFailureMode } from "../../ports/gate-store.js";
import { HubError } from "../errors.js";

export type GateEventType = "changeset.push" | "namedVersion.create";

/** One gate as it is called: a hub-wide one (`--gate`, id null) or an iTwin's. */
export interface Gate {
  id: string | null;
  name: string;
  url: string;
  timeoutMs: number;
  failure: GateFailureMode;
  secret: string | null;
}

/** What a gate receives (the JSON body of its POST). */
export interface GatePayload {
  event: GateEventType;
  iModel: { id: string; name: string; iTwinId: string };
  changeset?: {
    id: string;
    index: number;
    parentId: string;
    description: string | null;
    briefcaseId: number;
    creator: string;
    fileSize: number;
    /** A read link to the changeset file, valid a few minutes. */
    downloadUrl: string;
  };
  namedVersion?: {
    name: string;
    description: string | null;
    changesetIndex: number;
    changesetId: string | null;
  };
  user: { id: string; name?: string };
}

export type GateVerdict = "accepted" | "refused" | "failedOpen" | "failedClosed";

/** One gate's decision, as the audit log records it. */
export interface GateDecision {
  /** `url` without its query string (which may hold a key). */
  gate: { id: string | null; name: string; url: string };
  event: GateEventType;
  iTwinId: string;
  iModelId: string;
  /** The changeset id or the named version's name. */
  target: string;
  userId: string;
  verdict: GateVerdict;
  /** The gate's HTTP status; 0 when it gave none. */
  status: number;
  durationMs: number;
  /** The gate's message (refusals), or why it failed. */
  message: string | null;
}

export const DEFAULT_GATE_TIMEOUT_MS = 10_000;
export const MAX_GATE_TIMEOUT_MS = 60_000;
/** How much of a refusal's text reaches the user. */
const MAX_MESSAGE_CHARS = 500;

/**
 * Calls every gate at once (a push waits for the slowest, not for the sum) and throws the refusal when any refuses:
 * one `InvalidChange` error whose message names each refusing gate with its message, in registration order.
 */
export async function callGates(
  callout: Callout,
  gates: readonly Gate[],
  payload: GatePayload,
  audit: (decision: GateDecision) => void,
): Promise<void> {
  const body = JSON.stringify(payload);
  const target = payload.changeset?.id ?? payload.namedVersion?.name ?? "";
  const decisions = await Promise.all(gates.map((gate) => callOne(callout, gate, body, payload.event)));
  const refusals: string[] = [];
  decisions.forEach((d, i) => {
    const gate = gates[i]!;
    audit({
      gate: { id: gate.id, name: gate.name, url: withoutQuery(gate.url) },
      event: payload.event,
      iTwinId: payload.iModel.iTwinId,
      iModelId: payload.iModel.id,
      target,
      userId: payload.user.id,
      ...d,
    });
    if (d.verdict === "refused" || d.verdict === "failedClosed") refusals.push(`${gate.name}: ${d.message}`);
  });
  if (refusals.length > 0) throw new HubError("InvalidChange", refusals.join("; "));
}

type Outcome = Pick<GateDecision, "verdict" | "status" | "durationMs" | "message">;

async function callOne(callout: Callout, gate: Gate, body: string, event: GateEventType): Promise<Outcome> {
  const started = Date.now();
  const headers: Record<string, string> = {
    "content-type": "application/json",
    "user-agent": "modelhub-gate/1",
    "x-modelhub-event": event,
    "x-modelhub-delivery": randomUUID(),
  };
  if (gate.secret) headers.signature = `sha256=${createHmac("sha256", gate.secret).update(body).digest("hex")}`;
  const failed = (status: number, why: string): Outcome => ({
    verdict: gate.failure === "open" ? "failedOpen" : "failedClosed",
    status,
    durationMs: Date.now() - started,
    message: gate.failure === "open" ? why : `the gate gave no decision (${why}); it is set to refuse then.`,
  });
  try {
    const answer = await callout.post({
      url: gate.url,
      headers,
      body,
      timeoutMs: Math.min(gate.timeoutMs, MAX_GATE_TIMEOUT_MS),
      maxResponseBytes: 16 * 1024,
    });
    const durationMs = answer.durationMs;
    if (answer.status >= 200 && answer.status < 300)
      return { verdict: "accepted", status: answer.status, durationMs, message: null };
    if (answer.status >= 400 && answer.status < 500)
      return { verdict: "refused", status: answer.status, durationMs, message: messageOf(answer.body, answer.status) };
    return failed(answer.status, `it answered HTTP ${answer.status}`);
  } catch (err) {
    if (err instanceof CalloutFailed)
      return failed(0, err.timedOut ? `no answer within ${gate.timeoutMs / 1000} s` : err.message);
    if (err instanceof CalloutRefused) return failed(0, `its URL is refused: ${err.message}`);
    throw err;
  }
}

function withoutQuery(url: string): string {
  const parsed = new URL(url);
  return `${parsed.origin}${parsed.pathname}`;
}

/** The gate's reason: `{"message"}`, `{"error":{"message"}}`, else the body's text, cut at 500 characters. */
export function messageOf(body: string, status: number): string {
  let message: unknown;
  try {
    const json = JSON.parse(body) as { message?: unknown; error?: { message?: unknown } };
    message = typeof json?.message === "string" ? json.message : json?.error?.message;
  } catch {
    // not JSON: the text itself
  }
  const text = (typeof message === "string" ? message : body).trim();
  if (!text) return `refused (HTTP ${status})`;
  return text.length > MAX_MESSAGE_CHARS ? `${text.slice(0, MAX_MESSAGE_CHARS)}…` : text;
}
