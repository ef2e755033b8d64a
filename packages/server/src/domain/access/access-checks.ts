import type { Permission } from "@modelhub/protocol";
import { canonicalPermissions, parsePermission } from "@modelhub/protocol";
import { HubError, invalidRequest } from "../errors.js";

// The errors and input checks of the access rules (access-service.ts), each with the wording users see.

export const insufficient = (message = "The user has insufficient permissions for the requested operation.") =>
  new HubError("InsufficientPermissions", message);

export function sameSet(a: readonly Permission[], b: readonly Permission[]): boolean {
  return a.length === b.length && a.every((p) => b.includes(p));
}

export function roleExists(name: string): HubError {
  return new HubError("RoleExists", `A Role named '${name}' already exists on this iTwin.`);
}

export function ownerRoleFixed(): HubError {
  return insufficient(
    "The Owner role is built in: it cannot be changed or deleted. Give it to members or take it from them instead.",
  );
}

export function lastOwner(userId: string): HubError {
  return new HubError(
    "LastOwner",
    `'${userId}' is the iTwin's last Owner: give the Owner role to another member first.`,
  );
}

export function checkName(name: string, operation: string): string {
  const trimmed = name.trim();
  if (trimmed.length === 0 || trimmed.length > 255) {
    throw invalidRequest(operation, [
      { code: "InvalidValue", message: "A role's displayName is 1 to 255 characters.", target: "displayName" },
    ]);
  }
  return trimmed;
}

export function checkPermissions(
  names: readonly string[],
  allowed: readonly Permission[],
  operation: string,
): Permission[] {
  const result: Permission[] = [];
  names.forEach((name, i) => {
    const p = parsePermission(name);
    if (p === undefined || !allowed.includes(p)) {
      throw invalidRequest(operation, [
        {
          code: "InvalidValue",
          message: `'${name}' is not one of the permissions that can be granted here: ${allowed.join(", ")}.`,
          target: `permissions[${i}]`,
        },
      ]);
    }
    result.push(p);
  });
  return canonicalPermissions(result);
}
