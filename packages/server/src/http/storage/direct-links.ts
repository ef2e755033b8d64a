import { parseBlobKey } from "../../domain/blob-keys.js";
import type { BlobStore } from "../../ports/blob-store.js";
import type { StorageLinks } from "../presenters.js";

/**
 * Links straight to the blob store (Azure SAS URLs), for stores that can issue them; undefined for stores whose
 * bytes travel through the hub's own `/storage` routes. `storageType` stays "azure": the clients speak Azure's
 * protocol to either.
 *
 * A direct write link cannot be refused when it is used (the hub never sees the request), so one is only ever made
 * for an upload key: completion moves the upload to a key no link names (blob-keys.ts), and the bytes verified there
 * are the bytes kept. Asking for a write link to any other key is a bug, and throws.
 */
export function directStorageLinks(blobs: BlobStore, ttlSeconds: number): StorageLinks | undefined {
  if (!blobs.directLink) return undefined;
  const link = blobs.directLink.bind(blobs);
  const expiresOn = (ttl = ttlSeconds) => new Date(Date.now() + Math.min(ttl, ttlSeconds) * 1000);
  return {
    // The declared size cannot travel in a SAS: completion compares the stored size with it instead.
    upload: (key) => {
      const kind = parseBlobKey(key)?.kind;
      if (kind !== "changesetUpload" && kind !== "baselineUpload")
        throw new Error(`Refusing a direct write link to '${key}': only upload keys may be written by clients.`);
      return { href: link(key, "w", expiresOn()), storageType: "azure" };
    },
    download: (key, ttl) => ({ href: link(key, "r", expiresOn(ttl)), storageType: "azure" }),
  };
}
