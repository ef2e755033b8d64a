import type { UserProfile } from "../../ports/identity-store.js";
import type { MetadataStore, Page } from "../../ports/metadata-store.js";
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
  };
  /** Names and email from the user's verified tokens (oidc mode), when the hub has seen any. */
  profile?: UserProfile;
}

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
    return this.store.read(async (tx) => {
      await requireIModel(tx, iModelId);
      const known = userId === actor.userId || (await tx.listUserIds(iModelId)).includes(userId);
      if (!known) throw notFound.user();
      return { id: userId, statistics: await tx.userStatistics(iModelId, userId) };
    }).then((view) => this.#withProfiles([view]).then(([v]) => v!));
  }

  async list(iModelId: string, page: Page): Promise<UserView[]> {
    return this.store.read(async (tx) => {
      await requireIModel(tx, iModelId);
      const ids = (await tx.listUserIds(iModelId)).sort().slice(page.offset, page.offset + page.limit);
      const result: UserView[] = [];
      for (const id of ids) result.push({ id, statistics: await tx.userStatistics(iModelId, id) });
      return result;
    }).then((views) => this.#withProfiles(views));
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
