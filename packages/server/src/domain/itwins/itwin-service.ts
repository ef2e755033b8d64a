import { randomUUID } from "node:crypto";
import type { ITwinClass, ITwinStatus, ITwinSubClass } from "@modelhub/protocol";
import { ITWIN_STATUSES, ITWIN_SUBCLASSES } from "@modelhub/protocol";
import type { AccessStore, ITwinQuery, ITwinRecord } from "../../ports/access-store.js";
import type { AccessService } from "../access/access-service.js";
import type { Actor, Clock } from "../context.js";
import { HubError, invalidRequest, notFound } from "../errors.js";
import { ITWIN_DEFAULTS, iTwinExists } from "./itwin-record.js";

/** What a creator may say about a new iTwin (the iTwins API's writable fields); `PATCH` takes any of them. */
export interface ITwinInput {
  displayName?: string;
  class?: string;
  subClass?: string;
  type?: string | null;
  number?: string;
  status?: string;
  geographicLocation?: string | null;
  ianaTimeZone?: string | null;
}

/** `GET /itwins`: whose iTwins (the caller's, or every one for administrators) and which. */
export type ITwinListQuery = Omit<ITwinQuery, "memberId"> & { scope: "memberOfItwin" | "all" };

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** An IANA time zone id the platform knows (aliases such as `UTC` included). */
function isTimeZone(id: string): boolean {
  try {
    new Intl.DateTimeFormat("en", { timeZone: id });
    return id.length <= 64;
  } catch {
    return false;
  }
}

/**
 * iTwins as people create, name, find and own them (the iTwins API): whoever creates one is its Owner, in every
 * auth mode; names and numbers are unique on the hub; a deleted iTwin's id is never used again. Who may call what
 * is on each route (http/routes/itwins.ts); this checks what depends on the iTwin itself (membership, ownership, its iModels).
 */
export class ITwinService {
  constructor(
    private readonly store: AccessStore,
    private readonly access: AccessService,
    private readonly clock: Clock,
    private readonly newId: () => string = randomUUID,
    /** Told after an iTwin was deleted, for what lives outside the access store (its blob containers). */
    private readonly onDeleted: (iTwinId: string) => Promise<void> = async () => undefined,
  ) {}

  async create(actor: Actor, input: ITwinInput): Promise<ITwinRecord> {
    if (!this.access.mayCreateITwins(actor)) {
      throw new HubError(
        "InsufficientPermissions",
        "Only administrators create iTwins on this hub (it runs with --no-claim-itwins).",
      );
    }
    const id = this.newId();
    const now = this.clock.now().toISOString();
    if (input.displayName === undefined)
      throw invalidRequest("Cannot create iTwin.", [
        { code: "MissingRequiredProperty", message: "Required property is missing.", target: "displayName" },
      ]);
    const record = checked(
      {
        ...ITWIN_DEFAULTS,
        id,
        number: id,
        displayName: "",
        createdAt: now,
        createdBy: actor.userId,
        modifiedAt: now,
        modifiedBy: actor.userId,
      },
      input,
      "Cannot create iTwin.",
    );
    const result = await this.store.createITwin(record, this.access.ownerRole(id));
    if (result === "nameTaken" || result === "numberTaken") throw iTwinExists(result, record);
    if (result === "exists") throw new Error(`a new iTwin id ${id} was already taken`);
    return record;
  }

