import type { FastifyReply } from "fastify";

/**
 * A fixed number of storage uploads at once. Each upload holds a connection, a temporary file and disk bandwidth;
 * past the limit the hub answers at once (Azure's `503 ServerBusy`, which the Azure SDK retries after
 * `retry-after`) instead of queueing bodies it would have to hold.
 */
export class UploadSlots {
  #inUse = 0;

  constructor(readonly limit: number) {}

  get inUse(): number {
    return this.#inUse;
  }

  /**
   * Takes a slot for this reply, given back when its response is finished or its connection closes (whichever comes
   * first, once). False when all slots are taken.
   */
  tryTake(reply: FastifyReply): boolean {
    if (this.#inUse >= this.limit) return false;
    this.#inUse++;
    let held = true;
    const giveBack = () => {
      if (!held) return;
      held = false;
      this.#inUse--;
    };
    reply.raw.once("close", giveBack);
    reply.raw.once("finish", giveBack);
    return true;
  }
}

/** Seconds a client is told to wait when every upload slot is taken. */
export const UPLOAD_RETRY_AFTER_SECONDS = 1;
