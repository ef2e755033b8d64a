// Which record keeps which blob, for the files a clone or fork copies ahead of their rows: the janitor must not
// remove them while the copy's creation is still scheduled (a crash between the copies and the transaction that
// writes their rows leaves them for the job's next run), and must once the creation is over without them.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { openSqliteMetadataStore } from "../../src/adapters/sqlite/sqlite-metadata-store.js";
import { blobKeys } from "../../src/domain/blob-keys.js";
import { whyUnreferenced } from "../../src/domain/maintenance/blob-references.js";
import type { MetadataStore } from "../../src/ports/metadata-store.js";
import { iModel } from "../contract/metadata-store.contract.js";

describe("blob references of clones and forks", () => {
  let dir: string;
  let store: MetadataStore;
  const changesetId = "b".repeat(40);
  const key = blobKeys.changeset("copy1", changesetId);
  const why = () => store.read((tx) => whyUnreferenced(tx, key));

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "modelhub-refs-"));
    store = await openSqliteMetadataStore(join(dir, "metadata.db"));
  });
  after(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("keeps a copied changeset file without its row while the copy is scheduled; not once it failed; not for ordinary iModels", async () => {
    const creationSource = {
      kind: "clone" as const,
      iModelId: "source",
      changesetId,
      changesetIndex: 1,
      preserveHistory: true,
    };
    const copy = iModel("copy1", {
      creationMode: "clone",
      state: "notInitialized",
      baselineState: "initializationScheduled",
      creationSource,
    });
    await store.transaction((tx) => tx.insertIModel(copy));
    assert.equal(await why(), undefined);

    await store.transaction((tx) =>
      tx.updateIModel({ ...copy, baselineState: "initializationFailed", baselineFailure: "source deleted" }),
    );
    assert.equal(await why(), "no changeset has this id");

    await store.transaction((tx) =>
      tx.insertIModel(
        iModel("plain2", { state: "notInitialized", baselineState: "initializationScheduled", creationMode: "empty" }),
      ),
    );
    assert.equal(
      await store.read((tx) => whyUnreferenced(tx, blobKeys.changeset("plain2", changesetId))),
      "no changeset has this id",
    );
  });
});
