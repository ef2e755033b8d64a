/** Runs functions one at a time per key (e.g. two completions of the same push), in arrival order. */
export class KeyedMutex {
  readonly #tails = new Map<string, Promise<unknown>>();

  /** `fn` is told whether it waited for another one of its key (what it read before may have changed meanwhile). */
  async run<T>(key: string, fn: (waited: boolean) => Promise<T>): Promise<T> {
    const previous = this.#tails.get(key);
    const result = previous
      ? previous.then(
          () => fn(true),
          () => fn(true),
        )
      : fn(false);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.#tails.set(key, tail);
    try {
      return await result;
    } finally {
      // The last one out leaves no entry behind.
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    }
  }
}
