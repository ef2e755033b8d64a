// Small hub figures against a `modelhub serve` process (npm run bench -- basics): its idle memory, and the latency
// of a 1,000-id lock request.
import { readFile } from "node:fs/promises";
import { startHubProcess } from "@modelhub/test-support/hub-process.js";
import { api, emptyIModel } from "./hub-only.js";
import { percentile } from "./stats.js";

export interface BasicFigures {
  /** Resident memory of an idle embedded hub, after a full garbage collection (MB). */
  idleRssMb: number;
  /** A 1,000-id exclusive lock request (PATCH /imodels/{id}/locks), each on fresh ids, released in between. */
  lock1000: { p50: number; p99: number; requests: number };
}

async function rssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) / 1024;
}

export async function benchBasics(requests = 50): Promise<BasicFigures> {
  const hub = await startHubProcess({ logLevel: "error", inspect: true });
  try {
    const iModelId = await emptyIModel(hub.url, "basics");
    const briefcaseId = (await api(hub.url, "POST", `/${iModelId}/briefcases`, {})).briefcase.briefcaseId as number;
    const times: number[] = [];
    for (let r = 0; r < requests + 5; r++) {
      const objectIds = Array.from({ length: 1000 }, (_, i) => `0x${(r * 1000 + i + 1).toString(16)}`);
      const start = performance.now();
      await api(hub.url, "PATCH", `/${iModelId}/locks`, {
        briefcaseId,
        changesetId: "",
        lockedObjects: [{ lockLevel: "exclusive", objectIds }],
      });
      if (r >= 5) times.push(performance.now() - start); // the first five warm up
      await api(hub.url, "POST", `/${iModelId}/locks/release-chunk`, { briefcaseId, changesetId: "" });
    }
    // Idle: a few seconds without requests, then what the hub keeps after a full collection.
    await new Promise((resolve) => setTimeout(resolve, 5000));
    await hub.collectGarbage();
    return {
      idleRssMb: await rssMb(hub.pid),
      lock1000: { p50: percentile(times, 50), p99: percentile(times, 99), requests },
    };
  } finally {
    await hub.stop();
  }
}
