/**
 * Where the hub keeps each file in the blob store: the one place that knows the key layout. One prefix per iModel,
 * so deleting an iModel is one call.
 *
 * Upload links only ever name an upload key (`uploads/…`, `baseline/upload.bim`); a completed changeset, a received
 * baseline and a checkpoint live under keys no link can write, so what was verified is what is kept.
 */
export const blobKeys = {
  iModelPrefix: (iModelId: string) => `files/${iModelId}/`,
  /** Where the client uploads a baseline file (writable while the iModel waits for it). */
  baselineUpload: (iModelId: string) => `files/${iModelId}/baseline/upload.bim`,
  /** The uploaded baseline once the client said it is complete (frozen: the initialization job reads this). */
  baselineReceived: (iModelId: string) => `files/${iModelId}/baseline/received.bim`,
  /**
   * A checkpoint file. Each run of a checkpoint job writes its own key (`nonce`), so a key is never reused: deleting
   * a pruned checkpoint's file later can never hit a newer checkpoint of the same changeset. The baseline's has none.
   */
  checkpoint: (iModelId: string, changesetIndex: number, nonce?: string) =>
    `files/${iModelId}/checkpoints/${changesetIndex}${nonce === undefined ? "" : `-${nonce}`}.bim`,
  /** A completed changeset's file. */
  changeset: (iModelId: string, changesetId: string) => `files/${iModelId}/changesets/${changesetId}.cs`,
  /** Where one push (changeset id + briefcase) uploads its file before completing. */
  changesetUpload: (iModelId: string, changesetId: string, briefcaseId: number) =>
    `files/${iModelId}/uploads/${changesetId}.${briefcaseId}.cs`,
  /** The iModel's uploaded thumbnail (PNG or JPEG, as uploaded; served for both sizes). */
  thumbnail: (iModelId: string) => `files/${iModelId}/thumbnail/custom.img`,
} as const;

export type BlobKeyRef =
  | { kind: "changeset"; iModelId: string; changesetId: string }
  | { kind: "changesetUpload"; iModelId: string; changesetId: string; briefcaseId: number }
  | { kind: "baselineUpload"; iModelId: string }
  | { kind: "baselineReceived"; iModelId: string }
  | { kind: "checkpoint"; iModelId: string; changesetIndex: number }
  | { kind: "thumbnail"; iModelId: string };

const PATTERNS: [RegExp, (m: RegExpExecArray) => BlobKeyRef][] = [
  [
    /^files\/([^/]+)\/changesets\/([0-9a-f]{40})\.cs$/,
    (m) => ({ kind: "changeset", iModelId: m[1]!, changesetId: m[2]! }),
  ],
  [
    /^files\/([^/]+)\/uploads\/([0-9a-f]{40})\.(\d{1,9})\.cs$/,
    (m) => ({ kind: "changesetUpload", iModelId: m[1]!, changesetId: m[2]!, briefcaseId: Number(m[3]) }),
  ],
  [/^files\/([^/]+)\/baseline\/upload\.bim$/, (m) => ({ kind: "baselineUpload", iModelId: m[1]! })],
  [/^files\/([^/]+)\/baseline\/received\.bim$/, (m) => ({ kind: "baselineReceived", iModelId: m[1]! })],
  [
    /^files\/([^/]+)\/checkpoints\/(\d{1,15})(?:-[0-9a-z]{1,64})?\.bim$/,
    (m) => ({ kind: "checkpoint", iModelId: m[1]!, changesetIndex: Number(m[2]) }),
  ],
  [/^files\/([^/]+)\/thumbnail\/custom\.img$/, (m) => ({ kind: "thumbnail", iModelId: m[1]! })],
];

/** What a key names, or undefined for a key the hub never makes. */
export function parseBlobKey(key: string): BlobKeyRef | undefined {
  for (const [pattern, make] of PATTERNS) {
    const m = pattern.exec(key);
    if (m) return make(m);
  }
  return undefined;
}

/** The iModel whose folder a key is in (`files/<iModelId>/…`), or undefined. */
export function iModelOfKey(key: string): string | undefined {
  return /^files\/([^/]+)\//.exec(key)?.[1];
}
