// Progress of a file transfer on stderr: a cli-progress bar in a terminal, plain lines otherwise (logs, pipes, CI).
// Nothing at all for transfers that end within `MODELHUB_PROGRESS_AFTER_MS` (default 1 s): short ones need no bar.
import cliProgress from "cli-progress";
import type { ProgressCallback } from "@modelhub/client";
import { escapeControls } from "../util/text.js";

export interface TransferProgress {
  onProgress: ProgressCallback;
  /** Ends the bar (if one was shown) with its last value. */
  stop(): void;
}

export function transferProgress(label: string, stream: NodeJS.WriteStream = process.stderr): TransferProgress {
  const afterMs = Number(process.env.MODELHUB_PROGRESS_AFTER_MS ?? 1000);
  const started = Date.now();
  let bar: cliProgress.SingleBar | undefined;
  let last = { value: 0, total: 0 };
  return {
    onProgress(transferred, total) {
      last = { value: transferred, total: total ?? Math.max(transferred, 1) };
      if (!bar) {
        if (Date.now() - started < afterMs) return;
        bar = new cliProgress.SingleBar(
          {
            stream,
            // Plain lines (every second) where the stream is not a terminal.
            noTTYOutput: true,
            notTTYSchedule: 1000,
            hideCursor: stream.isTTY === true,
            format: `${escapeControls(label)} [{bar}] {percentage}% | {done} of {size}`,
          },
          cliProgress.Presets.shades_classic,
        );
        bar.start(last.total, last.value, { done: megabytes(last.value), size: megabytes(last.total) });
        return;
      }
      bar.setTotal(last.total);
      bar.update(last.value, { done: megabytes(last.value), size: megabytes(last.total) });
    },
    stop() {
      if (!bar) return;
      bar.update(last.value, { done: megabytes(last.value), size: megabytes(last.total) });
      bar.stop();
    },
  };
}

export function megabytes(bytes: number): string {
  return bytes < 1024 * 1024 ? `${(bytes / 1024).toFixed(1)} KB` : `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}
