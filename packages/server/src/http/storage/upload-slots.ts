import type { FastifyReply } from "fastify";

/** Why a slot was refused: every slot of the hub is taken, or every one the user may hold. */
export type SlotRefusal = "hub" | "user";

/**
 * A fixed number of storage uploads at once, shared fairly: each upload holds a connection, a temporary file and
 * disk bandwidth, so past the limit the hub answers at once (Azure's `503 ServerBusy`, which the Azure SDK retries
 * after `retry-after`) instead of queueing bodies it would have to hold; and one user — the user a link was issued
 * to, which the link signs — holds at most `perUser` of them, so others always find a slot.
 */
export class UploadSlots {
  #inUse = 0;
  readonly #byUser = new Map<string, number>();
  readonly perUser: number;

  constructor(
    readonly limit: number,
    perUser = defaultUploadsPerUser(limit),
  ) {
    this.perUser = Math.min(perUser, limit);
  }

  get inUse(): number {
    return this.#inUse;
  }

  /**
   * Takes a slot of `user` (`""` for links that name none) for this reply, given back when its response is finished
   * or its connection closes (whichever comes first, once). Says why not when it cannot.
   */
  tryTake(reply: FastifyReply, user: string): SlotRefusal | undefined {
    if (this.#inUse >= this.limit) return "hub";
    const held = this.#byUser.get(user) ?? 0;
    if (held >= this.perUser) return "user";
    this.#inUse++;
    this.#byUser.set(user, held + 1);
    let taken = true;
    const giveBack = () => {
      if (!taken) return;
      taken = false;
      this.#inUse--;
      const left = (this.#byUser.get(user) ?? 1) - 1;
      if (left > 0) this.#byUser.set(user, left);
      else this.#byUser.delete(user);
    };
    reply.raw.once("close", giveBack);
    reply.raw.once("finish", giveBack);
    return undefined;
  }
}

/** A quarter of the slots (at least one): four users uploading at full tilt still leave each other room. */
export function defaultUploadsPerUser(limit: number): number {
  return Math.max(1, Math.ceil(limit / 4));
}

/** Seconds a client is told to wait when every upload slot (of the hub or of its user) is taken. */
export const UPLOAD_RETRY_AFTER_SECONDS = 1;
