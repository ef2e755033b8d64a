// Runs shell commands at the same time (`node scripts/parallel.mjs "npm run lint" "npm run typecheck:tests"`): each
// command's output is printed as one block when it ends, with its time; exits 1 if any command failed. `npm test`
// runs the type checks, the linter and the iTwin.js 4.x host install this way: on two cores they take about as
// long together as the longest alone.
import { spawn } from "node:child_process";
import { Buffer } from "node:buffer";

const commands = process.argv.slice(2);
const results = await Promise.all(
  commands.map(
    (command) =>
      new Promise((done) => {
        const started = Date.now();
        const child = spawn(command, { shell: true, stdio: ["ignore", "pipe", "pipe"] });
        const output = [];
        child.stdout.on("data", (chunk) => output.push(chunk));
        child.stderr.on("data", (chunk) => output.push(chunk));
        child.on("exit", (code, signal) => {
          const seconds = ((Date.now() - started) / 1000).toFixed(0);
          process.stdout.write(
            `\n> ${command}  (${code === 0 ? "ok" : `FAILED: ${signal ?? code}`}, ${seconds} s)\n${Buffer.concat(output).toString()}`,
          );
          done(code === 0);
        });
      }),
  ),
);
process.exit(results.every(Boolean) ? 0 : 1);
