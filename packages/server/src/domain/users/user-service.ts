import type { UserProfile } from "../../ports/identity-store.js";
import type {
  MetadataReader,
  MetadataStore,
  Page,
  SortDirection,
  UserApplicationStatistics,
} from "../../ports/metadata-store.js";
import type { Actor } from "../context.js";
import { notFound } from "../errors.js";
import { requireIModel } from "../guards.js";

export interface UserView {
  id: string;
  statistics: {
    pushedChangesetsCount: number;
    lastChangesetPushDate: string | null;
    createdVersionsCount: number;
    briefcasesCount: number;
    applications: UserApplicationStatistics[];
  };
  /** Names and email from the user's verified tokens (oidc mode), when the hub has seen any. */
  profile?: UserProfile;
}

/** `$orderBy` of the users list: keys in order of precedence. */
export type UserOrder = { field: "givenName" | "surname"; direction: SortDirection }[];

/** Where profiles come from (the identity store). */
export interface UserProfiles {
  listProfiles(userIds: readonly string[]): Promise<UserProfile[]>;
}

/**
 * Users as an iModel sees them: whoever created, pushed, acquired or named something in it. modelhub keeps no
 * user directory; a user's id is what their access token says.
 */
export class UserService {
  constructor(
    private readonly store: MetadataStore,
    private readonly profiles?: UserProfiles,
  ) {}

  async get(actor: Actor, iModelId: string, userId: string): Promise<UserView> {
    return this.store
      .read(async (tx) => {
        await requireIModel(tx, iModelId);
        const known = userId === actor.userId || (await tx.listUserIds(iModelId)).includes(userId);
        if (!known) throw notFound.user();
        return { id: userId, statistics: await statisticsOf(tx, iModelId, userId) };
      })
      .then((view) => this.#withProfiles([view]).then(([v]) => v!));
  }

  /**
   * Users by id, or by `order` (given name, surname: from profiles; users without one sort as empty names, then by
   * id). The iModel's users are all read anyway (they are its creators, pushers and owners), so sorting is in memory.
   */
  async list(iModelId: string, page: Page, order: UserOrder = []): Promise<UserView[]> {
    const ids = await this.store.read(async (tx) => {
      await requireIModel(tx, iModelId);
      return (await tx.listUserIds(iModelId)).sort();
    });
    let selected = ids;
    if (order.length > 0) {
      const profiles = new Map((this.profiles ? await this.profiles.listProfiles(ids) : []).map((p) => [p.userId, p]));
      const collator = new Intl.Collator(undefined, { sensitivity: "base" });
      selected = [...ids].sort((a, b) => {
        for (const { field, direction } of order) {
          const c = collator.compare(profiles.get(a)?.[field] ?? "", profiles.get(b)?.[field] ?? "");
          if (c !== 0) return direction === "asc" ? c : -c;
        }
        return a < b ? -1 : a > b ? 1 : 0;
      });
    }
    selected = selected.slice(page.offset, page.offset + page.limit);
    const views = await this.store.read(async (tx) => {
      const result: UserView[] = [];
      for (const id of selected) result.push({ id, statistics: await statisticsOf(tx, iModelId, id) });
      return result;
    });
    return this.#withProfiles(views);
  }

  async #withProfiles(views: UserView[]): Promise<UserView[]> {
    if (!this.profiles || views.length === 0) return views;
    const byId = new Map((await this.profiles.listProfiles(views.map((v) => v.id))).map((p) => [p.userId, p]));
    return views.map((v) => {
      const profile = byId.get(v.id);
      return profile ? { ...v, profile } : v;
    });
  }
}

async function statisticsOf(tx: MetadataReader, iModelId: string, userId: string): Promise<UserView["statistics"]> {
  return { ...(await tx.userStatistics(iModelId, userId)), applications: await tx.userApplications(iModelId, userId) };
}
