// Who may do what: the access decisions every request asks, and the no-escalation checks of every change.
import { randomUUID } from "node:crypto";
import type { AccessStore, IModelOverrides, RoleRecord } from "../../ports/access-store.js";
import type { Actor, Clock } from "../context.js";
import { HubError, notFound } from "../errors.js";
import { ITWIN_DEFAULTS, iTwinExists } from "../itwins/itwin-record.js";
import type { Permission } from "@modelhub/protocol";
import { PERMISSIONS, canonicalPermissions } from "@modelhub/protocol";
import type { Grants } from "./permissions.js";
import { ALL_PERMISSIONS, grantsOf } from "./permissions.js";
import { insufficient } from "./access-checks.js";

/** How the hub grants permissions (from the configuration). */
export interface AccessPolicy {
  /** Open mode: tokens are not verified, so permissions mean nothing; everyone may do everything. */
  everyoneMayDoEverything: boolean;
  /** Organization administrators (`--admin`): every permission everywhere. */
  admins: readonly string[];
  /**
   * Any user may start an iTwin (`POST /itwins`, or an iModel under an iTwin id the hub has never seen); with
   * `false` (`--no-claim-itwins`) only administrators may.
   */
  claimITwins: boolean;
}

/** The built-in role of whoever creates an iTwin: every permission, on the iTwin and all its iModels. */
export const OWNER_ROLE_NAME = "Owner";

/** Where a permission is asked for: an iTwin, or one iModel of it. */
export interface AccessScope {
  iTwinId: string;
  iModelId?: string;
}

export const accessNotFound = {
  role: () => new HubError("RoleNotFound", "Requested Role is not available."),
  member: () => new HubError("MemberNotFound", "Requested Member is not available."),
};

const ALL: Grants = grantsOf(ALL_PERMISSIONS);

/**
 * Who may do what (the cloud's model): iTwin roles given to members, iModel-level role and user grants that replace
 * the iTwin's for that iModel when it has any (except `imodels_delete`, iTwin-level only), organization admins who
 * may do everything, and each iTwin's Owners, who may do everything in it. The decisions only: changing roles,
 * members and grants is {@link AccessService} (access-service.ts), which checks each change with the no-escalation
 * rules at the end of this class.
 */
export class AccessRules {
  readonly #admins: ReadonlySet<string>;

  constructor(
    protected readonly store: AccessStore,
    protected readonly clock: Clock,
    readonly policy: AccessPolicy,
    protected readonly newId: () => string = randomUUID,
  ) {
    this.#admins = new Set(policy.admins);
  }

  isAdmin(actor: Actor): boolean {
    return this.#admins.has(actor.userId);
  }

  /** Open mode or an administrator (who may, e.g., register a webhook for the whole hub). */
  isUnrestricted(actor: Actor): boolean {
    return this.unrestricted(actor);
  }

  /** Open mode or an administrator: every permission everywhere, and the powers of an Owner on every iTwin. */
  protected unrestricted(actor: Actor): boolean {
    return this.policy.everyoneMayDoEverything || this.isAdmin(actor);
  }

  /** Everything the actor may do in the scope, implications included. */
  async effective(actor: Actor, scope: AccessScope): Promise<Grants> {
    if (this.unrestricted(actor)) return ALL;
    const roles = await this.store.rolesOf(scope.iTwinId, actor.userId);
    // Owners are never locked out of their iTwin's iModels: iModel grants do not apply to them.
    if (roles.some((r) => r.owner)) return ALL;
    const iTwinLevel = roles.flatMap((r) => r.permissions);
    if (scope.iModelId === undefined) return grantsOf(iTwinLevel);
    return grantsOf(this.#iModelLevel(actor, roles, iTwinLevel, await this.store.iModelOverrides(scope.iModelId)));
  }

  #iModelLevel(
    actor: Actor,
    roles: readonly RoleRecord[],
    iTwinLevel: readonly Permission[],
    overrides: IModelOverrides | undefined,
  ): Permission[] {
    if (!overrides || overrides.roles.length + overrides.users.length === 0) return [...iTwinLevel];
    const roleIds = new Set(roles.map((r) => r.id));
    const granted = [
      ...overrides.roles.filter((r) => roleIds.has(r.roleId)).flatMap((r) => r.permissions),
      ...overrides.users.filter((u) => u.userId === actor.userId).flatMap((u) => u.permissions),
    ].filter((p) => p !== "imodels_delete");
    // Deleting stays an iTwin-level decision even when the iModel has grants of its own.
    if (iTwinLevel.includes("imodels_delete")) return [...granted, "imodels_delete"];
    return granted;
  }

  /**
   * Checks that the actor has one of `anyOf` in the scope and returns what they have. On an iModel, no permission
   * at all answers `iModelNotFound` (existence is not revealed), some but not enough `InsufficientPermissions`.
   */
  async require(actor: Actor, anyOf: readonly Permission[], scope: AccessScope): Promise<Grants> {
    const grants = await this.effective(actor, scope);
    if (anyOf.some((p) => grants.has(p))) return grants;
    if (scope.iModelId !== undefined && grants.permissions.size === 0) throw notFound.iModel();
    throw insufficient();
  }

  /** The actor holds the iTwin's Owner role (administrators and open mode count as Owners). */
  async isOwner(actor: Actor, iTwinId: string): Promise<boolean> {
    if (this.unrestricted(actor)) return true;
    return (await this.store.rolesOf(iTwinId, actor.userId)).some((r) => r.owner);
  }

  /** Whether the actor may start iTwins at all (`--no-claim-itwins`: administrators only; open mode: everyone). */
  mayCreateITwins(actor: Actor): boolean {
    return this.policy.claimITwins || this.unrestricted(actor);
  }

