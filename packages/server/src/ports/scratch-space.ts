/**
 * Local working space for work that needs real files (the iTwin.js worker opens iModels and changesets from disk).
 * The domain asks for a directory here instead of making temporary directories itself, so where scratch files go,
 * how they are named and how a crashed process's leftovers are found stay in one adapter.
 */
export interface ScratchSpace {
  /**
   * Runs `fn` with a new, empty directory of its own (`purpose` names it, e.g. "checkpoint"), and removes it with
   * everything in it when `fn` settles. A directory left by a process that died is removed by the periodic sweep.
   */
  withDirectory<T>(purpose: string, fn: (dir: string) => Promise<T>): Promise<T>;
  /**
   * Runs `fn` with the path of a file of its own (not made yet; `name` ends it, e.g. `x.cs`) and removes that file
   * when `fn` settles: cheaper than `withDirectory` for one small file on a hot path (a push's id check).
   */
  withFile<T>(purpose: string, name: string, fn: (path: string) => Promise<T>): Promise<T>;
}
