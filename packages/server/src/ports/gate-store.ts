/**
 * Gates registered per iTwin through the API (issue 21): URLs the hub calls before it accepts a changeset or creates
 * a named version, any of which may refuse it. Hub-wide gates (`modelhub serve --gate`) are configuration, not here.
 *
 * Contract (test/contract/gate-store.contract.ts runs it against SQLite and PostgreSQL):
 * - `create` MUST store the gate with a fresh id; `listAll` MUST return every gate of every iTwin in registration
 *   order (creation time, then insertion order), the order the hub calls them in.
 * - `update` MUST change only the fields given and return the gate as stored, or undefined when the iTwin has no
 *   such gate; `delete` MUST say whether there was one. A gate of another iTwin is never found through `iTwinId`.
 * - Deleting an iTwin's row deletes its gates (a foreign key).
 */
export interface GateStore {
  create(gate: NewGate): Promise<GateRecord>;
  get(iTwinId: string, id: string): Promise<GateRecord | undefined>;
  /** An iTwin's gates, in registration order. */
  list(iTwinId: string): Promise<GateRecord[]>;
  /** Every gate of every iTwin, in registration order (the hub keeps them in a per-process cache). */
  listAll(): Promise<GateRecord[]>;
  update(iTwinId: string, id: string, change: GateChange): Promise<GateRecord | undefined>;
  delete(iTwinId: string, id: string): Promise<boolean>;
  close(): Promise<void>;
}

/** What a gate does when it gives no answer (unreachable, timeout, 5xx): `open` accepts, `closed` refuses. */
export type GateFailureMode = "open" | "closed";

export interface GateRecord {
  id: string;
  iTwinId: string;
  name: string;
  url: string;
  timeoutMs: number;
  failure: GateFailureMode;
  /** The HMAC key of the `Signature` header; null: calls are not signed. Never shown after creation. */
  secret: string | null;
  createdAt: string;
  createdBy: string;
}

export type NewGate = Omit<GateRecord, "id">;

export type GateChange = Partial<Pick<GateRecord, "name" | "url" | "timeoutMs" | "failure" | "secret">>;
