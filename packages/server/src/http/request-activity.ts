import type { Server } from "node:http";
import { setTimeout as sleep } from "node:timers/promises";

/**
 * When a server last started or finished an HTTP request, so that background work can wait for a quiet moment
 * (main.ts gives it to the job runner). Long-lived answers (a change feed's event stream) count when they start and
 * end, not while they stay open.
 */
export class RequestActivity {
  #last = 0;

  track(server: Server): void {
    server.on("request", (_request, response) => {
      this.#last = performance.now();
      response.once("close", () => {
        this.#last = performance.now();
      });
    });
  }

  /** Resolves once no request has started or finished for `quietMs`, or after `maxWaitMs` at most. */
  async quiet(quietMs: number, maxWaitMs: number): Promise<void> {
    const deadline = performance.now() + maxWaitMs;
    for (;;) {
      const now = performance.now();
      const quietFor = now - this.#last;
      if (quietFor >= quietMs || now >= deadline) return;
      await sleep(Math.min(quietMs - quietFor, deadline - now) + 0.5);
    }
  }
}
