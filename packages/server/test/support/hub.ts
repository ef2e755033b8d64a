// The in-process test hub of @modelhub/test-support, bound to this package's sources: the server's own tests import
// its modules from src/ too, so both sides share one copy of each class.
import { makeConfig } from "../../src/config.js";
import { startServer } from "../../src/main.js";
import { testHubStarter } from "@modelhub/test-support/hub.js";
import type { TestHub as SharedTestHub } from "@modelhub/test-support/hub.js";
import type { RunningServer } from "../../src/main.js";

export { ACCEPT, eventually } from "@modelhub/test-support/hub.js";
export type { ApiResponse } from "@modelhub/test-support/hub.js";
export type TestHub = SharedTestHub<RunningServer>;

/** A real hub on a loopback port over a fresh data directory (this package's sources). */
export const startTestHub = testHubStarter(startServer, makeConfig);
