// Hash routes (`#/…`): the hub serves one page at `/`, and no UI path can collide with an API path.
import { useEffect, useState } from "react";

export type IModelTab = "changesets" | "versions" | "briefcases" | "checkpoints" | "compare";
export const IMODEL_TABS: readonly IModelTab[] = ["changesets", "versions", "briefcases", "checkpoints", "compare"];

export type AdminSection = "members" | "tokens" | "webhooks" | "audit" | "storage" | "system";
export const ADMIN_SECTIONS: readonly AdminSection[] = ["members", "tokens", "webhooks", "audit", "storage", "system"];

/** The two changeset indexes the compare tab opens with (`#/imodels/{id}/compare/{from}/{to}`). */
export interface ComparePoints {
  from: number;
  to: number;
}

export type Route =
  | { page: "home"; iTwinId?: string }
  | { page: "iModel"; iModelId: string; tab: IModelTab; compare?: ComparePoints }
  | { page: "admin"; section: AdminSection };

export function parseRoute(hash: string): Route {
  const parts = hash.replace(/^#\/?/, "").split("/").filter(Boolean).map(decodeURIComponent);
  if (parts[0] === "imodels" && parts[1]) {
    const tab = IMODEL_TABS.find((t) => t === parts[2]) ?? "changesets";
    if (tab === "compare" && /^\d+$/.test(parts[3] ?? "") && /^\d+$/.test(parts[4] ?? ""))
      return { page: "iModel", iModelId: parts[1], tab, compare: { from: Number(parts[3]), to: Number(parts[4]) } };
    return { page: "iModel", iModelId: parts[1], tab };
  }
  if (parts[0] === "itwins" && parts[1]) return { page: "home", iTwinId: parts[1] };
  if (parts[0] === "admin") return { page: "admin", section: ADMIN_SECTIONS.find((s) => s === parts[1]) ?? "members" };
  return { page: "home" };
}

export function hrefOf(route: Route): string {
  if (route.page === "iModel")
    return `#/imodels/${encodeURIComponent(route.iModelId)}/${route.tab}${route.compare ? `/${route.compare.from}/${route.compare.to}` : ""}`;
  if (route.page === "admin") return `#/admin/${route.section}`;
  return route.iTwinId ? `#/itwins/${encodeURIComponent(route.iTwinId)}` : "#/";
}

export function navigate(route: Route): void {
  window.location.hash = hrefOf(route);
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(window.location.hash));
  useEffect(() => {
    const onChange = () => setRoute(parseRoute(window.location.hash));
    window.addEventListener("hashchange", onChange);
    return () => window.removeEventListener("hashchange", onChange);
  }, []);
  return route;
}
