import { stat } from "node:fs/promises";

/** Whether anything (file, folder, …) exists at `path`. */
export async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}
