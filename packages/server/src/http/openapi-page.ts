// `/docs`: the OpenAPI document as one self-contained page (no script, nothing loaded from elsewhere), grouped by tag:
// each operation with who may call it, its parameters, body and answers.
type Json = Record<string, unknown>;

const METHODS = ["get", "post", "put", "patch", "delete", "head"];

function escape(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}

/** Markdown as the document uses it: `code` and **bold** only. */
function inline(text: string): string {
  return escape(text)
    .replace(/`([^`]+)`/g, "<code>$1</code>")
    .replace(/\*\*([^*]+)\*\*/g, "<strong>$1</strong>");
}

function anchor(id: string): string {
  return id.replace(/[^A-Za-z0-9_-]/g, "-");
}

function schemaText(schema: unknown): string {
  return escape(JSON.stringify(schema, null, 2));
}

export function docsPage(doc: Json): string {
  const info = doc.info as { title: string; version: string; description: string };
  const paths = doc.paths as Record<string, Record<string, Json>>;
  const byTag = new Map<string, { method: string; path: string; op: Json }[]>();
  for (const [path, ops] of Object.entries(paths)) {
    for (const method of METHODS) {
      const op = ops[method];
      if (!op) continue;
      const tag = (op.tags as string[])[0] ?? "Other";
      if (!byTag.has(tag)) byTag.set(tag, []);
      byTag.get(tag)!.push({ method, path, op });
    }
  }
  const toc = [...byTag.keys()]
    .map((tag) => `<li><a href="#${anchor(tag)}">${escape(tag)}</a> (${byTag.get(tag)!.length})</li>`)
    .join("");
  const sections = [...byTag].map(([tag, ops]) => {
    const items = ops.map(({ method, path, op }) => {
      const parameters = (op.parameters as Json[] | undefined) ?? [];
      const params = parameters.length
        ? `<table><tr><th>parameter</th><th>in</th><th>description</th></tr>${parameters
            .map(
              (p) =>
                `<tr><td><code>${escape(String(p.name))}</code>${p.required ? " *" : ""}</td><td>${escape(String(p.in))}</td><td>${inline(String(p.description ?? ""))}</td></tr>`,
            )
            .join("")}</table>`
        : "";
      const body = op.requestBody as { content: Record<string, { schema: unknown }> } | undefined;
      const bodyHtml = body
        ? Object.entries(body.content)
            .map(
              ([type, c]) =>
                `<details><summary>Body (${escape(type)})</summary><pre>${schemaText(c.schema)}</pre></details>`,
            )
            .join("")
        : "";
      const responses = Object.entries(op.responses as Record<string, Json>)
        .map(([status, r]) => {
          const ref = typeof r.$ref === "string" ? r.$ref.split("/").at(-1)! : undefined;
          const description = ref
            ? (((doc.components as Json).responses as Record<string, Json>)[ref]?.description as string)
            : String(r.description ?? "");
          const content = r.content as Record<string, { schema: unknown }> | undefined;
          const shape = content ? Object.values(content)[0]?.schema : undefined;
          return `<li><code>${escape(status)}</code> ${inline(description)}${shape ? `<details><summary>shape</summary><pre>${schemaText(shape)}</pre></details>` : ""}</li>`;
        })
        .join("");
      const id = anchor(String(op.operationId));
      return `<section class="op" id="${id}"><h3><span class="m ${method}">${method.toUpperCase()}</span> <code>${escape(path)}</code></h3><p>${inline(String(op.summary ?? ""))}</p><p>${inline(String(op.description ?? "")).replace(/\n\n/g, "<br>")}</p>${params}${bodyHtml}<ul class="responses">${responses}</ul></section>`;
    });
    return `<h2 id="${anchor(tag)}">${escape(tag)}</h2>${items.join("")}`;
  });
  const schemas = Object.entries(((doc.components as Json).schemas ?? {}) as Record<string, unknown>)
    .map(
      ([name, s]) =>
        `<details id="schema-${anchor(name)}"><summary>${escape(name)}</summary><pre>${schemaText(s)}</pre></details>`,
    )
    .join("");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escape(info.title)} ${escape(info.version)} — API reference</title>
<style>
body{font:15px/1.5 system-ui,sans-serif;margin:0 auto;max-width:980px;padding:1rem 1.25rem;color:#1b1f24;background:#fff}
@media (prefers-color-scheme:dark){body{color:#e6e6e6;background:#16181c}a{color:#8ab4f8}pre,code,table{background:#23262d}}
code{font:13px ui-monospace,monospace;background:#f2f4f7;padding:0 .2em;border-radius:3px}pre{overflow:auto;background:#f2f4f7;padding:.5rem;border-radius:4px;font:12px ui-monospace,monospace}
.op{border-top:1px solid #8884;padding:.4rem 0}.op h3{font-size:1rem;margin:.3rem 0}.m{display:inline-block;min-width:4.2em;text-align:center;border-radius:3px;color:#fff;font:600 12px ui-monospace,monospace;padding:.1em .3em}
.get{background:#1f6feb}.post{background:#238636}.put{background:#9a6700}.patch{background:#8250df}.delete{background:#cf222e}.head{background:#57606a}
table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #8884;padding:.15rem .4rem;text-align:left;vertical-align:top}.responses{margin:.3rem 0}
</style></head><body>
<h1>${escape(info.title)} ${escape(info.version)} — API reference</h1>
<p>${inline(info.description)}</p>
<p>The same as an OpenAPI 3.1 document: <a href="openapi.json">openapi.json</a>.</p>
<nav><ul>${toc}<li><a href="#schemas">Shapes</a></li></ul></nav>
${sections.join("\n")}
<h2 id="schemas">Shapes</h2>${schemas}
</body></html>
`;
}
