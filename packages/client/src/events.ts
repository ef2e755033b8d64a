// Server-sent events read from an answer's body (any transport's stream). The browser's EventSource cannot send an
// Authorization header, and the hub's change feed authenticates like the rest of the API; reading the stream through
// the client's transport keeps the token in the header (never in a URL, where logs and histories keep it).
import type { IModelEvent, SequencedIModelEvent } from "@modelhub/protocol";

/** One event as the text/event-stream format frames it. */
export interface ServerSentEvent {
  id: string | undefined;
  event: string;
  data: string;
}

/** Parses a text/event-stream body (the WHATWG rules: `field: value` lines, blank line ends an event, `:` comments). */
export async function* parseServerSentEvents(body: AsyncIterable<Uint8Array>): AsyncGenerator<ServerSentEvent> {
  const decoder = new TextDecoder();
  let buffer = "";
  let id: string | undefined;
  let event = "";
  let data: string[] = [];
  for await (const value of body) {
    buffer += decoder.decode(value, { stream: true });
    let newline: number;
    while ((newline = buffer.search(/\r\n|\r|\n/)) >= 0) {
      const line = buffer.slice(0, newline);
      buffer = buffer.slice(newline + (buffer.startsWith("\r\n", newline) ? 2 : 1));
      if (line === "") {
        if (data.length > 0) yield { id, event: event || "message", data: data.join("\n") };
        event = "";
        data = [];
        continue;
      }
      if (line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
      if (field === "data") data.push(value);
      else if (field === "event") event = value;
      else if (field === "id" && !value.includes("\0")) id = value;
    }
  }
}

const EVENT_TYPES = new Set<string>([
  "changeset",
  "namedVersion",
  "locks",
  "checkpoint",
  "briefcase",
  "changes",
  "reset",
]);

/** The change feed's events; names this client does not know (a newer hub) are skipped. */
export async function* iModelEventsOf(body: AsyncIterable<Uint8Array>): AsyncGenerator<SequencedIModelEvent> {
  for await (const message of parseServerSentEvents(body)) {
    if (!EVENT_TYPES.has(message.event)) continue;
    const event = { type: message.event, data: JSON.parse(message.data) as unknown } as IModelEvent;
    yield { ...event, id: message.id ?? "" };
  }
}
