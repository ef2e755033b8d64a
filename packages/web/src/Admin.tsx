import { Tabs, Text } from "@itwin/itwinui-react";
import { useTitle } from "./hooks.js";
import type { AdminSection } from "./route.js";
import { ADMIN_SECTIONS, navigate } from "./route.js";
import type { AdminProps } from "./admin-common.js";
import { MembersSection } from "./AdminMembers.js";
import { TokensSection } from "./AdminTokens.js";
import { AuditSection } from "./AdminAudit.js";
import { AccountWebhooksSection } from "./Webhooks.js";
import { StorageSection, SystemSection } from "./AdminSystem.js";

const SECTION_LABELS: Record<AdminSection, string> = {
  members: "Members and roles",
  tokens: "Tokens",
  webhooks: "Webhooks",
  audit: "Audit log",
  storage: "Storage",
  system: "Jobs and health",
};

/** The administrators' pages (shown to them only: the hub answers anyone else 403). */
export function AdminPage({ section, ...props }: AdminProps & { section: AdminSection }) {
  useTitle(`${SECTION_LABELS[section]} · Administration`);
  return (
    <div className="mh-stack">
      <Text variant="headline" as="h1">
        Administration
      </Text>
      <Tabs.Wrapper
        value={section}
        onValueChange={(value) => navigate({ page: "admin", section: value as AdminSection })}
      >
        <Tabs.TabList>
          {ADMIN_SECTIONS.map((s) => (
            <Tabs.Tab key={s} value={s} label={SECTION_LABELS[s]} />
          ))}
        </Tabs.TabList>
        {ADMIN_SECTIONS.map((s) => (
          <Tabs.Panel key={s} value={s}>
            {s === section && s === "members" && <MembersSection {...props} />}
            {s === section && s === "tokens" && <TokensSection {...props} />}
            {s === section && s === "webhooks" && <AccountWebhooksSection {...props} />}
            {s === section && s === "audit" && <AuditSection {...props} />}
            {s === section && s === "storage" && <StorageSection {...props} />}
            {s === section && s === "system" && <SystemSection {...props} />}
          </Tabs.Panel>
        ))}
      </Tabs.Wrapper>
    </div>
  );
}
