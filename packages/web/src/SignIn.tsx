import { Alert, Button, LabeledInput, Surface, Text } from "@itwin/itwinui-react";
import { useState } from "react";
import { describeError, isUnauthorized } from "./format.js";
import type { OidcSignIn } from "./oidc.js";
import { beginSignIn } from "./oidc.js";
import type { AuthMode, Session } from "./session.js";
import { whoAmI } from "./session.js";
import { useTitle } from "./hooks.js";

const HELP: Record<AuthMode, string> = {
  open: "This hub runs in open mode (loopback only): it trusts the name you give.",
  tokens: "Paste a hub token (made on the hub machine with 'modelhub tokens create').",
  oidc: "This hub trusts an identity provider: sign in there, or paste an access token it issued.",
};

export function SignIn({
  mode,
  oidc,
  onSignIn,
  reason,
}: {
  mode: AuthMode;
  oidc: OidcSignIn | undefined;
  onSignIn: (session: Session) => void;
  reason: string | undefined;
}) {
  const [value, setValue] = useState("");
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const open = mode === "open";
  useTitle("Sign in");

  async function submit(event: React.FormEvent) {
    event.preventDefault();
    const credential = value.trim().replace(/^bearer\s+/i, "");
    if (!credential) return setError(open ? "Enter a user name." : "Paste a token.");
    if (/\s/.test(credential)) return setError(open ? "A user name has no spaces." : "A token has no spaces.");
    // The hub says who the credential is (or refuses it) before anything is kept.
    setBusy(true);
    setError(undefined);
    try {
      const me = await whoAmI(credential);
      onSignIn({ mode, credential, me });
    } catch (err) {
      setError(
        isUnauthorized(err)
          ? `The hub refused this ${open ? "name" : "token"}: ${describeError(err)}`
          : `Could not sign in: ${describeError(err)}`,
      );
    } finally {
      setBusy(false);
    }
  }

  return (
    <Surface elevation={1} className="mh-signin">
      <form className="mh-stack" onSubmit={submit} aria-labelledby="signin-title">
        <Text variant="headline" as="h1" id="signin-title">
          Sign in
        </Text>
        <Text className="mh-muted">{HELP[mode]}</Text>
        {reason && (
          <Alert type="warning" role="alert">
            {reason}
          </Alert>
        )}
        {oidc && (
          <>
            <Button
              styleType="high-visibility"
              type="button"
              disabled={busy}
              onClick={() => {
                setBusy(true);
                setError(undefined);
                beginSignIn(oidc).catch((err: unknown) => {
                  setBusy(false);
                  setError(`Could not reach the identity provider: ${describeError(err)}`);
                });
              }}
            >
              Continue with {new URL(oidc.issuer).host}
            </Button>
            <Text className="mh-muted">Or paste an access token of that provider:</Text>
          </>
        )}
        <LabeledInput
          label={open ? "User name" : "Token"}
          name={open ? "username" : "token"}
          type={open ? "text" : "password"}
          autoComplete={open ? "username" : "off"}
          autoFocus
          value={value}
          onChange={(e) => setValue(e.target.value)}
          status={error ? "negative" : undefined}
          message={error}
        />
        <Button styleType={oidc ? "default" : "high-visibility"} type="submit" disabled={busy}>
          Sign in
        </Button>
      </form>
    </Surface>
  );
}
