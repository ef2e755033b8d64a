import type {
  BaselineFile,
  Briefcase,
  Changeset,
  ChangesetGroup,
  Checkpoint,
  DirectoryAccessInfo,
  IModel,
  Link,
  Lock,
  LockedObjects,
  MinimalBriefcase,
  MinimalChangeset,
  MinimalIModel,
  MinimalNamedVersion,
  MinimalUser,
  NamedVersion,
  StorageLink,
  User,
} from "@modelhub/protocol";
import { blobKeys } from "../domain/blob-keys.js";
import type { UserView } from "../domain/users/user-service.js";
import type {
  BriefcaseLocks,
  BriefcaseRecord,
  ChangesetGroupRecord,
  ChangesetRecord,
  CheckpointRecord,
  IModelRecord,
  NamedVersionRecord,
} from "../ports/metadata-store.js";

/** Signed storage links for the hub's own file routes. */
export interface StorageLinks {
  /** A link that may write `key` (at most `maxBytes`, when given: the size the client declared). */
  upload(key: string, maxBytes?: number): StorageLink;
  /** A link that may read `key`, for `ttlSeconds` when given (else the hub's `--link-ttl`). */
  download(key: string, ttlSeconds?: number): StorageLink;
}

/** How long the read link a gate gets for a changeset stays valid: the gate reads it while the push waits. */
export const GATE_LINK_TTL_SECONDS = 300;

/**
 * Builds the JSON entities with absolute links. `apiBase` is `<origin>/imodels`: links keep exactly one
 * `/imodels/` segment, because the clients parse them with `/iModels/(.*)/…` patterns (imodels-api.md §1.1).
 */
export class Presenter {
  constructor(
    readonly apiBase: string,
    private readonly storage: StorageLinks,
    /** Download links go only to callers with `imodels_read` (webview-only callers see metadata, get `null`). */
    private readonly mayDownload: () => boolean = () => true,
    /** A checkpoint's V2 location (with a read token) by its blob key, when the hub publishes V2 checkpoints. */
    private readonly checkpointBlocks?: (
      blobKey: string | null,
    ) => { dbName: string; directoryAccessInfo: DirectoryAccessInfo } | undefined,
  ) {}

  /** Read links for the gates of this request's operation (issue 21): short-lived, whatever the caller may read. */
  gateLinks(): { download(key: string): string } {
    return { download: (key) => this.storage.download(key, GATE_LINK_TTL_SECONDS).href };
  }

  private downloadLink(key: string): StorageLink | null {
    return this.mayDownload() ? this.storage.download(key) : null;
  }

  link(path: string): Link {
    return { href: `${this.apiBase}${path}` };
  }

  userLink(iModelId: string, userId: string): Link {
    return this.link(`/${iModelId}/users/${encodeURIComponent(userId)}`);
  }

  minimalIModel(r: IModelRecord): MinimalIModel {
    return { id: r.id, displayName: r.name };
  }

  iModel(r: IModelRecord, extra: { upload?: boolean } = {}): IModel {
    const entity: IModel = {
      id: r.id,
      displayName: r.name,
      name: r.name,
      description: r.description,
      state: r.state,
      createdDateTime: r.createdAt,
      iTwinId: r.iTwinId,
      extent: r.extent,
      containersEnabled: r.containersEnabled,
      dataCenterLocation: "modelhub",
      _links: {
        creator: this.userLink(r.id, r.creatorId),
        changesets: this.link(`/${r.id}/changesets`),
        namedVersions: this.link(`/${r.id}/namedversions`),
      },
    };
    if (extra.upload) {
      entity._links.upload = this.storage.upload(blobKeys.baselineUpload(r.id), r.baselineSize ?? undefined);
      entity._links.complete = this.link(`/${r.id}/baselinefile`);
    }
    return entity;
  }

  baselineFile(r: IModelRecord, checkpoint: CheckpointRecord | undefined): BaselineFile & { failureReason?: string } {
    const entity: BaselineFile & { failureReason?: string } = {
      id: r.id,
      displayName: `${r.id}.bim`,
      fileSize: checkpoint?.size ?? r.baselineSize ?? 0,
      state: r.baselineState,
      _links: {
        creator: this.userLink(r.id, r.creatorId),
        download: checkpoint?.blobKey ? this.downloadLink(checkpoint.blobKey) : null,
      },
    };
    if (r.baselineFailure) entity.failureReason = r.baselineFailure;
    return entity;
  }

  minimalBriefcase(r: BriefcaseRecord): MinimalBriefcase {
    return { id: String(r.briefcaseId), displayName: briefcaseDisplayName(r) };
  }

  briefcase(r: BriefcaseRecord): Briefcase {
    return {
      id: String(r.briefcaseId),
      displayName: briefcaseDisplayName(r),
      briefcaseId: r.briefcaseId,
      ownerId: r.ownerId,
      acquiredDateTime: r.acquiredAt,
      // Deprecated by the API; the hub does not know local file sizes. The cloud's tests expect a positive number.
      fileSize: 1,
      deviceName: r.deviceName,
      application: r.application ?? null,
      _links: {
        owner: this.userLink(r.iModelId, r.ownerId),
        checkpoint: this.link(`/${r.iModelId}/briefcases/checkpoint`),
      },
    };
  }

