/**
 * Entity shapes of the iModels API v2 as the official clients read them
 * (see shared/docs/imodels-api.md §4). Both the server and @modelhub/backend-access use these.
 */

export interface Link {
  href: string;
}

/** Upload/download links also say which storage protocol speaks at the URL. */
export interface StorageLink extends Link {
  storageType: "azure" | "google";
}

export interface PagingLinks {
  self: Link | null;
  prev: Link | null;
  next: Link | null;
}

export interface Application {
  id: string;
  name: string;
}

export type IModelState = "initialized" | "notInitialized";

export interface GeoPoint {
  latitude: number;
  longitude: number;
}

export interface IModelExtent {
  southWest: GeoPoint;
  northEast: GeoPoint;
}

export interface MinimalIModel {
  id: string;
  displayName: string;
}

export interface IModel extends MinimalIModel {
  name: string;
  description: string | null;
  state: IModelState;
  createdDateTime: string;
  iTwinId: string;
  extent: IModelExtent | null;
  containersEnabled: number;
  dataCenterLocation: string;
  _links: {
    creator: Link | null;
    changesets: Link | null;
    namedVersions: Link | null;
    upload?: StorageLink;
    complete?: Link;
  };
}

export type BaselineFileState =
  "initialized" | "waitingForFile" | "initializationScheduled" | "initializationFailed" | "fileIsBriefcase";

export interface BaselineFile {
  id: string;
  displayName: string;
  fileSize: number;
  state: BaselineFileState;
  _links: { creator: Link | null; download: StorageLink | null };
}

export type CreateOperationState = "successful" | "waitingForFile" | "scheduled" | "failed";

export interface CreateIModelOperationDetails {
  state: CreateOperationState;
  /** The source of a clone: the last changeset copied ("" for the baseline only). */
  clonedFrom: { iModelId: string; changesetId: string } | null;
  forkedFrom: { iModelId: string; changesetId: string; relationshipId: string } | null;
}

export interface MinimalBriefcase {
  id: string;
  displayName: string;
}

export interface Briefcase extends MinimalBriefcase {
  briefcaseId: number;
  ownerId: string;
  acquiredDateTime: string;
  fileSize: number;
  deviceName: string | null;
  application: Application | null;
  _links: { owner: Link | null; checkpoint: Link };
}

export type ChangesetState = "waitingForFile" | "fileUploaded";

export interface SynchronizationInfo {
  taskId: string;
  changedFiles: string[] | null;
}

export interface MinimalChangeset {
  id: string;
  displayName: string;
  description: string | null;
  index: number;
  parentId: string;
  creatorId: string;
  pushDateTime: string;
  state: ChangesetState;
  containingChanges: number;
  fileSize: number;
  briefcaseId: number;
  groupId: string | null;
  _links: { self: Link; creator: Link | null };
}

export interface Changeset extends Omit<MinimalChangeset, "_links"> {
  application: Application | null;
  /**
   * modelhub extension (the API has no such field): iTwin.js's `ChangesetProps.uncompressedSize` as the pushing
   * client declared it on create; null when it did not.
   */
  uncompressedSize: number | null;
  synchronizationInfo: SynchronizationInfo | null;
  _links: {
    self: Link;
    creator: Link | null;
    namedVersion: Link | null;
    currentOrPrecedingCheckpoint: Link | null;
    download: StorageLink | null;
    upload?: StorageLink;
    complete?: Link;
  };
}

export type ChangesetGroupState = "inProgress" | "completed" | "timedOut" | "forciblyClosed";

export interface ChangesetGroup {
  id: string;
  description: string | null;
  state: ChangesetGroupState;
  creatorId: string;
  createdDateTime: string;
  _links: { creator: Link | null };
}

export interface ChangesetExtendedData {
  changesetId: string;
  changesetIndex: number;
  /** Base64 of the JSON text the client sent. */
  data: string;
}

