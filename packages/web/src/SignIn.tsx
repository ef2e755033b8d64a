import { Alert, Button, LabeledInput, Surface, Text } from "@itwin/itwinui-react";
import { useState } from "react";
import type { AuthMode, Session } from "./session.js";

const HELP: Record<AuthMode, string> = {
  open: "This hub runs in open mode (loopback only): it trusts the name you give.",
  tokens: "Paste a hub token (made on the hub machine with 'modelhub tokens create').",
  oidc: "Paste an access token from the hub's identity provider (signing in through the provider's page is not built yet).",
};

export function SignIn({ mode, onSignIn, reason }: { mode: AuthMode; onSignIn: (session: Session) => void; reason: string | undefined }) {
  const [value, setValue] = useState("");
  const [error, setError] = useState<string>();
  const open = mode === "open";

  function submit(event: React.FormEvent) {
    event.preventDefault();
    const credential = value.trim().replace(/^bearer\s+/i, "");
    if (!credential) return setError(open ? "Enter a user name." : "Paste a token.");
    if (/\s/.test(credential)) return setError(open ? "A user name has no spaces." : "A token has no spaces.");
    onSignIn({ mode, credential, label: open ? credential : "signed in with a token" });
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
        <Button styleType="high-visibility" type="submit">
          Sign in
        </Button>
      </form>
    </Surface>
  );
}
