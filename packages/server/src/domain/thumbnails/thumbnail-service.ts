import { Readable } from "node:stream";
import type { BlobStore } from "../../ports/blob-store.js";
import type { MetadataStore } from "../../ports/metadata-store.js";
import { blobKeys } from "../blob-keys.js";
import { HubError, notFound } from "../errors.js";
import { DEFAULT_THUMBNAIL_PNG } from "./default-thumbnails.js";

export type ThumbnailSize = "small" | "large";
export type ThumbnailType = "image/png" | "image/jpeg";

/** The cloud's limit for an uploaded thumbnail. */
export const MAX_THUMBNAIL_BYTES = 5 * 1024 * 1024;

const PNG_MAGIC = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const JPEG_MAGIC = Buffer.from([0xff, 0xd8, 0xff]);

/** What the first bytes say the image is (the declared Content-Type is not trusted), or undefined. */
export function sniffImageType(head: Buffer): ThumbnailType | undefined {
  if (head.length >= PNG_MAGIC.length && head.subarray(0, PNG_MAGIC.length).equals(PNG_MAGIC)) return "image/png";
  if (head.length >= JPEG_MAGIC.length && head.subarray(0, JPEG_MAGIC.length).equals(JPEG_MAGIC)) return "image/jpeg";
  return undefined;
}

export interface Thumbnail {
  type: ThumbnailType;
  size: number;
  stream: Readable;
  /** True when the iModel has no uploaded thumbnail and this is the hub's default one. */
  isDefault: boolean;
}

/**
 * An iModel's thumbnail: the one uploaded (PNG or JPEG, kept as uploaded and served for both sizes: the hub has no
 * image library to convert or scale it), else a default PNG of the requested size.
 */
export class ThumbnailService {
  constructor(
    private readonly store: MetadataStore,
    private readonly blobs: BlobStore,
  ) {}

  async upload(iModelId: string, image: Buffer): Promise<ThumbnailType> {
    const type = sniffImageType(image);
    if (!type) {
      throw new HubError(
        "InvalidThumbnailFormat",
        "The thumbnail must be a PNG or a JPEG image; the uploaded bytes are neither.",
      );
    }
    await this.assertIModel(iModelId);
    // Atomic replace; if the iModel is deleted meanwhile, the janitor removes the file with the rest of its folder.
    await this.blobs.put(blobKeys.thumbnail(iModelId), Readable.from([image]));
    return type;
  }

  async download(iModelId: string, size: ThumbnailSize): Promise<Thumbnail> {
    await this.assertIModel(iModelId);
    const blob = await this.blobs.get(blobKeys.thumbnail(iModelId));
    if (blob) {
      // One read: the type comes from the first bytes of the very stream that is served.
      const { head, stream } = await peek(blob.stream, PNG_MAGIC.length);
      return { type: sniffImageType(head) ?? "image/png", size: blob.info.size, stream, isDefault: false };
    }
    const png = Buffer.from(DEFAULT_THUMBNAIL_PNG[size], "base64");
    return { type: "image/png", size: png.length, stream: Readable.from([png]), isDefault: true };
  }

  private async assertIModel(iModelId: string): Promise<void> {
    if (!(await this.store.read((tx) => tx.getIModel(iModelId)))) throw notFound.iModel();
  }
}

/** The first `bytes` bytes of a stream (or fewer, if it is shorter), and a stream that still yields everything. */
async function peek(source: Readable, bytes: number): Promise<{ head: Buffer; stream: Readable }> {
  const iterator = source[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const first: Buffer[] = [];
  let length = 0;
  let done = false;
  while (length < bytes) {
    const next = await iterator.next();
    if (next.done) {
      done = true;
      break;
    }
    first.push(next.value);
    length += next.value.length;
  }
  async function* all(): AsyncGenerator<Buffer> {
    try {
      yield* first;
      if (done) return;
      for (let next = await iterator.next(); !next.done; next = await iterator.next()) yield next.value;
    } finally {
      source.destroy(); // the reader went away early (or finished): the file is closed either way
    }
  }
  const stream = Readable.from(all());
  // Destroyed before its first read, the generator never runs its finally.
  stream.once("close", () => source.destroy());
  return { head: Buffer.concat(first).subarray(0, bytes), stream };
}