  minimalChangeset(r: ChangesetRecord): MinimalChangeset {
    return {
      id: r.id,
      displayName: String(r.index),
      description: r.description,
      index: r.index,
      parentId: r.parentId,
      creatorId: r.creatorId,
      pushDateTime: r.pushedAt,
      state: r.state,
      containingChanges: r.containingChanges,
      fileSize: r.fileSize,
      briefcaseId: r.briefcaseId,
      groupId: r.groupId,
      _links: {
        self: this.link(`/${r.iModelId}/changesets/${r.id}`),
        creator: this.userLink(r.iModelId, r.creatorId),
      },
    };
  }

  /**
   * `related` carries what the changeset's links point at: its named version and the nearest checkpoint.
   * `mode` decides which transfer link it gets: `upload` right after create, `download` once uploaded.
   */
  changeset(
    r: ChangesetRecord,
    related: { namedVersionId?: string; precedingCheckpointIndex?: number },
    mode: "create" | "complete" | "read",
  ): Changeset {
    const minimal = this.minimalChangeset(r);
    const entity: Changeset = {
      ...minimal,
      application: r.application ?? null,
      uncompressedSize: r.uncompressedSize ?? null,
      synchronizationInfo: r.synchronizationInfo,
      _links: {
        self: minimal._links.self,
        creator: minimal._links.creator,
        namedVersion: related.namedVersionId
          ? this.link(`/${r.iModelId}/namedversions/${related.namedVersionId}`)
          : null,
        currentOrPrecedingCheckpoint:
          related.precedingCheckpointIndex !== undefined
            ? this.link(`/${r.iModelId}/changesets/${related.precedingCheckpointIndex}/checkpoint`)
            : null,
        download:
          mode === "read" && r.state === "fileUploaded"
            ? this.downloadLink(blobKeys.changeset(r.iModelId, r.id))
            : null,
      },
    };
    if (mode === "create") {
      entity._links.upload = this.storage.upload(blobKeys.changesetUpload(r.iModelId, r.id, r.briefcaseId), r.fileSize);
      entity._links.complete = this.link(`/${r.iModelId}/changesets/${r.id}`);
    }
    return entity;
  }

  changesetGroup(r: ChangesetGroupRecord): ChangesetGroup {
    return {
      id: r.id,
      description: r.description,
      state: r.state,
      creatorId: r.creatorId,
      createdDateTime: r.createdAt,
      _links: { creator: this.userLink(r.iModelId, r.creatorId) },
    };
  }

  minimalNamedVersion(r: NamedVersionRecord): MinimalNamedVersion {
    return { id: r.id, displayName: r.name, changesetId: r.changesetId, changesetIndex: r.changesetIndex };
  }

  namedVersion(r: NamedVersionRecord): NamedVersion {
    return {
      ...this.minimalNamedVersion(r),
      name: r.name,
      description: r.description,
      createdDateTime: r.createdAt,
      state: r.state,
      application: r.application ?? null,
      _links: {
        creator: this.userLink(r.iModelId, r.creatorId),
        changeset: r.changesetIndex > 0 ? this.link(`/${r.iModelId}/changesets/${r.changesetIndex}`) : null,
      },
    };
  }

  checkpoint(r: CheckpointRecord): Checkpoint {
    // A V2 copy (CloudSqlite blocks, `--blobs azure:`) carries a read token: only for those who may download.
    const v2 = r.state === "successful" && this.mayDownload() ? this.checkpointBlocks?.(r.blobKey) : undefined;
    const entity: Checkpoint = {
      changesetId: r.changesetId,
      changesetIndex: r.changesetIndex,
      state: r.state,
      dbName: r.state === "successful" ? (v2?.dbName ?? `${r.iModelId}-${r.changesetIndex}.bim`) : null,
      size: r.state === "successful" ? r.size : 0,
      directoryAccessInfo: v2?.directoryAccessInfo ?? null,
      _links: { download: r.state === "successful" && r.blobKey ? this.downloadLink(r.blobKey) : null },
    };
    if (r.failureReason) entity.failureReason = r.failureReason;
    return entity;
  }

  lock(locks: BriefcaseLocks): Lock {
    const lockedObjects: LockedObjects[] = [];
    if (locks.exclusive.length > 0) lockedObjects.push({ lockLevel: "exclusive", objectIds: locks.exclusive });
    if (locks.shared.length > 0) lockedObjects.push({ lockLevel: "shared", objectIds: locks.shared });
    return { briefcaseId: locks.briefcaseId, lockedObjects };
  }

  minimalUser(iModelId: string, u: UserView): MinimalUser {
    return { id: u.id, displayName: u.profile?.displayName ?? u.id, _links: { self: this.userLink(iModelId, u.id) } };
  }

  user(iModelId: string, u: UserView): User {
    return {
      id: u.id,
      displayName: u.profile?.displayName ?? u.id,
      givenName: u.profile?.givenName ?? "",
      surname: u.profile?.surname ?? "",
      email: u.profile?.email ?? (u.id.includes("@") ? u.id : ""),
      statistics: u.statistics,
      _links: { self: this.userLink(iModelId, u.id) },
    };
  }
}

function briefcaseDisplayName(r: BriefcaseRecord): string {
  return r.deviceName ? `#${r.briefcaseId} ${r.deviceName}` : `#${r.briefcaseId}`;
}
