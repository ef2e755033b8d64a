import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { RequestActivity } from "../../src/http/request-activity.js";

describe("RequestActivity (background work waits for a quiet moment of the API)", () => {
  const activity = new RequestActivity();
  const server = createServer((request, response) => {
    // /open never ends on its own (a change feed): its start counts, not its life.
    if (request.url === "/open") response.write("event: hello\n\n");
    else response.end("ok");
  });
  let url: string;
  before(async () => {
    activity.track(server);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const timed = async (work: () => Promise<unknown>) => {
    const start = performance.now();
    await work();
    return performance.now() - start;
  };

  it("returns only after the quiet time has passed without a request starting or ending", async () => {
    // Requests one after the other (10 ms apart) while quiet(60) waits: whenever it returns, no request may have
    // started in the 60 ms before (a request's start here comes before the server sees it).
    const starts: number[] = [];
    let firstAnswered!: () => void;
    const first = new Promise<void>((resolve) => (firstAnswered = resolve));
    const series = (async () => {
      for (let i = 0; i < 20; i++) {
        starts.push(performance.now());
        await (await fetch(`${url}/`)).text();
        if (i === 0) firstAnswered();
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    })();
    await first;
    const asked = performance.now();
    await activity.quiet(60, 5000);
    const returned = performance.now();
    await series;
    assert.ok(returned - starts[0]! >= 60, `returned ${(returned - starts[0]!).toFixed(1)} ms after the first request`);
    assert.ok(returned > asked);
    const within = starts.filter((s) => s < returned && s > returned - 60);
    assert.deepEqual(within, [], "no request started in the quiet time before it returned");
  });

  it("does not wait beyond its bound, nor for a long-lived answer once it has started", async () => {
    const open = await fetch(`${url}/open`);
    await new Promise((resolve) => setTimeout(resolve, 40));
    assert.ok((await timed(() => activity.quiet(30, 2000))) < 20, "an open event stream is not activity");
    await fetch(`${url}/`).then((r) => r.text());
    const bounded = await timed(() => activity.quiet(1000, 50));
    assert.ok(bounded >= 45 && bounded < 500, `bounded wait took ${bounded.toFixed(1)} ms`);
    await open.body?.cancel();
  });
});
