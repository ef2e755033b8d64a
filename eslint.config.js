// @ts-check
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["**/dist/**", "**/node_modules/**", "**/*.d.ts", "modelhub-data/**", ".tmp/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      "@typescript-eslint/no-explicit-any": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/consistent-type-imports": "error",
    },
  },
  {
    // The domain knows hub rules only: no HTTP framework, no drivers, no adapters.
    files: ["packages/server/src/domain/**/*.ts", "packages/server/src/ports/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            { group: ["fastify", "fastify/*", "@fastify/*"], message: "The domain never imports HTTP." },
            { group: ["better-sqlite3", "pg", "@azure/*"], message: "The domain never imports a driver." },
            { group: ["**/http/**", "**/adapters/**"], message: "The domain depends on ports only." },
          ],
        },
      ],
    },
  },
  {
    // One composition root: only main.ts, the registry and the adapters themselves name an adapter. Everything else
    // (the admin commands, cli.ts, config.ts) opens stores through adapters/registry.ts, so each command serves every
    // backend a hub can run on, or refuses it by name; backend specs are parsed by adapters/store-specs.ts, which
    // loads no driver (every `modelhub` invocation parses them). (domain/ and ports/ have their stricter rule above.)
    files: ["packages/server/src/**/*.ts"],
    ignores: [
      "packages/server/src/adapters/**",
      "packages/server/src/main.ts",
      "packages/server/src/domain/**",
      "packages/server/src/ports/**",
    ],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            {
              group: ["**/adapters/**", "!**/adapters/registry.js", "!**/adapters/store-specs.js"],
              message: "Open stores through adapters/registry.ts (the one composition root besides main.ts).",
            },
          ],
        },
      ],
    },
  },
  {
    // backend-access's HTTP code runs without iTwin.js: the host's classes are reached through host.ts only.
    files: [
      "packages/backend-access/src/hub-calls.ts",
      "packages/backend-access/src/http-transport.ts",
      "packages/backend-access/src/transfers.ts",
    ],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            {
              group: ["@itwin/*", "**/host.js"],
              message: "The HTTP code imports no iTwin.js; take a logger (AccessLogger) instead.",
            },
          ],
        },
      ],
    },
  },
  {
    // The command line prints through admin/terminal.ts, which escapes control characters in what it prints.
    files: ["packages/server/src/admin/**/*.ts", "packages/server/src/cli.ts"],
    ignores: ["packages/server/src/admin/terminal.ts"],
    rules: {
      "no-restricted-syntax": [
        "error",
        {
          selector:
            "MemberExpression[object.object.name='process'][object.property.name=/^std(out|err)$/][property.name='write']",
          message: "Print through admin/terminal.ts (stdout/stderr/printer): it escapes control characters.",
        },
        {
          selector: "MemberExpression[object.name='console']",
          message: "Print through admin/terminal.ts: it escapes control characters.",
        },
      ],
    },
  },
  {
    files: ["**/*.mjs", "**/*.js"],
    languageOptions: { globals: { process: "readonly", console: "readonly", URL: "readonly", setTimeout: "readonly" } },
  },
  {
    files: ["**/test/**/*.ts"],
    rules: { "@typescript-eslint/no-non-null-assertion": "off" },
  },
);
