// The paging and filters of the metadata port's lists (re-exported by metadata-store.ts, where the port is).
import type { NamedVersionState } from "@modelhub/protocol";

export interface Page {
  limit: number;
  offset: number;
}

export type SortDirection = "asc" | "desc";

export interface IModelFilter {
  iTwinId: string;
  name?: string;
  search?: string;
  state?: "initialized" | "notInitialized";
  /** Also iModels whose baseline failed (`initializationFailed`); lists leave them out by default, as the cloud does. */
  includeFailed?: boolean;
  orderBy?: { field: "name" | "createdDateTime"; direction: SortDirection };
}

export interface ChangesetFilter {
  afterIndex?: number;
  lastIndex?: number;
  direction: SortDirection;
  /** Only changesets whose file is confirmed (the default for lists). */
  onlyUploaded: boolean;
}

export interface NamedVersionFilter {
  name?: string;
  search?: string;
  state?: NamedVersionState;
  orderBy?: { field: "changesetIndex" | "createdDateTime"; direction: SortDirection };
}
