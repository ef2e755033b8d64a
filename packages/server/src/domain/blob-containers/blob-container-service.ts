import { randomUUID } from "node:crypto";
import { Readable } from "node:stream";
import type { BlobStore } from "../../ports/blob-store.js";
import type { CloudContainers, ContainerAccess } from "../../ports/cloud-containers.js";
import type { MetadataStore } from "../../ports/metadata-store.js";
import type { AccessService } from "../access/access-service.js";
import type { Permission } from "@modelhub/protocol";
import type { Actor, Clock } from "../context.js";
import { HubError, insufficientPermissions, invalidValue, notFound } from "../errors.js";

/** Who a container belongs to (`BlobContainer.Scope`): it never outlives its iTwin, nor its iModel when it names one. */
export interface ContainerScope {
  iTwinId: string;
  iModelId?: string;
  ownerGuid?: string;
}

/** What a container is for (`BlobContainer.Metadata`). */
export interface ContainerMetadata {
  containerType: string;
  label: string;
  description?: string;
  json?: Record<string, unknown>;
}

/** A blob container as the hub keeps it (`blobcontainers/<containerId>.json` in the hub's blob store). */
export interface ContainerRecord {
  containerId: string;
  scope: ContainerScope;
  metadata: ContainerMetadata;
  createdBy: string;
  createdAt: string;
}

/** The level `BlobContainer.RequestTokenProps.accessLevel` asks for. */
export type RequestAccessLevel = "read" | "write" | "admin" | "writeIfPossible";

export interface ContainerToken {
  token: string;
  access: ContainerAccess;
  expiresAt: Date;
  record: ContainerRecord;
}

/** Longest and default lifetime of a container token (iTwin.js refreshes tokens itself, by default every hour). */
export const MAX_TOKEN_SECONDS = 24 * 3600;
const DEFAULT_TOKEN_SECONDS = 3600;
const MIN_TOKEN_SECONDS = 60;

/** Container ids the hub accepts and makes: Azure's container name rule (a lowercase GUID is one). */
const CONTAINER_ID = /^(?=.{3,63}$)[a-z0-9]+(?:-[a-z0-9]+)*$/;
const RECORDS = "blobcontainers/";
const recordKey = (containerId: string) => `${RECORDS}${containerId}.json`;

/** What each operation needs on the container's iTwin (or its iModel, when the scope names one). */
const NEEDS = {
  see: ["imodels_read"],
  read: ["imodels_read"],
  write: ["imodels_write"],
  manage: ["imodels_manage"],
} as const satisfies Record<string, readonly Permission[]>;

/**
 * The `BlobContainer` service of iTwin.js (workspaces and settings, SchemaSync, element reservations): containers
 * scoped to an iTwin (and optionally one of its iModels), each a storage container in the account of the hub's blob
 * store, reached by iTwin.js's CloudSqlite with tokens the hub signs for the container alone.
 *
 * Permissions follow the iTwin's roles (iModel grants apply to containers scoped to that iModel): reading the
 * container and its metadata needs `imodels_read`, a write token `imodels_write`, creating, deleting, updating the
 * metadata and an admin token `imodels_manage`. Someone with no permission at all is told the container does not exist.
 *
 * The records are kept in the hub's own blob store (`blobcontainers/<id>.json`): a record is written once its storage
 * container was created by this request, and removed after the container is deleted, so a record always names a
 * container this hub made (a crash between creating a container and writing its record leaves an unnamed, empty
 * container in the account; {@link removeOrphans} ends containers whose iModel or iTwin is gone).
 */
export class BlobContainerService {
  constructor(
    private readonly containers: CloudContainers | undefined,
    private readonly records: BlobStore,
    private readonly store: MetadataStore,
    private readonly access: AccessService,
    private readonly clock: Clock,
  ) {}

  /** Whether this hub serves containers at all (only with `--blobs azure:`). */
  get available(): boolean {
    return this.containers !== undefined;
  }

  /** The provider and base URI containers are reached at. */
  location(): { provider: "azure"; baseUri: string } {
    const containers = this.#containers();
    return { provider: containers.provider, baseUri: containers.baseUri };
  }