  /**
   * Whether the actor may create an iModel in the iTwin, writing nothing: `imodels_manage` on it; for an iTwin id
   * the hub has never seen, whether they may start iTwins (they would become its Owner: every permission). An iTwin
   * that exists, or existed, is never taken over this way: a deleted one answers `iTwinNotFound`.
   */
  async checkCreate(actor: Actor, iTwinId: string): Promise<Grants> {
    const existing = await this.store.getITwin(iTwinId);
    if (existing?.deletedAt) throw notFound.iTwin();
    if (existing) return this.require(actor, ["imodels_manage"], { iTwinId });
    if (!this.mayCreateITwins(actor)) throw insufficient();
    return ALL;
  }

  /**
   * Runs `create` (an iModel's creation) in the iTwin, after {@link checkCreate}. An iTwin id the hub has never seen
   * is created first — named after its id (renameable), the actor its Owner — since the official clients and
   * existing scripts invent iTwin ids; if `create` then fails, that iTwin is discarded again (unless an iModel got
   * into it meanwhile): a refused request leaves nothing behind.
   */
  async createIn<T>(actor: Actor, iTwinId: string, create: () => Promise<T>): Promise<T> {
    await this.checkCreate(actor, iTwinId);
    if (await this.store.getITwin(iTwinId)) return create();
    const now = this.clock.now().toISOString();
    const record = {
      ...ITWIN_DEFAULTS,
      id: iTwinId,
      number: iTwinId,
      displayName: iTwinId,
      createdAt: now,
      createdBy: actor.userId,
      modifiedAt: now,
      modifiedBy: actor.userId,
    };
    const created = await this.store.createITwin(record, this.ownerRole(iTwinId));
    if (created === "nameTaken" || created === "numberTaken") throw iTwinExists(created, record);
    if (created === "exists") {
      // Another request created it first: it is theirs, checked like any iTwin.
      await this.require(actor, ["imodels_manage"], { iTwinId });
      return create();
    }
    try {
      return await create();
    } catch (err) {
      await this.store.discardITwin(iTwinId, actor.userId);
      throw err;
    }
  }

  /** A new iTwin's Owner role (the store marks it and gives it to the creator). */
  ownerRole(iTwinId: string): RoleRecord {
    return {
      iTwinId,
      id: this.newId(),
      displayName: OWNER_ROLE_NAME,
      description: "Every permission on the iTwin and all its iModels; only Owners give or take it.",
      permissions: [...PERMISSIONS],
      owner: true,
    };
  }

  /**
   * Which of an iTwin's iModels the actor may see (at least `imodels_webview`): `all` when nothing is hidden from
   * them, else a test by iModel id. One read of the iTwin's grants, whatever the number of iModels.
   */
  async visibility(actor: Actor, iTwinId: string): Promise<"all" | ((iModelId: string) => boolean)> {
    if (this.unrestricted(actor)) return "all";
    const roles = await this.store.rolesOf(iTwinId, actor.userId);
    if (roles.some((r) => r.owner)) return "all";
    const iTwinLevel = roles.flatMap((r) => r.permissions);
    const overrides = await this.store.iModelOverridesInITwin(iTwinId);
    const seesByDefault = grantsOf(iTwinLevel).has("imodels_webview");
    if (seesByDefault && overrides.size === 0) return "all";
    return (iModelId) => {
      const own = overrides.get(iModelId);
      if (!own) return seesByDefault;
      return grantsOf(this.#iModelLevel(actor, roles, iTwinLevel, own)).has("imodels_webview");
    };
  }

  // ---- No escalation --------------------------------------------------------------------------------------------

  /** `by` must hold every one of `permissions` where it acts (nobody hands out what they do not have). */
  protected async mayGrant(
    by: Actor,
    scope: AccessScope,
    permissions: readonly Permission[],
    what: string,
  ): Promise<void> {
    if (this.unrestricted(by) || permissions.length === 0) return;
    const held = await this.effective(by, scope);
    const lacking = permissions.filter((p) => !held.has(p));
    if (lacking.length > 0)
      throw insufficient(
        `You cannot ${what}: it holds ${lacking.join(", ")}, which you do not hold${scope.iModelId ? " on this iModel" : " on this iTwin"}.`,
      );
  }

  /** Giving or taking a role: the Owner role by Owners only, any other by someone holding all it holds. */
  protected async mayHandOut(
    by: Actor,
    role: RoleRecord,
    verb: "give" | "take away" | "change" | "delete",
  ): Promise<void> {
    if (role.owner) {
      if (!(await this.isOwner(by, role.iTwinId)))
        throw insufficient(`Only an Owner of the iTwin (or an administrator) may ${verb} the Owner role.`);
      return;
    }
    await this.mayGrant(by, { iTwinId: role.iTwinId }, role.permissions, `${verb} role '${role.displayName}'`);
  }

  /** Changing or removing a grant needs, on the iTwin, at least what its holder has there (else they could not restore it). */
  protected async mayChangeGrantOf(
    by: Actor,
    iTwinId: string,
    holderHolds: readonly Permission[],
    holder: string,
  ): Promise<void> {
    if (this.unrestricted(by)) return;
    const mine = await this.effective(by, { iTwinId });
    const more = grantsOf(holderHolds);
    const lacking = [...more.permissions].filter((p) => !mine.has(p));
    if (lacking.length > 0) {
      throw insufficient(
        `You cannot change the iModel grant of ${holder}: they hold ${canonicalPermissions(lacking).join(", ")} on the iTwin, which you do not.`,
      );
    }
  }
}
