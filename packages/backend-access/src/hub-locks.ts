// iTwin.js's lock calls (`acquireLocks`, `queryAllLocks`, releases and abandons) as the hub's lock requests.
import type { BriefcaseDbArg, BriefcaseIdArg, LockMap, LockProps } from "@itwin/core-backend";
import type { ModelHubClient } from "@modelhub/client";
import { callHub } from "./errors.js";
import { bentley, common } from "./host.js";

/** Most object ids the hub takes in one lock request (MAX_LOCK_OBJECT_IDS in the server's http/routes/locks.ts). */
const MAX_LOCK_IDS_PER_REQUEST = 10_000;

export class HubLocks {
  /** `hub(accessToken)`: the client for one operation, authorized as its caller. */
  constructor(private readonly hub: (accessToken?: string) => Promise<ModelHubClient>) {}

  /**
   * One PATCH per MAX_LOCK_IDS_PER_REQUEST ids (the hub refuses larger requests). Each request is all-or-nothing;
   * when a later one is refused, the locks of the earlier ones stay held until the briefcase releases its locks.
   */
  async acquire(arg: BriefcaseDbArg, locks: LockMap): Promise<void> {
    if (locks.size === 0) return;
    const hub = await this.hub(arg.accessToken);
    const entries = [...locks];
    for (let start = 0; start < entries.length; start += MAX_LOCK_IDS_PER_REQUEST) {
      const groups = new Map<string, string[]>();
      for (const [id, state] of entries.slice(start, start + MAX_LOCK_IDS_PER_REQUEST)) {
        const level =
          state === common.LockState.Exclusive ? "exclusive" : state === common.LockState.Shared ? "shared" : "none";
        let ids = groups.get(level);
        if (!ids) groups.set(level, (ids = []));
        ids.push(id);
      }
      const lockedObjects = [...groups].map(([lockLevel, objectIds]) => ({
        lockLevel: lockLevel as "none" | "shared" | "exclusive",
        objectIds,
      }));
      await callHub(
        "acquireLocks",
        () =>
          hub.changeLocks(arg.iModelId, { briefcaseId: arg.briefcaseId, changesetId: arg.changeset.id, lockedObjects }),
        { hub, iModelId: arg.iModelId },
      );
    }
  }

  async queryAll(arg: BriefcaseDbArg): Promise<LockProps[]> {
    const result: LockProps[] = [];
    const hub = await this.hub(arg.accessToken);
    for (const lock of await callHub("queryAllLocks", () =>
      hub.locks(arg.iModelId, { briefcaseId: arg.briefcaseId, pageSize: 1000 }),
    )) {
      for (const group of lock.lockedObjects) {
        const state =
          group.lockLevel === "exclusive"
            ? common.LockState.Exclusive
            : group.lockLevel === "shared"
              ? common.LockState.Shared
              : common.LockState.None;
        for (const id of group.objectIds) result.push({ id, state });
      }
    }
    return result;
  }

  /**
   * iTwin.js ≥ 5.9 (`BackendHubAccess.abandonLocks`, also `LockControl`'s fallback through `acquireLocks` with
   * changeset ""): gives back locks whose objects were not changed (abandoned transactions). Each lock goes to the
   * state iTwin.js passes — `None`, or `Shared` for an exclusive lock that was an upgrade of a shared one — and the
   * changeset id sent is "", so the hub keeps each object's last release index: nobody else is told to pull for
   * changes that were never pushed. Ids the briefcase no longer holds are skipped (the hub refuses a whole release
   * that names one, `404 LockNotFound`; then only the held ones are sent).
   */
  async abandon(arg: BriefcaseIdArg, locks: LockMap): Promise<void> {
    const abandoned: BriefcaseDbArg = { ...arg, changeset: { id: "", index: 0 } };
    try {
      await this.acquire(abandoned, locks);
    } catch (err) {
      if (!(err instanceof common.IModelError) || err.errorNumber !== bentley.IModelHubStatus.LockDoesNotExist)
        throw err;
      const held = new Set((await this.queryAll(abandoned)).map((l) => l.id));
      await this.acquire(abandoned, new Map([...locks].filter(([id]) => held.has(id))));
    }
  }

  /** `release-chunk` until the hub says it was the last; `changesetId` "" keeps each object's last release index. */
  async releaseAll(arg: BriefcaseIdArg, changesetId: string): Promise<void> {
    const hub = await this.hub(arg.accessToken);
    while (
      !(await callHub("releaseAllLocks", () => hub.releaseLocksChunk(arg.iModelId, arg.briefcaseId, changesetId)))
    );
  }
}
