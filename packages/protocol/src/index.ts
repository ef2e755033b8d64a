export * from "./entities.js";
export * from "./errors.js";
export * from "./events.js";
export * from "./gates.js";
export * from "./itwins.js";
export * from "./media.js";
export * from "./permissions.js";
export * from "./webhooks.js";
