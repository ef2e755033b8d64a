import { randomBytes } from "node:crypto";
import type { Callout } from "../../ports/callout.js";
import type { GateChange, GateFailureMode, GateRecord, GateStore } from "../../ports/gate-store.js";
import type { Actor, Clock } from "../context.js";
import { HubError, invalidValue } from "../errors.js";
import type { Gate, GateDecision, GatePayload } from "./gate-calls.js";
import { DEFAULT_GATE_TIMEOUT_MS, MAX_GATE_TIMEOUT_MS, callGates } from "./gate-calls.js";

export interface GateServiceOptions {
  /** Hub-wide gates (`modelhub serve --gate`), called for every iTwin before its own. */
  hubGates: readonly Gate[];
  /** How long this process trusts its copy of the iTwins' gates (changes made on another node show after this). */
  cacheTtlMs?: number;
  /** Told every gate's decision (the audit log). */
  audit: (decision: GateDecision) => void;
}

export interface GateInput {
  name?: string;
  url: string;
  timeoutMs?: number;
  failure?: GateFailureMode;
  /** ≥ 32 characters; omitted: one is generated; null: calls are not signed. */
  secret?: string | null;
}

/** What the completing request lends the gates: a short-lived read link to a blob (the hub's route or a SAS). */
export interface GateLinks {
  download(blobKey: string): string;
}

export const MIN_SECRET_CHARS = 32;
const DEFAULT_CACHE_TTL_MS = 10_000;

/**
 * Gates (issue 21): hub-wide ones from the configuration and per-iTwin ones in the gate store, called before a
 * changeset is accepted and before a named version is created. The iTwins' gates are read once per `cacheTtlMs` for
 * every iTwin at once, so a push asks the database nothing for them; a change made through this node is seen at once.
 */
export class GateService {
  #cache: { at: number; byITwin: Map<string, GateRecord[]> } | undefined;
  #loading: Promise<Map<string, GateRecord[]>> | undefined;
  readonly #ttlMs: number;

  constructor(
    private readonly store: GateStore | undefined,
    private readonly callout: Callout,
    private readonly clock: Clock,
    private readonly options: GateServiceOptions,
  ) {
    this.#ttlMs = options.cacheTtlMs ?? DEFAULT_CACHE_TTL_MS;
  }

  /** Whether any gate may apply (false: pushes skip gates without looking further). */
  get configured(): boolean {
    return this.options.hubGates.length > 0 || this.store !== undefined;
  }

  /** The gates of an iTwin in calling order: hub-wide ones first, then the iTwin's in registration order. */
  async gatesFor(iTwinId: string): Promise<Gate[]> {
    const own = this.store ? ((await this.#byITwin()).get(iTwinId) ?? []) : [];
    return [...this.options.hubGates, ...own.map(asGate)];
  }

  /** Calls the iTwin's gates with `payload()` (made only when there is a gate); throws the refusal. */
  async check(iTwinId: string, payload: () => GatePayload): Promise<void> {
    if (!this.configured) return;
    const gates = await this.gatesFor(iTwinId);
    if (gates.length === 0) return;
    await callGates(this.callout, gates, payload(), this.options.audit);
  }

  async #byITwin(): Promise<Map<string, GateRecord[]>> {
    const cached = this.#cache;
    if (cached && Date.now() - cached.at < this.#ttlMs) return cached.byITwin;
    this.#loading ??= (async () => {
      try {
        const byITwin = new Map<string, GateRecord[]>();
        for (const gate of await this.store!.listAll()) {
          const list = byITwin.get(gate.iTwinId) ?? [];
          list.push(gate);
          byITwin.set(gate.iTwinId, list);
        }
        this.#cache = { at: Date.now(), byITwin };
        return byITwin;
      } finally {
        this.#loading = undefined;
      }
    })();
    return this.#loading;
  }

  #invalidate(): void {
    this.#cache = undefined;
  }

  // Configuration of an iTwin's gates (the routes check `imodels_manage` on the iTwin).

  list(iTwinId: string): Promise<GateRecord[]> {
    return this.#store().list(iTwinId);
  }

  async get(iTwinId: string, id: string): Promise<GateRecord> {
    const gate = await this.#store().get(iTwinId, id);
    if (!gate) throw gateNotFound();
    return gate;
  }

  /** Stores a gate after checking its URL may be called at all; the secret is in the answer (and never again). */
  async create(actor: Actor, iTwinId: string, input: GateInput): Promise<GateRecord> {
    const url = this.#checkedUrl(input.url, "Cannot create Gate.");
    const secret = input.secret === undefined ? randomBytes(32).toString("hex") : input.secret;
    const gate = await this.#store().create({
      iTwinId,
      name: input.name ?? new URL(url).host,
      url,
      timeoutMs: checkedTimeout(input.timeoutMs, "Cannot create Gate."),
      failure: input.failure ?? "closed",
      secret: checkedSecret(secret, "Cannot create Gate."),
      createdAt: this.clock.now().toISOString(),
      createdBy: actor.userId,
    });
    this.#invalidate();
    return gate;
  }

  async update(iTwinId: string, id: string, input: Partial<GateInput>): Promise<GateRecord> {
    const change: GateChange = {};
    if (input.name !== undefined) change.name = input.name;
    if (input.url !== undefined) change.url = this.#checkedUrl(input.url, "Cannot update Gate.");
    if (input.timeoutMs !== undefined) change.timeoutMs = checkedTimeout(input.timeoutMs, "Cannot update Gate.");
    if (input.failure !== undefined) change.failure = input.failure;
    if (input.secret !== undefined) change.secret = checkedSecret(input.secret, "Cannot update Gate.");
    const gate = await this.#store().update(iTwinId, id, change);
    this.#invalidate();
    if (!gate) throw gateNotFound();
    return gate;
  }

  async delete(iTwinId: string, id: string): Promise<void> {
    const deleted = await this.#store().delete(iTwinId, id);
    this.#invalidate();
    if (!deleted) throw gateNotFound();
  }

  #store(): GateStore {
    if (!this.store) throw new HubError("NotFound", "This hub keeps no per-iTwin gates.");
    return this.store;
  }

  #checkedUrl(url: string, operation: string): string {
    const refusal = this.callout.refusalOf(url);
    if (refusal) throw invalidValue(operation, "url", `Provided 'url' value is not valid: ${refusal}`);
    return new URL(url).href;
  }
}

function asGate(record: GateRecord): Gate {
  const { id, name, url, timeoutMs, failure, secret } = record;
  return { id, name, url, timeoutMs, failure, secret };
}

function checkedTimeout(timeoutMs: number | undefined, operation: string): number {
  if (timeoutMs === undefined) return DEFAULT_GATE_TIMEOUT_MS;
  if (!Number.isInteger(timeoutMs) || timeoutMs < 100 || timeoutMs > MAX_GATE_TIMEOUT_MS)
    throw invalidValue(
      operation,
      "timeoutMs",
      `Provided 'timeoutMs' value is not valid: a whole number of milliseconds from 100 to ${MAX_GATE_TIMEOUT_MS}.`,
    );
  return timeoutMs;
}

function checkedSecret(secret: string | null, operation: string): string | null {
  if (secret !== null && secret.length < MIN_SECRET_CHARS)
    throw invalidValue(
      operation,
      "secret",
      `Provided 'secret' value is not valid: a secret has at least ${MIN_SECRET_CHARS} characters.`,
    );
  return secret;
}

function gateNotFound(): HubError {
  return new HubError("NotFound", "Requested Gate is not available.");
}
