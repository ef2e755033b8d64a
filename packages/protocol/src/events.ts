// The change feed `GET /imodels/{id}/events` (docs/events.md) as a client receives it: one `data` JSON per event name.

export interface ChangesetEventData {
  index: number;
  id: string;
  briefcaseId: number;
  creatorId: string;
  description: string | null;
  pushDateTime: string;
}

export interface NamedVersionEventData {
  id: string;
  name: string;
  changesetIndex: number;
}

/** Counts only: read `GET …/locks` for the ids. */
export interface LocksEventData {
  briefcaseId: number;
  acquired: number;
  released: number;
}

export interface CheckpointEventData {
  changesetIndex: number;
  state: "scheduled" | "successful" | "failed";
}

export interface BriefcaseEventData {
  briefcaseId: number;
  action: "acquired" | "released";
  ownerId: string;
}

/** A changeset's element-level summary is stored (docs/changes.md): counts only. */
export interface ChangesEventData {
  changesetIndex: number;
  changesetId: string;
  inserted: number;
  updated: number;
  deleted: number;
  schemaChanged: boolean;
  /** The changeset could not be summarized (its summary is stored failed, counts 0): why. */
  failureReason?: string;
}

/** The client missed events (it fell behind, or the hub restarted): reload what it shows. */
export interface ResetEventData {
  reason: "behind" | "unknownEpoch";
}

export type IModelEvent =
  | { type: "changeset"; data: ChangesetEventData }
  | { type: "namedVersion"; data: NamedVersionEventData }
  | { type: "locks"; data: LocksEventData }
  | { type: "checkpoint"; data: CheckpointEventData }
  | { type: "briefcase"; data: BriefcaseEventData }
  | { type: "changes"; data: ChangesEventData }
  | { type: "reset"; data: ResetEventData };

/** An event with the id to resume after (`Last-Event-ID`). */
export type SequencedIModelEvent = IModelEvent & { id: string };
