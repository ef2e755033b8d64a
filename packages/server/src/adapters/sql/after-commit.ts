/**
 * The effects one write transaction registered with `MetadataTx.afterCommit`, held until the store knows how the
 * transaction ended: `runAll` after COMMIT succeeded, `drop` after a rollback (or a failed COMMIT). Each store makes
 * one per transaction, so effects of one transaction never leak into the next.
 */
export class AfterCommitEffects {
  #effects: (() => void)[] = [];
  #ended = false;

  add(effect: () => void): void {
    if (this.#ended)
      throw new Error("This metadata transaction has ended; register after-commit effects inside its callback.");
    this.#effects.push(effect);
  }

  /** Runs every effect once, in the order registered. One that throws does not stop the others or fail the commit. */
  runAll(): void {
    const effects = this.#end();
    for (const effect of effects) {
      try {
        effect();
      } catch (err) {
        // The write committed: its caller must get its answer. An effect is a notification (an event, a nudge);
        // the port says effects never throw, so one that does is a bug worth a warning, not a failed request.
        process.emitWarning(err instanceof Error ? err : new Error(String(err)), { code: "MODELHUB_AFTER_COMMIT" });
      }
    }
  }

  /** The transaction did not commit: nothing registered runs. */
  drop(): void {
    this.#end();
  }

  #end(): (() => void)[] {
    this.#ended = true;
    const effects = this.#effects;
    this.#effects = [];
    return effects;
  }
}
