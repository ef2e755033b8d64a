import { ModelHubError } from "@modelhub/client";

/** One readable line for any failure: the API's code and message when the hub refused. */
export function describeError(err: unknown): string {
  if (err instanceof ModelHubError) return err.describe();
  return err instanceof Error ? err.message : String(err);
}

export function isUnauthorized(err: unknown): boolean {
  return err instanceof ModelHubError && err.status === 401;
}

const UNITS = ["B", "KB", "MB", "GB", "TB"];

export function formatBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined || !Number.isFinite(bytes)) return "—";
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(value < 10 ? 1 : 0)} ${UNITS[unit]}`;
}

const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

export function formatDate(iso: string | null | undefined): string {
  if (!iso) return "—";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : dateFormat.format(date);
}
