/* The home page's policy panel: fills <section id="policy-panel"> with a form that calls
 * GET /-/policy/options, POST /-/policy and POST /-/audit (kb/web/routes.py) and shows what they
 * answer — it computes no answer of its own.
 *
 * Every word comes from the KB's ui_text (the lexicons' [ui] keys panel_*, handed over by the
 * home page in data-ui, see kb/web/panel.py); the downloads offered are data-downloads. Every
 * value from the server goes in through textContent, never as HTML; no inline style: classes and
 * the hidden attribute only (a strict Content-Security-Policy may forbid both inline forms). */
(function () {
  "use strict";
  const root = document.getElementById("policy-panel");
  if (!root) return;

  const WORDS = JSON.parse(root.dataset.ui || "{}");
  const DOWNLOADS = JSON.parse(root.dataset.downloads || "[]");
  const initial = root.dataset;

  // A word of the page's language, with {name} placeholders filled (as text, never markup).
  const t = (key, params = {}) => Object.entries(params).reduce(
    (text, [name, value]) => text.split(`{${name}}`).join(String(value)), WORDS[key] ?? key);

  const el = (tag, attrs = {}, ...kids) => {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (v === false || v === undefined || v === null) continue;
      if (k === "text") node.textContent = v;
      else node.setAttribute(k, v === true ? "" : v);
    }
    kids.flat().forEach((kid) => kid !== null && kid !== undefined && node.append(kid));
    return node;
  };
  // A link only to a web page: a URL from a downloaded page never becomes javascript:.
  const link = (url, text) => (/^https?:\/\//.test(url || "") ? el("a", { href: url, text }) : el("span", { text }));
  const field = (id, label, input, hint) => el("div", { class: "pp-field" },
    el("label", { for: id, text: label }), input, hint ? el("p", { class: "pp-hint", text: hint }) : null);

  // --- the form -----------------------------------------------------------------------------------
  const apis = el("select", { id: "pp-apis", name: "apis", multiple: true, size: "7" });
  const conds = el("fieldset", { class: "pp-conditions" });
  const scoped = el("input", { type: "checkbox", id: "pp-scoped", name: "scoped" });
  const kmsKey = el("input", { type: "text", id: "pp-kms", name: "input_kms_key", spellcheck: "false",
    autocomplete: "off", placeholder: t("panel_input_kms_key_placeholder") });
  const region = el("input", { type: "text", id: "pp-region", name: "region", spellcheck: "false",
    autocomplete: "off", placeholder: t("panel_region_placeholder") });
  const account = el("input", { type: "text", id: "pp-account", name: "account", spellcheck: "false",
    autocomplete: "off", inputmode: "numeric", placeholder: t("panel_account_placeholder") });
  const request = el("textarea", { id: "pp-request", name: "request", rows: "9", spellcheck: "false",
    placeholder: t("panel_request_placeholder") });
  const role = el("textarea", { id: "pp-policy", name: "policy", rows: "9", spellcheck: "false",
    placeholder: t("panel_role_policy_placeholder") });
  const status = el("p", { class: "pp-status", role: "status" });
  const result = el("div", { class: "pp-result", "aria-live": "polite" });

  const form = el("form", { class: "pp-form" },
    el("div", { class: "pp-grid" },
      el("div", { class: "pp-choose" },
        field("pp-apis", t("panel_apis"), apis, t("panel_apis_hint")),
        conds,
        el("p", { class: "pp-check" }, el("label", {}, scoped, " ", t("scoped"))),
        field("pp-kms", t("panel_input_kms_key"), kmsKey, t("panel_input_kms_key_hint")),
        el("div", { class: "pp-pair" }, field("pp-region", t("panel_region"), region),
          field("pp-account", t("panel_account"), account))),
      el("div", { class: "pp-texts" },
        field("pp-request", t("panel_request"), request, t("panel_request_hint")),
        el("p", { class: "pp-actions" }, el("button", { type: "submit", name: "compose", text: t("panel_write") })),
        field("pp-policy", t("panel_role_policy"), role, t("panel_role_policy_hint")),
        el("p", { class: "pp-actions" }, el("button", { type: "submit", name: "audit", text: t("panel_audit") })))));
  root.replaceChildren(el("h2", { text: t("panel_title") }), el("p", { class: "pp-intro", text: t("panel_intro") }),
    form, status, result);

  let options = { apis: [] };
  let blobUrls = [];

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

  function drawConditions(want) {
    const picked = new Set(chosen(apis));
    const seen = new Map();
    options.apis.filter((a) => picked.has(a.name))
      .forEach((a) => a.conditions.forEach((c) => seen.set(c.key, c.label)));
    const keep = want || new Set(Array.from(conds.querySelectorAll("input:checked")).map((b) => b.value));
    conds.replaceChildren(el("legend", { text: t("conditions") }));
    for (const [key, label] of seen) {
      const box = el("input", { type: "checkbox", name: "condition", value: key, checked: keep.has(key) });
      conds.append(el("label", { class: "pp-cond" }, box, " ", label, " ", el("code", { text: key })));
    }
    if (!seen.size) conds.append(el("p", { class: "pp-hint", text: t(picked.size ? "panel_no_conditions" : "panel_pick_api") }));
  }

  // The home page says what its own form shows (data-api, data-conditions, data-scoped): the
  // panel starts from the same choice.
  scoped.checked = initial.scoped === "1";

  async function loadOptions() {
    status.textContent = t("panel_loading");
    try {
      options = await call("GET", `/-/policy/options?lang=${encodeURIComponent(initial.lang || "")}`);
      // the APIs, then the features guide pages document; one only the prevailing language's pages
      // document says so, and its policy is written from them
      const groups = [["api", "group_apis"], ["feature", "group_features"]].map(([kind, word]) => [word,
        options.apis.filter((a) => a.kind === kind)]).filter(([, items]) => items.length);
      apis.replaceChildren(...groups.map(([word, items]) => el("optgroup", { label: t(word) },
        items.map((a) => el("option", { value: a.name, "data-lang": a.lang, selected: a.name === initial.api,
          text: a.lang === options.lang ? a.label : t("in_prevailing_only", { name: a.label }) })))));
      status.textContent = "";
    } catch (err) {
      status.textContent = t("panel_error_options", { error: err.message });
    }
    drawConditions(new Set((initial.conditions || "").split(",").filter(Boolean)));
  }

  function parsed(textarea, what) {
    const text = textarea.value.trim();
    if (!text) return undefined;
    try {
      return JSON.parse(text);
    } catch (err) {
      throw new Error(t("panel_error_json", { what, error: err.message }));
    }
  }

  // --- what the routes answer, shown ---------------------------------------------------------------
  const table = (cls, heads, rows) => el("table", { class: `kb-table ${cls}` },
    el("thead", {}, el("tr", {}, heads.map((h) => el("th", { scope: "col", text: h })))),
    el("tbody", {}, rows.map((cells) => el("tr", {}, cells.map((c, i) =>
      el("td", { "data-label": heads[i] }, c))))));
  const code = (text) => el("code", { text });
  const codes = (list) => list.map((x, i) => [i ? ", " : "", code(x)]).flat();
  const notesList = (notes) => (notes && notes.length
    ? [el("h4", { text: t("panel_notes") }), el("ul", { class: "pp-notes" }, notes.map((n) => el("li", { text: n })))]
    : []);
  const source = (src) => (src ? [link(src.url, src.heading), el("q", { lang: src.lang, text: src.text })] : []);

  function why(c) {
    if (c.by === "request") return t("panel_why_request", { request: c.request, field: c.field });
    if (c.by === "option") return t("panel_why_option");
    if (c.by === "asked") return t("panel_why_asked");
    return c.why;
  }

  function download(format, data) {
    // "policy": the document; "formats.cloudformation": the text the writer wrote in that format
    const body = format.from === "policy" ? JSON.stringify(data.policy, null, 2) + "\n"
      : format.from.split(".").reduce((o, k) => (o == null ? o : o[k]), data);
    if (typeof body !== "string") return null;
    const url = URL.createObjectURL(new Blob([body], { type: format.mime }));
    blobUrls.push(url);
    const name = format.filename.split("{apis}").join(data.apis.join("-"));
    return el("a", { class: "pp-download", href: url, download: name, "data-format": format.format,
      text: t(format.label) });
  }

  function showPolicy(data) {
    const used = el("ul", { class: "pp-used" });
    for (const api of data.apis) {
      for (const c of data.conditions[api] || []) {
        used.append(el("li", {}, el("label", {}, el("input", { type: "checkbox", checked: true, disabled: true,
          value: c.key, "data-api": api }), " ", c.label, " ", code(c.key)),
          el("span", { class: "pp-why", text: (data.apis.length > 1 ? `${api}: ` : "") + why(c) })));
      }
    }
    if (!used.children.length) used.append(el("li", { class: "pp-hint", text: t("panel_no_condition_used") }));
    const json = JSON.stringify(data.policy, null, 2);
    const copy = el("button", { type: "button", class: "copy", text: t("copy_label"), hidden: !navigator.clipboard });
    copy.addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText(json);
        copy.textContent = t("copied_label");
      } catch (err) {
        status.textContent = t("panel_copy_failed");
      }
    });
    result.replaceChildren(
      el("h3", { text: t("panel_policy_heading", { variant: t(data.variant === "scoped" ? "variant_scoped" : "variant_default") }) }),
      el("h4", { text: t("panel_conditions_used") }), used,
      el("p", { class: "pp-downloads" }, DOWNLOADS.filter((f) => f.from === "policy"
        || f.from.split(".").reduce((o, k) => (o == null ? o : o[k]), data) != null).map((f) => download(f, data)), copy),
      el("pre", { class: "pp-output" }, code(json)),
      ...notesList(data.notes));
    status.textContent = t("panel_status_written", { statements: data.policy.Statement.length });
  }

  function auditSection(cls, title, entries, draw) {
    const body = entries.length ? draw(entries) : el("p", { class: "pp-none", text: t("panel_none") });
    return el("section", { class: `pp-audit-part ${cls}` }, el("h4", { text: t(title, { count: entries.length }) }), body);
  }

  function showAudit(data) {
    const broader = data.broader;
    const otherNotes = data.resource_notes;
    const heads = [t("col_action"), t("panel_needed_by"), t("panel_reason"), t("panel_page_says")];
    result.replaceChildren(
      el("h3", { text: t("panel_audit_heading") }),
      auditSection("pp-missing", "panel_missing", data.missing, (rows) => table("pp-missing-table", heads, rows.map((m) => [
        [code(m.action), ...(m.resource ? [" ", el("span", { class: "pp-on", text: t("panel_on") }), " ", code(m.resource)] : [])],
        m.needed_by ? codes(m.needed_by) : m.from,
        [m.reason, ...(m.not_granted ? [" (", ...codes(m.not_granted), ")"] : [])],
        source(m.source)]))),
      auditSection("pp-excess", "panel_excess", data.excess, (rows) => table("pp-excess-table",
        [t("panel_pattern"), t("panel_statement"), t("panel_granted")], rows.map((x) => [
          code(x.pattern), x.statement,
          el("details", {}, el("summary", { text: t("panel_actions_count", { count: x.count }) }),
            x.actions ? el("p", {}, codes(x.actions))
              : el("p", {}, Object.entries(x.by_service).map(([svc, n], i) => [i ? ", " : "", code(`${svc}:*`), ` ${n}`]).flat()))]))),
      auditSection("pp-broader", "panel_broader", broader, (rows) => table("pp-broader-table",
        [t("col_action"), t("panel_granted_on"), t("panel_needed_on")], rows.map((n) => [
          codes(n.actions), codes(n.granted_on), codes(n.needed_on)]))),
      auditSection("pp-unknown", "panel_unknown", data.unknown_actions, (rows) => table("pp-unknown-table",
        [t("col_action"), t("panel_statement"), t("panel_reason")], rows.map((u) => [code(u.action), u.statement, u.note]))),
      ...(otherNotes.length ? [auditSection("pp-resource-notes", "panel_resource_notes", otherNotes, (rows) =>
        el("ul", { class: "pp-notes" }, rows.map((n) => el("li", {}, codes(n.actions), ": ", n.note,
          ...(n.granted_on ? [" — ", ...codes(n.granted_on)] : [])))))] : []),
      ...(data.optional.length ? [auditSection("pp-optional", "panel_optional", data.optional, (rows) =>
        el("ul", { class: "pp-notes" }, rows.map((o) => el("li", {}, code(o.action), " — ", codes(o.needed_by)))))] : []),
      ...notesList(data.notes));
    status.textContent = t("panel_status_audited", { missing: data.missing.length, excess: data.excess.length,
      broader: broader.length, unknown: data.unknown_actions.length });
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const action = event.submitter ? event.submitter.name : "compose";
    // one language answers the whole role: the page's, unless a context is documented only in the
    // prevailing language's pages (its policy, and the others', are then theirs)
    const langs = new Set(options.apis.filter((a) => chosen(apis).includes(a.name)).map((a) => a.lang));
    const lang = langs.size && !langs.has(options.lang) || langs.size > 1 ? options.prevailing : initial.lang;
    const body = {
      apis: chosen(apis), lang: lang || undefined, scoped: scoped.checked,
      conditions: Array.from(conds.querySelectorAll("input:checked")).map((b) => b.value),
      input_kms_keys: kmsKey.value.split(/[\s,]+/).filter(Boolean),
      region: region.value.trim() || undefined, account: account.value.trim() || undefined,
    };
    status.textContent = t("panel_working");
    blobUrls.forEach((u) => URL.revokeObjectURL(u));
    blobUrls = [];
    try {
      if (!body.apis.length) throw new Error(t("panel_error_no_api"));
      const req = parsed(request, t("panel_request"));
      if (req !== undefined) body.request = req;
      // ?lang=: a refusal in the page's language, whichever language answers the role
      const asked = `?lang=${encodeURIComponent(initial.lang || "")}`;
      if (action === "audit") {
        body.policy = parsed(role, t("panel_role_policy"));
        if (body.policy === undefined) throw new Error(t("panel_error_no_policy"));
        showAudit(await call("POST", `/-/audit${asked}`, body));
      } else {
        showPolicy(await call("POST", `/-/policy${asked}`, body));
      }
    } catch (err) {
      status.textContent = t("panel_error", { error: err.message });
      result.replaceChildren();
    }
  });

  apis.addEventListener("change", () => drawConditions());
  loadOptions();
})();
