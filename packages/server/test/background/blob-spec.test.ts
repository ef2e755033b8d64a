// `--blobs fs|azure:<container>`: parsing, the other sources (MODELHUB_BLOBS, the config file key), and opening the
// store it names (errors in one line; the container is made if missing).
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { BlobServiceClient } from "@azure/storage-blob";
import { Command } from "commander";
import { AzureBlobStore } from "../../src/adapters/blob/azure-blob-store.js";
import { parseBlobSpec } from "../../src/adapters/blob/blob-spec.js";
import { FsBlobStore } from "../../src/adapters/blob/fs-blob-store.js";
import { openBlobStore } from "../../src/adapters/blob/open-blob-store.js";
import { applyConfigSources } from "../../src/config-sources.js";
import { ConfigError, makeConfig } from "../../src/config.js";
import type { Azurite } from "@modelhub/test-support/azurite.js";
import { AZURITE_KEY, startAzurite } from "@modelhub/test-support/azurite.js";

describe("--blobs", () => {
  it("parses fs and azure:<container>, and says what is wrong with anything else", () => {
    assert.deepEqual(parseBlobSpec("fs"), { kind: "fs" });
    assert.deepEqual(parseBlobSpec("azure:modelhub-files"), { kind: "azure", container: "modelhub-files" });
    assert.deepEqual(parseBlobSpec(" azure:abc "), { kind: "azure", container: "abc" });
    for (const [bad, says] of [
      ["s3:bucket", /must be fs .* or azure:<container>/],
      ["azure:", /container name/],
      ["azure:ab", /container name/],
      ["azure:Upper", /container name/],
      ["azure:double--hyphen", /container name/],
      ["azure:-leading", /container name/],
      [`azure:${"a".repeat(64)}`, /container name/],
      ["", /must be fs/],
    ] as const) {
      assert.throws(
        () => parseBlobSpec(bad),
        (err: unknown) => err instanceof ConfigError && says.test(err.message),
        bad,
      );
    }
  });

  it("defaults to fs; comes from the command line, MODELHUB_BLOBS or the config file key, in that order", async () => {
    assert.deepEqual(makeConfig({}).blobs, { kind: "fs" });
    const dir = await mkdtemp(join(tmpdir(), "modelhub-blobspec-"));
    try {
      const file = join(dir, "modelhub.json");
      await writeFile(file, JSON.stringify({ blobs: "azure:from-file" }));
      const blobsOf = (argv: string[], env: NodeJS.ProcessEnv) => {
        const command = new Command("serve")
          .exitOverride()
          .option("--blobs <spec>", "", "fs")
          .option("--config <file>", "")
          .action(() => undefined);
        command.parse(argv, { from: "user" });
        applyConfigSources(command, env);
        return makeConfig({ blobs: parseBlobSpec(command.opts<{ blobs: string }>().blobs) }).blobs;
      };
      assert.deepEqual(blobsOf([], {}), { kind: "fs" });
      assert.deepEqual(blobsOf(["--config", file], {}), { kind: "azure", container: "from-file" });
      assert.deepEqual(blobsOf(["--config", file], { MODELHUB_BLOBS: "azure:from-env" }), {
        kind: "azure",
        container: "from-env",
      });
      assert.deepEqual(blobsOf(["--config", file, "--blobs", "fs"], { MODELHUB_BLOBS: "azure:from-env" }), {
        kind: "fs",
      });
      assert.throws(() => blobsOf([], { MODELHUB_BLOBS: "azure:NO" }), ConfigError);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("openBlobStore", () => {
  let azurite: Azurite;
  let dataDir: string;
  before(async () => {
    azurite = await startAzurite();
    dataDir = await mkdtemp(join(tmpdir(), "modelhub-openblobs-"));
  });
  after(async () => {
    await azurite.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it("fs: files under <data>/blobs", async () => {
    const store = await openBlobStore({ kind: "fs" }, dataDir, {});
    assert.ok(store instanceof FsBlobStore);
    assert.equal(store.localPath?.("files/x"), join(dataDir, "blobs", "files/x"));
  });

  it("azure: creates the container if missing, and opens it again as it is", async () => {
    const env = { AZURE_STORAGE_CONNECTION_STRING: azurite.connectionString };
    const service = BlobServiceClient.fromConnectionString(azurite.connectionString);
    assert.equal(await service.getContainerClient("made-by-open").exists(), false);
    const store = await openBlobStore({ kind: "azure", container: "made-by-open" }, dataDir, env);
    assert.ok(store instanceof AzureBlobStore);
    assert.equal(await service.getContainerClient("made-by-open").exists(), true);
    await store.put("files/kept", Readable.from([Buffer.from("kept")]));
    const again = await openBlobStore({ kind: "azure", container: "made-by-open" }, dataDir, env);
    assert.equal((await again.stat("files/kept"))?.size, 4);
  });

  it("azure: a missing variable, a key-less connection string or an unreachable account is one clear line", async () => {
    const spec = { kind: "azure", container: "files" } as const;
    await assert.rejects(
      openBlobStore(spec, dataDir, {}),
      /^Error: --blobs azure:files needs the storage account in AZURE_STORAGE_CONNECTION_STRING/,
    );
    await assert.rejects(
      openBlobStore(spec, dataDir, { AZURE_STORAGE_CONNECTION_STRING: "  " }),
      /needs the storage account/,
    );
    const sasOnly = `BlobEndpoint=${azurite.blobEndpoint};SharedAccessSignature=sv=2020-08-04&ss=b&srt=sco&sp=rwdlac&se=2099-01-01T00:00:00Z&sig=x`;
    await assert.rejects(
      openBlobStore(spec, dataDir, { AZURE_STORAGE_CONNECTION_STRING: sasOnly }),
      /must name the account key/,
    );
    const started = Date.now();
    const unreachable = `DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=${AZURITE_KEY};BlobEndpoint=http://127.0.0.1:9/devstoreaccount1;`;
    await assert.rejects(
      openBlobStore(spec, dataDir, { AZURE_STORAGE_CONNECTION_STRING: unreachable }),
      (err: Error) => {
        assert.match(
          err.message,
          /^Cannot open Azure container 'files' of the account in AZURE_STORAGE_CONNECTION_STRING: .*ECONNREFUSED/,
        );
        assert.doesNotMatch(err.message, /\n/);
        return true;
      },
    );
    assert.ok(Date.now() - started < 15_000, `gave up after ${Date.now() - started} ms`);
  });
});
