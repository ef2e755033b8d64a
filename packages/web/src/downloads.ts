// Downloads from the page: the hub hands out short-lived signed links (a changeset's file, a checkpoint's .bim), so a
// link is asked for at the click, then followed by an <a download> — the browser streams the file to disk itself.
import type { Checkpoint, ModelHubClient } from "@modelhub/client";
import { ModelHubError } from "@modelhub/client";

/** Starts the browser's download of `href` as `fileName` (the name applies to same-origin links, i.e. the hub's own storage). */
export function saveLink(href: string, fileName: string): void {
  const anchor = document.createElement("a");
  anchor.href = href;
  anchor.download = fileName;
  anchor.rel = "noopener";
  anchor.style.display = "none";
  document.body.append(anchor);
  anchor.click();
  anchor.remove();
}

/** A file name made of these parts, without characters a file system refuses. */
export function fileNameOf(parts: readonly (string | number)[], extension: string): string {
  const base = parts
    .map((p) => String(p).trim())
    .filter(Boolean)
    .join("-")
    .replace(/[\\/:*?"<>|]+/g, "_")
    .replace(/\p{Cc}+/gu, "_")
    .replace(/\s+/g, " ")
    .slice(0, 120);
  return `${base || "download"}.${extension}`;
}

/** A changeset's file (what iTwin.js applies), as `<iModel>-changeset-<index>.cs`. */
export async function downloadChangesetFile(
  client: ModelHubClient,
  iModelId: string,
  iModelName: string,
  index: number,
): Promise<void> {
  const changeset = await client.getChangeset(iModelId, index);
  const link = changeset._links.download?.href;
  if (!link)
    throw new ModelHubError(
      403,
      "InsufficientPermissions",
      "Downloading files needs the imodels_read permission on this iModel.",
    );
  saveLink(link, fileNameOf([iModelName, "changeset", index], "cs"));
}

/** What a click on "Download .bim" found: the download started, or why not (yet). */
export type CheckpointOutcome =
  { kind: "started" } | { kind: "pending"; checkpoint: Checkpoint } | { kind: "failed"; checkpoint: Checkpoint };

/** Downloads a checkpoint's .bim if it is ready; otherwise says what state it is in. */
export function saveCheckpoint(checkpoint: Checkpoint, fileName: string): CheckpointOutcome {
  if (checkpoint.state === "failed") return { kind: "failed", checkpoint };
  if (checkpoint.state !== "successful") return { kind: "pending", checkpoint };
  const link = checkpoint._links.download?.href;
  if (!link)
    throw new ModelHubError(
      403,
      "InsufficientPermissions",
      "Downloading files needs the imodels_read permission on this iModel.",
    );
  saveLink(link, fileName);
  return { kind: "started" };
}
