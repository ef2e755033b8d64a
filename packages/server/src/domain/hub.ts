import type { BlobStore } from "../ports/blob-store.js";
import type { ChangeSummaryStore } from "../ports/change-summary-store.js";
import type { IModelFileWorker } from "../ports/imodel-file-worker.js";
import type { JobWakeup } from "../ports/job-wakeup.js";
import { noJobWakeup } from "../ports/job-wakeup.js";
import type { ScratchSpace } from "../ports/scratch-space.js";
import type { MetadataStore } from "../ports/metadata-store.js";
import { BriefcaseService } from "./briefcases/briefcase-service.js";
import { ChangeService } from "./changes/change-service.js";
import { ChangesetGroupService } from "./changesets/changeset-group-service.js";
import type { ChangesetServiceOptions } from "./changesets/changeset-service.js";
import { ChangesetService } from "./changesets/changeset-service.js";
import type { CheckpointPolicy } from "./checkpoints/checkpoint-service.js";
import { CheckpointService } from "./checkpoints/checkpoint-service.js";
import type { Clock } from "./context.js";
import type { EventPublisher } from "../ports/event-bus.js";
import { noEvents } from "../ports/event-bus.js";
import { IModelService } from "./imodels/imodel-service.js";
import { LockService } from "./locks/lock-service.js";
import { BlobJanitor } from "./maintenance/blob-janitor.js";
import { NamedVersionService } from "./named-versions/named-version-service.js";
import { ThumbnailService } from "./thumbnails/thumbnail-service.js";
import { UploadService } from "./uploads/upload-service.js";
import { ChangesetFiles } from "./changesets/changeset-files.js";
import type { UserProfiles } from "./users/user-service.js";
import { UserService } from "./users/user-service.js";
import type { GateService } from "./gates/gate-service.js";

/** Every hub rule, wired to the ports the composition root chose. */
export interface Hub {
  iModels: IModelService;
  changesets: ChangesetService;
  /** Small changeset files read with a list page (a pull in one request). */
  changesetFiles: ChangesetFiles;
  changesetGroups: ChangesetGroupService;
  briefcases: BriefcaseService;
  locks: LockService;
  namedVersions: NamedVersionService;
  checkpoints: CheckpointService;
  users: UserService;
  uploads: UploadService;
  thumbnails: ThumbnailService;
  /** Deletes files nothing refers to (the deletion outbox, orphans). */
  janitor: BlobJanitor;
  /** Element-level changes and version compare (issue 20); absent when no summary store is wired. */
  changes?: ChangeService;
  /** Gates that may refuse a push or a named version (issue 21); absent when none is wired. */
  gates?: GateService;
}

/**
 * Builds the services. What follows a commit (change-feed events, waking the job runner or the janitor) each service
 * registers itself with `MetadataTx.afterCommit` in the transaction that calls for it, so nothing is wired here.
 */
export function createHub(deps: {
  store: MetadataStore;
  blobs: BlobStore;
  worker: IModelFileWorker | undefined;
  /** Local directories for work on real files (changeset ids checked on a copy). */
  scratch: ScratchSpace;
  clock: Clock;
  changesets: ChangesetServiceOptions;
  checkpoints: CheckpointPolicy;
  /** This node's job runner, woken after a commit that queued background work (others poll). */
  jobs?: JobWakeup;
  /** User profiles (names, email) from verified tokens, for the users endpoints. */
  profiles?: UserProfiles;
  /** Told what changed, after each commit (the change feed). */
  events?: EventPublisher;
  /** Told after an iModel was deleted (its blob containers go with it); must not throw. */
  onIModelDeleted?: (iModelId: string) => Promise<void>;
  /** Element-level change summaries (issue 20). */
  changeSummaries?: ChangeSummaryStore;
  /** Gates asked before a changeset is accepted and before a named version is created (issue 21). */
  gates?: GateService;
}): Hub {
  const { store, blobs, worker, clock } = deps;
  const jobs = deps.jobs ?? noJobWakeup;
  const events = deps.events ?? noEvents;
  const checkpoints = new CheckpointService(store, clock, deps.checkpoints, events, jobs);
  const janitor = new BlobJanitor(store, blobs, clock);
  return {
    iModels: new IModelService(store, blobs, clock, janitor, jobs, deps.onIModelDeleted),
    changesets: new ChangesetService(
      store,
      blobs,
      worker,
      deps.scratch,
      clock,
      deps.changesets,
      events,
      checkpoints,
      jobs,
      deps.gates,
    ),
    changesetFiles: new ChangesetFiles(blobs),
    changesetGroups: new ChangesetGroupService(store, clock, jobs),
    briefcases: new BriefcaseService(store, clock, events),
    locks: new LockService(store, events),
    namedVersions: new NamedVersionService(store, clock, events, checkpoints, deps.gates, jobs),
    checkpoints,
    users: new UserService(store, deps.profiles),
    uploads: new UploadService(store),
    thumbnails: new ThumbnailService(store, blobs),
    janitor,
    ...(deps.changeSummaries ? { changes: new ChangeService(store, deps.changeSummaries) } : {}),
    ...(deps.gates ? { gates: deps.gates } : {}),
  };
}