  async create(
    actor: Actor,
    input: { scope: ContainerScope; metadata: ContainerMetadata; containerId?: string },
  ): Promise<ContainerRecord> {
    const containers = this.#containers();
    const operation = "Cannot create container.";
    const { scope } = input;
    await this.access.require(actor, NEEDS.manage, {
      iTwinId: scope.iTwinId,
      ...(scope.iModelId ? { iModelId: scope.iModelId } : {}),
    });
    if (scope.iModelId !== undefined) {
      const iModel = await this.store.read((tx) => tx.getIModel(scope.iModelId!));
      if (!iModel) throw notFound.iModel();
      if (iModel.iTwinId !== scope.iTwinId)
        throw invalidValue(operation, "scope.iModelId", "The iModel does not belong to the iTwin of the scope.");
    } else if (await this.store.read((tx) => tx.iTwinDeleted(scope.iTwinId))) {
      throw notFound.iTwin();
    }
    const containerId = input.containerId ?? randomUUID();
    if (!CONTAINER_ID.test(containerId)) {
      throw invalidValue(
        operation,
        "containerId",
        "A container id is 3 to 63 lowercase letters, digits and single hyphens, starting and ending with a letter or digit.",
      );
    }
    if (await this.records.stat(recordKey(containerId))) throw containerExists(containerId);
    // Whoever creates the storage container owns the id (two creates of one id at once: exactly one wins); one that
    // exists already belongs to someone else (another hub on the account, another request) and is not handed out.
    if ((await containers.create(containerId)) === "exists") throw containerExists(containerId);
    const record: ContainerRecord = {
      containerId,
      scope: definedScope(scope),
      metadata: input.metadata,
      createdBy: actor.userId,
      createdAt: this.clock.now().toISOString(),
    };
    try {
      await this.#write(record);
    } catch (err) {
      await containers.delete(containerId).catch(() => undefined);
      throw err;
    }
    return record;
  }

  /** The container, if the actor may see it (`imodels_read`); otherwise ContainerNotFound or InsufficientPermissions. */
  async get(actor: Actor, containerId: string): Promise<ContainerRecord> {
    const record = await this.#find(containerId);
    await this.#require(actor, NEEDS.see, record.scope);
    return record;
  }

