export { startServer } from "./main.js";
export type { RunningServer } from "./main.js";
export { makeConfig, DEFAULTS } from "./config.js";
export type { ServerConfig } from "./config.js";
export { buildApp } from "./http/app.js";
