/** Where the hub keeps each file in the blob store. One prefix per iModel, so deleting an iModel is one call. */
export const blobKeys = {
  iModelPrefix: (iModelId: string) => `files/${iModelId}/`,
  baselineUpload: (iModelId: string) => `files/${iModelId}/baseline/upload.bim`,
  checkpoint: (iModelId: string, changesetIndex: number) => `files/${iModelId}/checkpoints/${changesetIndex}.bim`,
  changeset: (iModelId: string, changesetId: string) => `files/${iModelId}/changesets/${changesetId}.cs`,
} as const;
