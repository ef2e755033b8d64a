// Stands in for node:fs in the browser bundle (see vite.config.ts): file transfers to disk are the CLI's.
function unavailable(): never {
  throw new Error("Reading or writing local files is not available in the browser.");
}
export const stat = unavailable;
export const open = unavailable;
export const rename = unavailable;
export const rm = unavailable;
export const createReadStream = unavailable;
export default {};
