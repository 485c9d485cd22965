/* The home page's policy panel: fills <section id="policy-panel"> with two small forms that call
 * GET/POST /-/policy and POST /-/audit (kb/policy_plugin.py). Self-contained, no dependencies;
 * every text from the server goes in through textContent, never as HTML. */
(function () {
  "use strict";
  const root = document.getElementById("policy-panel");
  if (!root) return;

  const el = (tag, attrs = {}, ...kids) => {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (k === "text") node.textContent = v;
      else node.setAttribute(k, v);
    }
    kids.forEach((kid) => kid && node.append(kid));
    return node;
  };
  const field = (label, input) => el("label", { class: "pp-field" }, el("span", { text: label }), input);

  const lang = el("select", { name: "lang" }, el("option", { value: "en", text: "English" }),
                  el("option", { value: "ja", text: "日本語" }));
  const apis = el("select", { name: "apis", multiple: "", size: "6" });
  const conds = el("fieldset", { class: "pp-conditions" }, el("legend", { text: "Conditions" }));
  const scoped = el("input", { type: "checkbox", name: "scoped" });
  const request = el("textarea", { name: "request", rows: "8", spellcheck: "false",
    placeholder: "Optional: the request body (JSON, as boto3 or aws --cli-input-json take it)" });
  const role = el("textarea", { name: "policy", rows: "8", spellcheck: "false",
    placeholder: "The role's policy document (JSON), for an audit" });
  const out = el("pre", { class: "pp-output", "aria-live": "polite" });
  const notes = el("ul", { class: "pp-notes" });
  const status = el("p", { class: "pp-status", role: "status" });
  const copy = el("button", { type: "button", text: "Copy policy", hidden: "" });

  const form = el("form", { class: "pp-form" },
    field("Language", lang), field("APIs (one role)", apis), conds,
    field("Resource-scoped variant", scoped), field("Request", request),
    el("button", { type: "submit", name: "compose", text: "Write policy" }),
    field("Existing policy", role),
    el("button", { type: "submit", name: "audit", text: "Audit policy" }));
  root.replaceChildren(el("h2", { text: "Least-privilege policy" }), form, status, copy, out, notes);

  let options = { apis: [] };
  let lastPolicy = null;

  async function call(method, url, body) {
    const init = { method, headers: { accept: "application/json" } };
    if (body) {
      init.headers["content-type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const res = await fetch(url, init);
    const data = await res.json().catch(() => ({ error: `HTTP ${res.status}` }));
    if (!res.ok) throw new Error(data.error || `HTTP ${res.status}`);
    return data;
  }

  const chosen = (select) => Array.from(select.selectedOptions).map((o) => o.value);

  function drawConditions() {
    const picked = new Set(chosen(apis));
    const seen = new Map();
    options.apis.filter((a) => picked.has(a.name))
      .forEach((a) => a.conditions.forEach((c) => seen.set(c.key, c.label)));
    conds.replaceChildren(el("legend", { text: "Conditions" }));
    for (const [key, label] of seen) {
      const box = el("input", { type: "checkbox", name: "condition", value: key });
      conds.append(el("label", { class: "pp-cond" }, box, el("span", { text: ` ${key} — ${label}` })));
    }
  }

  // The home page says what its own form shows (data-api, data-lang, data-conditions,
  // data-scoped): start from the same choice.
  const initial = root.dataset;
  if (initial.lang === "ja") lang.value = "ja";
  scoped.checked = initial.scoped === "1";

  async function loadOptions(first) {
    status.textContent = "Loading APIs…";
    const keep = first ? [initial.api] : chosen(apis);
    try {
      options = await call("GET", `/-/policy/options?lang=${encodeURIComponent(lang.value)}`);
      apis.replaceChildren(...options.apis.map((a) => {
        const opt = el("option", { value: a.name, text: a.name });
        opt.selected = keep.includes(a.name);
        return opt;
      }));
      status.textContent = "";
    } catch (err) {
      status.textContent = `Could not load the APIs: ${err.message}`;
    }
    drawConditions();
    if (first && initial.conditions) {
      const want = new Set(initial.conditions.split(","));
      conds.querySelectorAll("input").forEach((box) => { box.checked = want.has(box.value); });
    }
  }

  function show(data, text) {
    out.textContent = text;
    notes.replaceChildren(...(data.notes || []).map((n) => el("li", { text: n })));
  }

  function parsed(textarea, what) {
    const text = textarea.value.trim();
    if (!text) return undefined;
    try {
      return JSON.parse(text);
    } catch (err) {
      throw new Error(`${what} is not valid JSON: ${err.message}`);
    }
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const action = event.submitter ? event.submitter.name : "compose";
    const body = {
      apis: chosen(apis), lang: lang.value, scoped: scoped.checked,
      conditions: Array.from(conds.querySelectorAll("input:checked")).map((b) => b.value),
    };
    status.textContent = "Working…";
    copy.hidden = true;
    try {
      if (!body.apis.length) throw new Error("choose at least one API");
      const req = parsed(request, "the request");
      if (req !== undefined) body.request = req;
      let data;
      if (action === "audit") {
        body.policy = parsed(role, "the policy");
        if (body.policy === undefined) throw new Error("paste the role's policy to audit it");
        data = await call("POST", "/-/audit", body);
        show(data, JSON.stringify({ missing: data.missing, excess: data.excess.map((e) => ({
          pattern: e.pattern, statement: e.statement, count: e.count })), resource_notes: data.resource_notes,
          unknown_actions: data.unknown_actions }, null, 2));
        status.textContent = `${data.missing.length} missing, ${data.excess.length} excess pattern(s)`;
      } else {
        data = req === undefined
          ? await call("GET", "/-/policy?" + new URLSearchParams([
              ...body.apis.map((a) => ["api", a]), ["conditions", body.conditions.join(",")],
              ["lang", body.lang], ["scoped", body.scoped ? "1" : "0"]]))
          : await call("POST", "/-/policy", body);
        lastPolicy = JSON.stringify(data.policy, null, 2);
        show(data, lastPolicy);
        copy.hidden = false;
        status.textContent = `${data.variant} policy from the ${data.lang} page`;
      }
    } catch (err) {
      status.textContent = err.message;
      out.textContent = "";
      notes.replaceChildren();
    }
  });

  copy.addEventListener("click", async () => {
    if (!lastPolicy) return;
    try {
      await navigator.clipboard.writeText(lastPolicy);
      status.textContent = "Policy copied";
    } catch (err) {
      status.textContent = "Copy failed: select the text instead";
    }
  });
  apis.addEventListener("change", drawConditions);
  lang.addEventListener("change", () => loadOptions(false));
  loadOptions(true);
})();
