// npm run bench [-- <name> [args]]: performance figures measured against a reference in the same run.
import { benchCheckpoints } from "./checkpoints.js";

const [only, arg] = process.argv.slice(2);

async function main(): Promise<void> {
  if (!only || only === "checkpoints") {
    const count = Number(arg ?? 1000);
    console.log(`checkpoints: usable briefcase at the tip of ${count} changesets`);
    const r = await benchCheckpoints(count);
    const met = r.speedup >= 5;
    console.log("| figure | replay from baseline | from checkpoint | speed-up | target |");
    console.log("|---|---|---|---|---|");
    console.log(`| usable briefcase at tip (${r.count} changesets) | ${(r.replayMs / 1000).toFixed(2)} s | ${(r.checkpointMs / 1000).toFixed(2)} s | ${r.speedup.toFixed(1)}× | ≥ 5× ${met ? "met" : "NOT met"} |`);
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
