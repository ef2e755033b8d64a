// What every admin page shares: its props, calls to the hub outside `/imodels`, and how a change says how it went.
import type { ModelHubClient } from "@modelhub/client";
import { Alert } from "@itwin/itwinui-react";
import type { ReactNode } from "react";
import { createElement, useState } from "react";
import { describeError } from "./format.js";
import type { AuthMode } from "./session.js";

export interface AdminProps {
  client: ModelHubClient;
  mode: AuthMode;
  onUnauthorized: () => void;
}
/** A call to the hub outside `/imodels` (`/admin`, `/accesscontrol`, `/auditlog`): same token, same error bodies. */
export function hubCall<T>(
  client: ModelHubClient,
  method: string,
  path: string,
  body?: unknown,
  expected: readonly number[] = [200],
): Promise<T> {
  return client.request<T>(method, `${window.location.origin}${path}`, body, expected);
}

export interface ActionOutcome {
  ok: boolean;
  text: string;
}

export interface ActionOutcomeState {
  outcome: ActionOutcome | undefined;
  setOutcome: (outcome: ActionOutcome | undefined) => void;
  /**
   * Runs a change and says how it went: `done` on success (undefined: clears what was shown), `failed` and the hub's
   * reason otherwise; then calls `settled` (a reload of what the change touched) either way. Resolves to whether the
   * change succeeded, so a form can keep its input for a fix.
   */
  act: (done: string | undefined, failed: string, call: () => Promise<unknown>) => Promise<boolean>;
  /** The outcome as an Alert (a status when it went well, an alert when not), closable; nothing when there is none. */
  alert: (testId?: string) => ReactNode;
}

/** The outcome of a page's last change (issue 21: one hook for the admin pages, the gates and the webhooks). */
export function useActionOutcome(settled: () => void = () => undefined): ActionOutcomeState {
  const [outcome, setOutcome] = useState<ActionOutcome>();
  async function act(done: string | undefined, failed: string, call: () => Promise<unknown>): Promise<boolean> {
    try {
      await call();
      setOutcome(done === undefined ? undefined : { ok: true, text: done });
      return true;
    } catch (err) {
      setOutcome({ ok: false, text: `${failed}: ${describeError(err)}` });
      return false;
    } finally {
      settled();
    }
  }
  function alert(testId?: string): ReactNode {
    if (!outcome) return null;
    return createElement(
      Alert,
      {
        type: outcome.ok ? "positive" : "negative",
        role: outcome.ok ? "status" : "alert",
        onClose: () => setOutcome(undefined),
        ...(testId ? { "data-testid": testId } : {}),
      },
      outcome.text,
    );
  }
  return { outcome, setOutcome, act, alert };
}

/** `chosen` with `item` in it or not (a checkbox list's next state; a new set, so React sees the change). */
export function toggled<T>(chosen: ReadonlySet<T>, item: T, on: boolean): Set<T> {
  const next = new Set(chosen);
  if (on) next.add(item);
  else next.delete(item);
  return next;
}
