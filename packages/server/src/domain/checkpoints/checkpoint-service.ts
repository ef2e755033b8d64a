import type { CheckpointRecord, MetadataStore } from "../../ports/metadata-store.js";
import { notFound } from "../errors.js";
import { requireIModel, resolveChangesetIndex } from "../guards.js";

/**
 * Checkpoints: the iModel file as of a changeset. Today the hub makes the baseline checkpoint (index 0) when an
 * iModel is initialized; generating later ones is the job of a checkpoint worker (a later addition), which will
 * write rows through the same store.
 */
export class CheckpointService {
  constructor(private readonly store: MetadataStore) {}

  async forChangeset(iModelId: string, ref: { index: number } | { id: string }): Promise<CheckpointRecord> {
    const record = await this.store.read(async (tx) => {
      await requireIModel(tx, iModelId);
      const { index } = await resolveChangesetIndex(tx, iModelId, ref);
      return tx.getCheckpoint(iModelId, index);
    });
    if (!record) throw notFound.checkpoint();
    return record;
  }

  async forNamedVersion(iModelId: string, namedVersionId: string): Promise<CheckpointRecord> {
    const record = await this.store.read(async (tx) => {
      await requireIModel(tx, iModelId);
      const version = await tx.getNamedVersion(iModelId, namedVersionId);
      if (!version) throw notFound.namedVersion();
      return tx.getCheckpoint(iModelId, version.changesetIndex);
    });
    if (!record) throw notFound.checkpoint();
    return record;
  }

  /** The newest successful checkpoint (what `GET /briefcases/checkpoint` answers). */
  async latest(iModelId: string): Promise<CheckpointRecord> {
    const record = await this.store.read(async (tx) => {
      await requireIModel(tx, iModelId);
      return tx.getLatestCheckpoint(iModelId);
    });
    if (!record) throw notFound.checkpoint();
    return record;
  }

  /** The newest successful checkpoint at or before a changeset index (for `currentOrPrecedingCheckpoint`). */
  async preceding(iModelId: string, changesetIndex: number): Promise<CheckpointRecord | undefined> {
    return this.store.read((tx) => tx.getPrecedingCheckpoint(iModelId, changesetIndex));
  }
}
