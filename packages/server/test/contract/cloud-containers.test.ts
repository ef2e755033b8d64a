import { after, before, describe } from "node:test";
import { AzureCloudContainers } from "../../src/adapters/blob/azure-cloud-containers.js";
import type { Azurite } from "@modelhub/test-support/azurite.js";
import { startAzurite } from "@modelhub/test-support/azurite.js";
import type { CloudContainersHarness } from "./cloud-containers.contract.js";
import { cloudContainersContract } from "./cloud-containers.contract.js";

// Azure Blob storage on Azurite, which checks the SAS tokens itself.
describe("Azure (Azurite)", () => {
  let azurite: Azurite;
  let harness: CloudContainersHarness;
  before(async () => {
    azurite = await startAzurite();
    const url = (container: string, rest: string, token: string) =>
      `${azurite.blobEndpoint}/${container}${rest}${rest.includes("?") ? "&" : "?"}${token}`;
    harness = {
      containers: AzureCloudContainers.fromConnectionString(azurite.connectionString),
      putBlob: async (container, blob, token) =>
        (
          await fetch(url(container, `/${blob}`, token), {
            method: "PUT",
            headers: { "x-ms-blob-type": "BlockBlob" },
            body: "bytes",
          })
        ).status,
      getBlob: async (container, blob, token) => {
        const response = await fetch(url(container, `/${blob}`, token));
        await response.arrayBuffer();
        return response.status;
      },
      listBlobs: async (container, token) => {
        const response = await fetch(url(container, "?restype=container&comp=list", token));
        await response.arrayBuffer();
        return response.status;
      },
    };
  });
  after(() => azurite.stop());
  cloudContainersContract("azure", () => harness);
});
