import { Button, ProgressRadial, SkipToContentLink, Text } from "@itwin/itwinui-react";
import { useCallback, useEffect, useMemo, useState } from "react";
import { describeError } from "./format.js";
import { IModelList } from "./IModelList.js";
import { ITwinList } from "./ITwinList.js";
import { IModelPage } from "./IModelPage.js";
import { useRoute } from "./route.js";
import type { AuthMode, Session } from "./session.js";
import { clientOf, fetchAuthMode, loadSession, saveSession } from "./session.js";
import { SignIn } from "./SignIn.js";

export function App() {
  const [mode, setMode] = useState<AuthMode>();
  const [modeError, setModeError] = useState<string>();
  const [session, setSession] = useState<Session | undefined>(loadSession);
  const [signOutReason, setSignOutReason] = useState<string>();
  const route = useRoute();

  useEffect(() => {
    fetchAuthMode().then(setMode, (err: unknown) => setModeError(describeError(err)));
  }, []);

  const signIn = useCallback((next: Session) => {
    saveSession(next);
    setSignOutReason(undefined);
    setSession(next);
  }, []);
  const signOut = useCallback((reason?: string) => {
    saveSession(undefined);
    setSignOutReason(reason);
    setSession(undefined);
  }, []);
  const onUnauthorized = useCallback(() => signOut("The hub refused your token (401): sign in again."), [signOut]);
  const client = useMemo(() => (session ? clientOf(session) : undefined), [session]);

  // A session made for another auth mode (the hub was restarted differently) is not offered.
  const usable = session && mode && session.mode === mode ? session : undefined;

  return (
    <>
      <SkipToContentLink href="#main" />
      <header className="mh-header">
        <Text variant="title" as="span">
          <a href="#/">modelhub</a>
        </Text>
        {usable && (
          <span className="mh-row" style={{ alignItems: "center" }}>
            <Text as="span" className="mh-muted" data-testid="signed-in-as">
              {usable.label}
            </Text>
            <Button size="small" onClick={() => signOut()}>
              Sign out
            </Button>
          </span>
        )}
      </header>
      <main id="main" className="mh-main" tabIndex={-1}>
        {modeError ? (
          <Text role="alert">Cannot reach the hub: {modeError}</Text>
        ) : !mode ? (
          <ProgressRadial indeterminate aria-label="Loading" />
        ) : !usable || !client ? (
          <SignIn mode={mode} onSignIn={signIn} reason={signOutReason} />
        ) : route.page === "iModel" ? (
          <IModelPage key={route.iModelId} client={client} iModelId={route.iModelId} tab={route.tab} onUnauthorized={onUnauthorized} />
        ) : route.iTwinId ? (
          <IModelList key={route.iTwinId} client={client} iTwinId={route.iTwinId} onUnauthorized={onUnauthorized} />
        ) : (
          <ITwinList client={client} openMode={mode === "open"} onUnauthorized={onUnauthorized} />
        )}
      </main>
    </>
  );
}