  /** The containers of an iTwin the actor may read, optionally of one iModel, type or label. */
  async list(
    actor: Actor,
    query: { iTwinId: string; iModelId?: string; containerType?: string; label?: string },
  ): Promise<ContainerRecord[]> {
    this.#containers();
    const found: ContainerRecord[] = [];
    for await (const { key } of this.records.list(RECORDS)) {
      const record = await this.#read(key);
      if (!record || record.scope.iTwinId !== query.iTwinId) continue;
      if (query.iModelId !== undefined && record.scope.iModelId !== query.iModelId) continue;
      if (query.containerType !== undefined && record.metadata.containerType !== query.containerType) continue;
      if (query.label !== undefined && record.metadata.label !== query.label) continue;
      found.push(record);
    }
    const visible: ContainerRecord[] = [];
    for (const record of found) {
      const grants = await this.access.effective(actor, {
        iTwinId: record.scope.iTwinId,
        ...(record.scope.iModelId ? { iModelId: record.scope.iModelId } : {}),
      });
      if (NEEDS.see.some((p) => grants.has(p))) visible.push(record);
    }
    return visible.sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.containerId.localeCompare(b.containerId));
  }

  /** Replaces the metadata's `json` (`BlobContainer.ContainerService.updateJson`). */
  async updateJson(actor: Actor, containerId: string, json: Record<string, unknown>): Promise<ContainerRecord> {
    this.#containers();
    const record = await this.#find(containerId);
    await this.#require(actor, NEEDS.manage, record.scope);
    const updated: ContainerRecord = { ...record, metadata: { ...record.metadata, json } };
    await this.#write(updated);
    return updated;
  }

  /** Deletes the container with everything in it, then its record. */
  async delete(actor: Actor, containerId: string): Promise<void> {
    const containers = this.#containers();
    const record = await this.#find(containerId);
    await this.#require(actor, NEEDS.manage, record.scope);
    await containers.delete(containerId);
    await this.records.delete(recordKey(containerId));
  }

  /**
   * A token for the container: `read`, `write` or `admin` as asked (each needs its permission), `writeIfPossible`
   * (the default) writes when the actor may and reads otherwise. Lives `durationSeconds` (default an hour, at most a day).
   */
  async requestToken(
    actor: Actor,
    containerId: string,
    request: { accessLevel?: RequestAccessLevel; durationSeconds?: number },
  ): Promise<ContainerToken> {
    const containers = this.#containers();
    const record = await this.#find(containerId);
    const level = request.accessLevel ?? "writeIfPossible";
    const grants = await this.#require(
      actor,
      level === "read" || level === "writeIfPossible" ? NEEDS.read : level === "write" ? NEEDS.write : NEEDS.manage,
      record.scope,
    );
    const access: ContainerAccess =
      level === "read" || (level === "writeIfPossible" && !grants.has("imodels_write")) ? "read" : "write";
    const seconds = Math.min(
      MAX_TOKEN_SECONDS,
      Math.max(MIN_TOKEN_SECONDS, Math.floor(request.durationSeconds ?? DEFAULT_TOKEN_SECONDS)),
    );
    const expiresAt = new Date(this.clock.now().getTime() + seconds * 1000);
    return { token: containers.token(containerId, access, expiresAt), access, expiresAt, record };
  }

  /** Deletes every container scoped to the iModel (called once the iModel is deleted). Returns how many. */
  async deleteAllOfIModel(iModelId: string): Promise<number> {
    return this.#deleteWhere((r) => r.scope.iModelId === iModelId);
  }

  /** Deletes every container of the iTwin (called once the iTwin is deleted). Returns how many. */
  async deleteAllOfITwin(iTwinId: string): Promise<number> {
    return this.#deleteWhere((r) => r.scope.iTwinId === iTwinId);
  }

  /** Deletes containers whose iModel or iTwin is gone (a crash between their deletion and the containers'). */
  async removeOrphans(): Promise<number> {
    if (!this.containers) return 0;
    const gone = new Map<string, boolean>();
    const isGone = async (record: ContainerRecord): Promise<boolean> => {
      const key = record.scope.iModelId !== undefined ? `m:${record.scope.iModelId}` : `t:${record.scope.iTwinId}`;
      let answer = gone.get(key);
      if (answer === undefined) {
        answer =
          record.scope.iModelId !== undefined
            ? !(await this.store.read((tx) => tx.getIModel(record.scope.iModelId!)))
            : await this.store.read((tx) => tx.iTwinDeleted(record.scope.iTwinId));
        gone.set(key, answer);
      }
      return answer;
    };
    const doomed: ContainerRecord[] = [];
    for await (const { key } of this.records.list(RECORDS)) {
      const record = await this.#read(key);
      if (record && (await isGone(record))) doomed.push(record);
    }
    for (const record of doomed) await this.#remove(record.containerId);
    return doomed.length;
  }

  async #deleteWhere(match: (record: ContainerRecord) => boolean): Promise<number> {
    if (!this.containers) return 0;
    const doomed: string[] = [];
    for await (const { key } of this.records.list(RECORDS)) {
      const record = await this.#read(key);
      if (record && match(record)) doomed.push(record.containerId);
    }
    for (const containerId of doomed) await this.#remove(containerId);
    return doomed.length;
  }

  async #remove(containerId: string): Promise<void> {
    await this.#containers().delete(containerId);
    await this.records.delete(recordKey(containerId));
  }

  /** The actor's grants if they hold one of `anyOf`; none at all reads as "no such container" (existence is not revealed). */
  async #require(actor: Actor, anyOf: readonly Permission[], scope: ContainerScope) {
    const grants = await this.access.effective(actor, {
      iTwinId: scope.iTwinId,
      ...(scope.iModelId ? { iModelId: scope.iModelId } : {}),
    });
    if (anyOf.some((p) => grants.has(p))) return grants;
    if (grants.permissions.size === 0) throw notFound.container();
    throw insufficientPermissions();
  }

  #containers(): CloudContainers {
    if (!this.containers) {
      throw new HubError(
        "ContainerServiceNotAvailable",
        "This hub keeps its files on the local disk (--blobs fs): blob containers (workspaces, SchemaSync) need --blobs azure:<container>, whose storage account clients reach directly.",
      );
    }
    return this.containers;
  }

  async #find(containerId: string): Promise<ContainerRecord> {
    this.#containers();
    const record = CONTAINER_ID.test(containerId) ? await this.#read(recordKey(containerId)) : undefined;
    if (!record) throw notFound.container();
    return record;
  }

  async #read(key: string): Promise<ContainerRecord | undefined> {
    const found = await this.records.get(key);
    if (!found) return undefined;
    const chunks: Buffer[] = [];
    for await (const chunk of found.stream) chunks.push(chunk as Buffer);
    try {
      return JSON.parse(Buffer.concat(chunks).toString("utf8")) as ContainerRecord;
    } catch {
      return undefined;
    }
  }

  async #write(record: ContainerRecord): Promise<void> {
    await this.records.put(recordKey(record.containerId), Readable.from([Buffer.from(JSON.stringify(record), "utf8")]));
  }
}

function containerExists(containerId: string): HubError {
  return new HubError("ContainerExists", `A container with id '${containerId}' already exists.`);
}

function definedScope(scope: ContainerScope): ContainerScope {
  return {
    iTwinId: scope.iTwinId,
    ...(scope.iModelId !== undefined ? { iModelId: scope.iModelId } : {}),
    ...(scope.ownerGuid !== undefined ? { ownerGuid: scope.ownerGuid } : {}),
  };
}
