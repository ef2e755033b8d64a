// What the iModel page hands each of its tabs (its own module, so that the page and its tabs import it without
// importing each other).
import type { ModelHubClient } from "@modelhub/client";

/** What each live event makes stale. */
export interface Revisions {
  changesets: number;
  versions: number;
  briefcases: number;
  checkpoints: number;
  /** Change summaries stored (the feed's `changes` events). */
  changes: number;
}

/** The caller's permissions on the iModel (`GET /imodels/{id}/permissions`), as the controls need them. */
export interface IModelPermissions {
  /** Download files (changesets, checkpoints). */
  read: boolean;
  /** Name versions, rename or hide them, push. */
  write: boolean;
  /** Release anyone's locks, retry a failed checkpoint. */
  manage: boolean;
  /** What the hub granted, as it spells them. */
  granted: readonly string[];
}

/** Why a control is disabled when the caller lacks `permission`, or undefined when they have it. */
export function lacking(can: IModelPermissions, permission: "read" | "write" | "manage"): string | undefined {
  if (can[permission]) return undefined;
  const has = can.granted.length ? can.granted.join(", ") : "none";
  return `Needs the imodels_${permission} permission on this iModel (yours: ${has}).`;
}

export interface TabProps {
  client: ModelHubClient;
  iModelId: string;
  /** The signed-in user (GET /me). */
  userId: string;
  /** For file names of downloads. */
  iModelName: string;
  can: IModelPermissions;
  revisions: Revisions;
  /** User id → display name, as far as known. */
  userName: (id: string | null | undefined) => string;
  onUnauthorized: () => void;
  /** Something changed through this page: reload what it affects at once. */
  onChanged: (kinds: readonly (keyof Revisions)[]) => void;
}