  /** A live iTwin the actor may see (a member, or an administrator; everyone in open mode), else `iTwinNotFound`. */
  async get(actor: Actor, iTwinId: string): Promise<ITwinRecord> {
    const iTwin = await this.store.getITwin(iTwinId);
    if (!iTwin || iTwin.deletedAt !== null) throw notFound.iTwin();
    if (!(await this.#sees(actor, iTwinId))) throw notFound.iTwin();
    return iTwin;
  }

  async #sees(actor: Actor, iTwinId: string): Promise<boolean> {
    if (this.access.policy.everyoneMayDoEverything || this.access.isAdmin(actor)) return true;
    return (await this.store.getMember(iTwinId, actor.userId)) !== undefined;
  }

  /**
   * The iTwins the actor is a member of; with scope `all`, every iTwin — for administrators (and anyone in open mode,
   * where everyone may do everything); others get their own with either scope, as the cloud does.
   */
  list(actor: Actor, query: ITwinListQuery): Promise<ITwinRecord[]> {
    const { scope, ...rest } = query;
    const everyone = scope === "all" && (this.access.policy.everyoneMayDoEverything || this.access.isAdmin(actor));
    return this.store.listITwins(everyone ? rest : { ...rest, memberId: actor.userId });
  }

  /** Changes the fields given (`imodels_manage` on the iTwin, checked by the route's rule). */
  async update(actor: Actor, iTwinId: string, input: ITwinInput): Promise<ITwinRecord> {
    const current = await this.get(actor, iTwinId);
    const next = checked(
      { ...current, modifiedAt: this.clock.now().toISOString(), modifiedBy: actor.userId },
      input,
      "Cannot update iTwin.",
    );
    const result = await this.store.updateITwin(next);
    if (result === "nameTaken" || result === "numberTaken") throw iTwinExists(result, next);
    if (result === "notFound") throw notFound.iTwin();
    return next;
  }

  /** Deletes an iTwin that holds no iModels (its Owners or an administrator); its id is never used again. */
  async delete(actor: Actor, iTwinId: string): Promise<void> {
    const iTwin = await this.get(actor, iTwinId);
    const result = await this.store.deleteITwin(iTwinId, this.clock.now().toISOString());
    if (result === "notFound") throw notFound.iTwin();
    if (typeof result === "object") {
      throw new HubError(
        "iTwinNotEmpty",
        `iTwin '${iTwin.displayName}' still holds ${result.iModels} iModel${result.iModels === 1 ? "" : "s"}: delete ${result.iModels === 1 ? "it" : "them"} first.`,
      );
    }
    await this.onDeleted(iTwinId);
  }
}

/** `base` with the fields of `input` applied and checked (422 with one detail per problem). */
function checked(base: ITwinRecord, input: ITwinInput, operation: string): ITwinRecord {
  const details: { code: "InvalidValue"; message: string; target: string }[] = [];
  const bad = (target: string, message: string) => details.push({ code: "InvalidValue", message, target });
  const next: ITwinRecord = { ...base };

  if (input.displayName !== undefined) {
    const name = input.displayName.trim();
    if (name.length === 0 || name.length > 255) bad("displayName", "A display name is 1 to 255 characters.");
    // A name that looks like an id would be taken for one (`modelhub imodel create --itwin <name or id>`).
    else if (GUID.test(name) && name.toLowerCase() !== base.id.toLowerCase())
      bad("displayName", "A display name cannot be a GUID: it would be taken for an iTwin id.");
    next.displayName = name;
  }
  if (input.number !== undefined) {
    const number = input.number.trim();
    if (number.length === 0 || number.length > 255) bad("number", "A number is 1 to 255 characters.");
    else if (GUID.test(number) && number.toLowerCase() !== base.id.toLowerCase())
      bad("number", "A number cannot be another iTwin's id.");
    next.number = number;
  }
  if (input.class !== undefined || input.subClass !== undefined) {
    const subClass = input.subClass ?? (input.class === base.class ? base.subClass : undefined);
    const cls = input.class ?? classOf(subClass);
    const allowed = cls !== undefined ? (ITWIN_SUBCLASSES as Record<string, readonly string[]>)[cls] : undefined;
    if (!allowed) bad(input.class !== undefined ? "class" : "subClass", `The classes are ${classList()}.`);
    else if (subClass === undefined || !allowed.includes(subClass))
      bad("subClass", `A ${cls} iTwin's subClass is one of ${allowed.join(", ")}.`);
    else {
      next.class = cls as ITwinClass;
      next.subClass = subClass as ITwinSubClass;
    }
  }
  if (input.status !== undefined) {
    if (!(ITWIN_STATUSES as readonly string[]).includes(input.status))
      bad("status", `The status is one of ${ITWIN_STATUSES.join(", ")}.`);
    else next.status = input.status as ITwinStatus;
  }
  if (input.type !== undefined) {
    if (input.type !== null && input.type.length > 255) bad("type", "The value exceeds allowed 255 characters.");
    next.type = input.type === null || input.type.trim() === "" ? null : input.type.trim();
  }
  if (input.geographicLocation !== undefined) {
    if (input.geographicLocation !== null && input.geographicLocation.length > 255)
      bad("geographicLocation", "The value exceeds allowed 255 characters.");
    next.geographicLocation =
      input.geographicLocation === null || input.geographicLocation.trim() === ""
        ? null
        : input.geographicLocation.trim();
  }
  if (input.ianaTimeZone !== undefined) {
    if (input.ianaTimeZone !== null && !isTimeZone(input.ianaTimeZone))
      bad("ianaTimeZone", "Not an IANA time zone id such as 'Europe/Vilnius'.");
    next.ianaTimeZone = input.ianaTimeZone;
  }
  if (details.length > 0) throw invalidRequest(operation, details);
  return next;
}

function classOf(subClass: string | undefined): string | undefined {
  return Object.entries(ITWIN_SUBCLASSES).find(([, subs]) => (subs as readonly string[]).includes(subClass ?? ""))?.[0];
}

function classList(): string {
  return Object.entries(ITWIN_SUBCLASSES)
    .map(([c, subs]) => `${c} (${subs.join(", ")})`)
    .join(" and ");
}
