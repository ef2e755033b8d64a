import type { GateDecision } from "../domain/gates/gate-calls.js";
import type { AuditEntry } from "../ports/audit-log.js";

/**
 * A gate's decision as an audit log entry (action `gate.decision`): the gate's URL (without its query) as the path,
 * its HTTP status (0: no answer), and in `details` the verdict, the gate, how long it took and its message.
 */
export function gateAuditEntry(decision: GateDecision, at = new Date()): AuditEntry {
  const accepted = decision.verdict === "accepted" || decision.verdict === "failedOpen";
  return {
    at: at.toISOString(),
    userId: decision.userId,
    action: "gate.decision",
    method: "POST",
    path: decision.gate.url,
    iTwinId: decision.iTwinId,
    iModelId: decision.iModelId,
    target: decision.target,
    address: null,
    status: decision.status,
    outcome: accepted ? "success" : "refused",
    requestId: null,
    details: {
      event: decision.event,
      verdict: decision.verdict,
      gate: decision.gate.name,
      gateId: decision.gate.id,
      durationMs: decision.durationMs,
      message: decision.message,
    },
  };
}
