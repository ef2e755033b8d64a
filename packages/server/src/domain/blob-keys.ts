/** Where the hub keeps each file in the blob store. One prefix per iModel, so deleting an iModel is one call. */
export const blobKeys = {
  iModelPrefix: (iModelId: string) => `files/${iModelId}/`,
  baselineUpload: (iModelId: string) => `files/${iModelId}/baseline/upload.bim`,
  checkpoint: (iModelId: string, changesetIndex: number) => `files/${iModelId}/checkpoints/${changesetIndex}.bim`,
  changeset: (iModelId: string, changesetId: string) => `files/${iModelId}/changesets/${changesetId}.cs`,
} as const;

const CHANGESET_KEY = /^files\/([^/]+)\/changesets\/([0-9a-f]{40})\.cs$/;

/** The iModel and changeset a changeset file's key names, or undefined for any other key. */
export function parseChangesetKey(key: string): { iModelId: string; changesetId: string } | undefined {
  const m = CHANGESET_KEY.exec(key);
  return m ? { iModelId: m[1]!, changesetId: m[2]! } : undefined;
}
