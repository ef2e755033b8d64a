// The OIDC defaults the command line shows, apart from the verifier (which loads jose): `modelhub --help` needs only these.
/** Clock skew allowed on `exp`/`nbf`/`iat` between the identity provider and the hub (`--clock-skew`). */
export const OIDC_CLOCK_TOLERANCE_SECONDS = 30;
/** Longest lifetime (`exp` − `iat`) a token may claim (`--max-token-lifetime`): a day, what the longest-lived providers' defaults stay within. */
export const OIDC_MAX_TOKEN_LIFETIME_SECONDS = 24 * 3600;
