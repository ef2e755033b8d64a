import { HubError } from "../domain/errors.js";

/**
 * At most `running` operations of one user at a time, the next `waiting` in line (first come, first served), any
 * more refused with `429 TooManyRequests` and `retry-after`. For expensive requests that all end in one queue anyway
 * (lock updates take the iModel's write transaction one after the other): one user's burst then holds at most
 * `running` places ahead of everyone else's pushes, and at most `running + waiting` bodies and answers in memory.
 */
export class PerUserLimit {
  readonly #users = new Map<string, { running: number; queue: (() => void)[] }>();

  constructor(
    private readonly running: number,
    private readonly waiting: number,
    /** Names the operation in the refusal ("lock requests"). */
    private readonly what: string,
  ) {}

  async run<T>(userId: string, operation: () => Promise<T>): Promise<T> {
    let user = this.#users.get(userId);
    if (!user) this.#users.set(userId, (user = { running: 0, queue: [] }));
    if (user.running < this.running) {
      user.running++;
    } else {
      if (user.queue.length >= this.waiting) {
        throw new HubError(
          "TooManyRequests",
          `More than ${this.running + this.waiting} ${this.what} of one user at once; retry when some have been answered.`,
          { retryAfterSeconds: 1 },
        );
      }
      // Woken with the place of the operation that ended (handed over: nobody can take it in between).
      await new Promise<void>((resolve) => user.queue.push(resolve));
    }
    try {
      return await operation();
    } finally {
      const next = user.queue.shift();
      if (next) next();
      else if (--user.running === 0) this.#users.delete(userId);
    }
  }
}
