// What the iModel page hands each of its tabs (its own module, so that the page and its tabs import it without
// importing each other).
import type { ModelHubClient } from "@modelhub/client";

/** What each live event makes stale. */
export interface Revisions {
  changesets: number;
  versions: number;
  briefcases: number;
  checkpoints: number;
}

export interface TabProps {
  client: ModelHubClient;
  iModelId: string;
  revisions: Revisions;
  /** User id → display name, as far as known. */
  userName: (id: string | null | undefined) => string;
  onUnauthorized: () => void;
  /** Something changed through this page: reload what it affects at once. */
  onChanged: (kinds: readonly (keyof Revisions)[]) => void;
}