export type NamedVersionState = "visible" | "hidden";

export interface MinimalNamedVersion {
  id: string;
  displayName: string;
  changesetId: string | null;
  changesetIndex: number;
}

export interface NamedVersion extends MinimalNamedVersion {
  name: string;
  description: string | null;
  createdDateTime: string;
  state: NamedVersionState;
  application: Application | null;
  _links: { creator: Link | null; changeset: Link | null };
}

export type CheckpointState = "successful" | "scheduled" | "failed" | "notGenerated";

export interface Checkpoint {
  changesetId: string;
  changesetIndex: number;
  state: CheckpointState;
  /** Set when the state is "failed": why the hub could not make the checkpoint. */
  failureReason?: string;
  dbName: string | null;
  size: number;
  /** Where the checkpoint is as a V2 checkpoint (CloudSqlite blocks): hubs on Azure storage only, else null. */
  directoryAccessInfo: DirectoryAccessInfo | null;
  _links: { download: StorageLink | null };
}

/** The cloud's `directoryAccessInfo`: a CloudSqlite container (`baseDirectory`) of a storage account, with a read token. */
export interface DirectoryAccessInfo {
  baseUrl: string;
  storage: string;
  baseDirectory: string;
  storageType: "azure" | "google";
  azure: { sasToken: string } | null;
  google: { authorization: string } | null;
}

export type LockLevel = "none" | "shared" | "exclusive";

export interface LockedObjects {
  lockLevel: LockLevel;
  objectIds: string[];
}

export interface Lock {
  briefcaseId: number;
  lockedObjects: LockedObjects[];
}

export interface ConflictingLock {
  objectId: string;
  lockLevel: LockLevel;
  briefcaseIds: number[];
}

export interface UserStatistics {
  pushedChangesetsCount: number;
  lastChangesetPushDate: string | null;
  createdVersionsCount: number;
  briefcasesCount: number;
  /** Per application that acquired the user's briefcases (id/name null: not known). */
  applications: UserApplicationStatistics[];
}

export interface UserApplicationStatistics {
  id: string | null;
  name: string | null;
  /** Some briefcase of the user acquired by this application holds a lock. */
  ownsLocks: boolean;
  /** One of them holds the exclusive lock on the root element (0x1). */
  ownsExclusiveRootElementLock: boolean;
}

export interface User {
  id: string;
  displayName: string;
  givenName: string;
  surname: string;
  email: string;
  statistics: UserStatistics;
  _links: { self: Link };
}

export interface MinimalUser {
  id: string;
  displayName: string;
  _links: { self: Link };
}

/** One entry of the audit log (`GET /imodels/{id}/auditlog`, `GET /auditlog`): a modelhub extension. */
export interface AuditLogEntry {
  /** Position in the log: increases with every entry; the paging key. */
  seq: number;
  /** ISO time the request was answered. */
  at: string;
  /** The verified user; null when the request carried no valid identity, and for storage uploads. */
  userId: string | null;
  /** A stable name for the operation, e.g. `changeset.create`, `briefcase.release`, `storage.upload`. */
  action: string;
  method: string;
  /** The request path without its query string (storage links' signatures are never kept). */
  path: string;
  iTwinId: string | null;
  iModelId: string | null;
  /** What the operation acted on within the iModel: a changeset, briefcase, named version, blob key… */
  target: string | null;
  /** The client's address as the hub saw it. */
  address: string | null;
  status: number;
  /** 2xx/3xx `success`, 4xx `refused` (by a rule or bad input), 5xx `failed`. */
  outcome: "success" | "refused" | "failed";
  requestId: string | null;
  /** Small operation-specific facts (e.g. an upload's size, the error code of a refusal). */
  details: Readonly<Record<string, unknown>> | null;
}

/** A page of the audit log. */
export interface AuditLogPage {
  auditEntries: AuditLogEntry[];
  _links: { self: { href: string }; prev: null; next: { href: string } | null };
}
