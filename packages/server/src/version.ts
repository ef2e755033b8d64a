import { readFileSync } from "node:fs";

/**
 * This modelhub's version: the one in @modelhub/server's package.json, which ships next to dist/ in the repository
 * and in the packed server alike (`modelhub --version`, the serve banner and `GET /health` print it).
 */
export const VERSION: string = (
  JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }
).version;
