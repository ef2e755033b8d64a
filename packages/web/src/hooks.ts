import type { ModelHubClient, SequencedIModelEvent } from "@modelhub/client";
import { useCallback, useEffect, useRef, useState } from "react";
import { describeError, isUnauthorized } from "./format.js";

export interface Loaded<T> {
  data: T | undefined;
  error: string | undefined;
  loading: boolean;
  reload: () => void;
}

/**
 * Loads `load()` when the page shows it and again whenever `revision` changes (a live event). An answer that
 * arrives after a newer request started is dropped. A 401 calls `onUnauthorized` (the token was refused).
 */
export function useLoaded<T>(load: () => Promise<T>, keys: readonly unknown[], onUnauthorized: () => void): Loaded<T> {
  const [state, setState] = useState<{ data: T | undefined; error: string | undefined; loading: boolean }>({
    data: undefined,
    error: undefined,
    loading: true,
  });
  const [manual, setManual] = useState(0);
  const latest = useRef(0);
  useEffect(() => {
    const request = ++latest.current;
    setState((s) => ({ ...s, loading: true }));
    load().then(
      (data) => {
        if (request === latest.current) setState({ data, error: undefined, loading: false });
      },
      (err: unknown) => {
        if (request !== latest.current) return;
        if (isUnauthorized(err)) onUnauthorized();
        setState((s) => ({ data: s.data, error: describeError(err), loading: false }));
      },
    );
  }, [...keys, manual]);
  const reload = useCallback(() => setManual((n) => n + 1), []);
  return { ...state, reload };
}

export type LiveState = "connecting" | "live" | "reconnecting" | "stopped";

/**
 * Follows the iModel's change feed while the page shows it, reconnecting after a drop from the last event seen.
 * Stops for good on an answer that retrying cannot change (401, 404).
 */
export function useIModelEvents(
  client: ModelHubClient,
  iModelId: string,
  onEvent: (event: SequencedIModelEvent) => void,
  onOpen: () => void,
): { state: LiveState; error: string | undefined } {
  const [state, setState] = useState<LiveState>("connecting");
  const [error, setError] = useState<string>();
  const handler = useRef(onEvent);
  handler.current = onEvent;
  const opened = useRef(onOpen);
  opened.current = onOpen;
  useEffect(() => {
    const abort = new AbortController();
    let lastEventId: string | undefined;
    void (async () => {
      while (!abort.signal.aborted) {
        try {
          const events = client.events(iModelId, {
            signal: abort.signal,
            ...(lastEventId ? { lastEventId } : {}),
            onOpen: () => {
              setState("live");
              setError(undefined);
              // What changed before the stream opened is not in it: reload once (a resumed stream replays instead).
              if (!lastEventId) opened.current();
            },
          });
          for await (const event of events) {
            if (event.id) lastEventId = event.id;
            handler.current(event);
          }
        } catch (err) {
          if (abort.signal.aborted) return;
          const status = (err as { status?: number }).status;
          if (status === 401 || status === 404 || status === 400) {
            setError(describeError(err));
            setState("stopped");
            return;
          }
          setError(describeError(err));
        }
        if (abort.signal.aborted) return;
        setState("reconnecting");
        await new Promise((resolve) => setTimeout(resolve, 3000));
      }
    })();
    return () => abort.abort();
  }, [client, iModelId]);
  return { state, error };
}

/** The window's title while the page shows: its own name first (what a tab strip or a screen reader says), then the product. */
export function useTitle(page: string | undefined): void {
  useEffect(() => {
    document.title = page ? `${page} · modelhub` : "modelhub";
  }, [page]);
}
