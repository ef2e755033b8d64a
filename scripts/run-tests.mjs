// Runs every *.test.ts under packages/*/test with node's test runner (Node 20's --test takes no globs). Test files
// use free ports, data directories of their own, private PostgreSQL schemas and Azurite processes of their own, so
// most can share the machine. A marker in a file's first lines places it:
//   // run-tests: heavy (why)   many processes for minutes: one heavy file at a time, in a lane beside the others
//                               (the long files are split between the two lanes so that they end together);
//   // run-tests: alone (why)   measures latency or memory, or has sub-second deadlines: run after everything else,
//                               one at a time, with nothing beside it.
// Lanes: the heavy files one after the other, and beside them the other files MODELHUB_TEST_CONCURRENCY at a time
// (default 2); then the alone files. MODELHUB_TEST_CONCURRENCY=1 runs every file one at a time, as before.
// Each lane's TAP output is printed as one block when the lane ends (top-level results as they come); the last
// lines say how long each lane took. Extra arguments narrow the run: `npm run test:unit -- packages/server/test/e2e`.
// Logs that failed long runs keep (crash, scale-out…) are in test-results/ (see packages/test-support/src/artifacts.ts).
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { Buffer } from "node:buffer";

function find(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    if (name === "node_modules" || name === "dist") continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...find(path));
    else if (name.endsWith(".test.ts")) out.push(path);
  }
  return out;
}

/** The file's `// run-tests: <placement>` marker (looked for in its first 40 lines), if any. */
function placement(file) {
  const head = readFileSync(file, "utf8").split("\n").slice(0, 40).join("\n");
  return /^\/\/ run-tests: (heavy|alone)\b/m.exec(head)?.[1];
}

/** One `node --test` process; its output is kept and printed when it ends (top-level results at once). */
function lane(name, files, concurrency, streamed) {
  const started = Date.now();
  return new Promise((done) => {
    if (files.length === 0) return done({ name, ok: true, status: 0, seconds: 0, files: 0 });
    const child = spawn(
      process.execPath,
      // --test-force-exit: a file whose tests are over ends even if something it started is still running (a test
      // that timed out goes on running beside its `after` hook; once it restarted a hub after `after` had stopped it,
      // and that file's process waited for it for good).
      ["--import", "tsx", "--test", "--test-force-exit", `--test-concurrency=${concurrency}`, ...files],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    const chunks = [];
    let partial = "";
    child.stdout.on("data", (chunk) => {
      chunks.push(chunk);
      if (streamed) {
        process.stdout.write(chunk);
        return;
      }
      partial += chunk.toString();
      const lines = partial.split("\n");
      partial = lines.pop();
      for (const line of lines) if (/^(not )?ok \d+ - /.test(line)) console.log(`# [${name}] ${line}`);
    });
    child.on("exit", (code, signal) => {
      const tap = Buffer.concat(chunks).toString();
      if (!streamed) process.stdout.write(`\n# ---- ${name}: TAP output\n${tap}`);
      done({
        name,
        failures: failuresIn(tap),
        ok: code === 0,
        status: code ?? (signal ? 1 : 0),
        seconds: (Date.now() - started) / 1000,
        files: files.length,
      });
    });
  });
}

/**
 * Each failed test of a TAP text with its error lines, to repeat at the very end of the run: a CI log is often read
 * from its end only, and a lane's block of TAP output ends long before it.
 */
function failuresIn(tap) {
  const lines = tap.split("\n");
  const failures = [];
  lines.forEach((line, i) => {
    const failed = /^(\s*)not ok \d+ - (.*)$/.exec(line);
    if (!failed) return;
    const detail = [];
    for (let j = i + 1; j < lines.length && detail.length < 12; j++) {
      const next = lines[j];
      if (/^\s*\.\.\.$/.test(next) || /^\s*(not )?ok \d+ - /.test(next)) break;
      if (/^\s*(error|location|failureType|expected|actual):/.test(next) || /^\s{6,}\S/.test(next))
        detail.push(next.trim());
    }
    failures.push(`${failed[1]}not ok - ${failed[2]}${detail.length ? `\n#     ${detail.join("\n#     ")}` : ""}`);
  });
  return failures;
}

function artefactsSince(since) {
  const root = resolve(process.env.MODELHUB_TEST_ARTIFACTS ?? "test-results");
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .map((name) => join(root, name))
    .filter((path) => statSync(path).mtimeMs >= since);
}

const roots = process.argv.slice(2);
const files = (roots.length ? roots : readdirSync("packages").map((p) => join("packages", p, "test")))
  .flatMap((root) => {
    try {
      return statSync(root).isDirectory() ? find(root) : [root];
    } catch {
      return [];
    }
  })
  .sort();
if (files.length === 0) {
  console.error("no test files found");
  process.exit(1);
}
const concurrency = Math.max(1, Math.floor(Number(process.env.MODELHUB_TEST_CONCURRENCY ?? 2)) || 1);
const placed = new Map(files.map((f) => [f, placement(f)]));
const heavy = files.filter((f) => placed.get(f) === "heavy");
const alone = files.filter((f) => placed.get(f) === "alone");
const shared = files.filter((f) => !placed.get(f));
const started = Date.now();
const results = [];
if (concurrency === 1) {
  results.push(await lane("all, one at a time", [...shared, ...heavy, ...alone], 1, true));
} else {
  const beside = [
    { name: "heavy", files: heavy, concurrency: 1 },
    { name: `shared, ${concurrency} at a time`, files: shared, concurrency },
  ].filter((l) => l.files.length > 0);
  // A lane alone streams its output as it comes.
  results.push(...(await Promise.all(beside.map((l) => lane(l.name, l.files, l.concurrency, beside.length === 1)))));
  results.push(await lane("alone", alone, 1, true));
}
for (const r of results)
  if (r.files)
    console.log(
      `# run-tests: ${r.name} (${r.files} files): ${r.ok ? "passed" : "FAILED"} in ${r.seconds.toFixed(0)} s`,
    );
console.log(`# run-tests: ${files.length} files in ${((Date.now() - started) / 1000).toFixed(0)} s`);
for (const r of results)
  for (const failure of r.failures ?? []) console.log(`# run-tests: [${r.name}] ${failure.replace(/^\s+/, "")}`);
for (const dir of artefactsSince(started)) console.log(`# run-tests: logs kept by a failed run: ${dir}`);
const failed = results.find((r) => !r.ok);
process.exit(failed ? failed.status || 1 : 0);
