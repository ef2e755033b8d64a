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
}

/**
 * Users as an iModel sees them: whoever created, pushed, acquired or named something in it. modelhub keeps no
 * user directory; a user's id is what their access token says.
 */
export class UserService {
  constructor(private readonly store: MetadataStore) {}

  async get(actor: Actor, iModelId: string, userId: string): Promise<UserView> {
    return this.store.read(async (tx) => {
      await requireIModel(tx, iModelId);
      const known = userId === actor.userId || (await tx.listUserIds(iModelId)).includes(userId);
      if (!known) throw notFound.user();
      return { id: userId, statistics: await tx.userStatistics(iModelId, userId) };
    });
  }

  async list(iModelId: string, page: Page): Promise<UserView[]> {
    return this.store.read(async (tx) => {
      await requireIModel(tx, iModelId);
      const ids = (await tx.listUserIds(iModelId)).sort().slice(page.offset, page.offset + page.limit);
      const result: UserView[] = [];
      for (const id of ids) result.push({ id, statistics: await tx.userStatistics(iModelId, id) });
      return result;
    });
  }
}
