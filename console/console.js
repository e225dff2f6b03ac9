/* Warden console: plain JavaScript, no build step. Everything shown is asked of this server through
 * the oneM2M API as the admin originator (X-M2M-Origin from config.js), plus the admin queries
 * <CSEBase>/$tree, $audit, $creds, $stats and $explain. Every text from the server is placed with
 * textContent, never parsed as HTML. */
"use strict";

const CFG = window.WARDEN_CONFIG || {};
const TYPES = {1: "acp", 2: "ae", 3: "cnt", 4: "cin", 5: "cb", 9: "grp", 23: "sub", 31: "rol", 32: "tk", 34: "dac"};
const PARENTS = new Set([2, 3, 5, 9]); /* types that can have children */
const PAGE = 50;
let rqi = 0;

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

function status(text, isError) {
  const s = document.getElementById("status");
  s.textContent = text;
  s.className = isError ? "error" : "muted";
}

/* One oneM2M RETRIEVE as the admin: {rsc, body}. */
async function m2m(path, params) {
  const qs = params ? "?" + new URLSearchParams(Object.entries(params).filter(([, v]) => v !== "" && v != null)) : "";
  const r = await fetch("/" + path + qs, {
    headers: {"X-M2M-Origin": CFG.admin, "X-M2M-RI": "console-" + (++rqi), "X-M2M-RVI": "3", "Accept": "application/json"},
  });
  const rsc = parseInt(r.headers.get("X-M2M-RSC") || "0", 10);
  let body = null;
  try { body = await r.json(); } catch (e) { body = null; }
  if (rsc >= 4000) status(`${path}: ${rsc} ${body && body["m2m:dbg"] ? body["m2m:dbg"] : ""}`, true);
  return {rsc, body};
}

const admin = (name, params) => m2m(CFG.rn + "/$" + name, params);

/* ---- tabs ---- */

function showPage(name) {
  for (const t of document.querySelectorAll(".tab")) t.classList.toggle("active", t.dataset.page === name);
  for (const p of document.querySelectorAll(".page")) p.classList.toggle("active", p.id === "page-" + name);
  if (name === "audit") loadAudit();
  if (name === "creds") loadCreds();
}

/* ---- tree: lazy and paged ($tree lists one page of children after a creation sequence) ---- */

function nodeFor(item) {
  const li = el("li", {class: "node", "data-ri": item.ri, "data-path": item.path, "data-ty": String(item.ty)});
  const expandable = PARENTS.has(item.ty);
  const twisty = el("span", {class: "twisty", text: expandable ? "▶" : ""});
  const label = el("div", {class: "label"}, twisty, el("span", {class: "rn", text: item.rn}),
                   el("span", {class: "ty", text: TYPES[item.ty] || "ty " + item.ty}));
  li.append(label);
  label.addEventListener("click", () => {
    select(li, item);
    if (expandable) toggle(li, twisty, item);
  });
  return li;
}

async function loadChildren(ul, pi, after) {
  const {rsc, body} = await admin("tree", {adpi: pi, adaft: after || "", lim: PAGE});
  if (rsc !== 2000) return;
  const t = body["wdn:tree"];
  const old = ul.querySelector(":scope > .more");
  if (old) old.remove();
  if (!after && t.children.length === 0) ul.append(el("li", {class: "empty", text: "no children"}));
  for (const c of t.children) ul.append(nodeFor(c));
  if (t.next !== undefined) {
    const more = el("li", {class: "more", text: "more…"});
    more.addEventListener("click", () => loadChildren(ul, pi, t.next));
    ul.append(more);
  }
}

function toggle(li, twisty, item) {
  let ul = li.querySelector(":scope > ul");
  if (ul) {
    ul.hidden = !ul.hidden;
    twisty.textContent = ul.hidden ? "▶" : "▼";
    return;
  }
  ul = el("ul");
  li.append(ul);
  twisty.textContent = "▼";
  loadChildren(ul, item.ri);
}

async function initTree() {
  const root = document.getElementById("tree");
  const cb = await m2m(CFG.rn);
  const ri = cb.body && cb.body["m2m:cb"] ? cb.body["m2m:cb"].ri : CFG.csi.replace(/^\//, "");
  const li = nodeFor({ri, rn: CFG.rn, ty: 5, path: CFG.rn});
  root.append(li);
  li.querySelector(".label").click();
}

/* ---- one resource: attributes, applicable policies, explain ---- */

let current = null;

function valueText(v) {
  if (Array.isArray(v) && v.every(x => typeof x !== "object")) return v.join(", ");
  return typeof v === "object" ? JSON.stringify(v, null, 1) : String(v);
}

async function select(li, item) {
  for (const s of document.querySelectorAll(".node.selected")) s.classList.remove("selected");
  li.classList.add("selected");
  current = item;
  document.getElementById("detail-empty").hidden = true;
  document.getElementById("detail").hidden = false;
  document.getElementById("detail-title").textContent = item.path;
  document.getElementById("detail-sub").textContent = `${TYPES[item.ty] || "ty " + item.ty} · resourceID ${item.ri}`;
  document.getElementById("explain-result").textContent = "";
  const attrs = document.getElementById("attrs");
  attrs.textContent = "";
  const {rsc, body} = await m2m(item.path);
  if (current !== item) return;
  if (rsc !== 2000 || !body) {
    attrs.append(el("tr", {}, el("td", {text: "error"}), el("td", {text: String(rsc)})));
    return;
  }
  const res = Object.values(body)[0];
  for (const [k, v] of Object.entries(res)) attrs.append(el("tr", {}, el("td", {text: k}), el("td", {}, el("pre", {text: valueText(v)}))));
  showPolicies(item, res);
}

async function showPolicies(item, res) {
  const box = document.getElementById("policies");
  box.textContent = "";
  if (item.ty === 1) {
    box.append(el("p", {class: "muted", text: "An accessControlPolicy is governed by its own selfPrivileges (pvs) above."}));
    return;
  }
  const acpi = res.acpi || [];
  if (acpi.length === 0) {
    box.append(el("p", {class: "muted",
      text: item.ty === 4 || item.ty === 23 ? "No acpi of its own: the parent's policies decide (see the parent)."
                                            : "No acpi: the default policy applies (the creator, and the admin, are granted everything)."}));
    return;
  }
  for (const id of acpi) {
    const {rsc, body} = await m2m(id.replace(/^\//, ""));
    const div = el("div", {class: "policy"});
    if (rsc !== 2000 || !body || !body["m2m:acp"]) {
      div.append(el("div", {class: "mono", text: id}));
      div.append(el("div", {class: "error", text: `cannot read (${rsc}): a dangling acpi entry grants nothing`}));
    } else {
      const acp = body["m2m:acp"];
      div.append(el("div", {text: `${acp.rn} (${acp.ri})`}));
      const rules = (acp.pv && acp.pv.acr) || [];
      const t = el("table", {class: "grid"}, el("thead", {}, el("tr", {}, el("th", {text: "originators (acor)"}),
                    el("th", {text: "operations (acop)"}), el("th", {text: "contexts (acco)"}))));
      const tb = el("tbody");
      for (const r of rules)
        tb.append(el("tr", {}, el("td", {class: "mono", text: (r.acor || []).join(" ")}),
                     el("td", {text: opsText(r.acop)}), el("td", {class: "mono", text: r.acco ? JSON.stringify(r.acco) : "any"})));
      if (rules.length === 0) tb.append(el("tr", {}, el("td", {text: "no rules: grants nothing"}), el("td"), el("td")));
      t.append(tb);
      div.append(t);
    }
    box.append(div);
  }
}

function opsText(acop) {
  const names = [[1, "create"], [2, "retrieve"], [4, "update"], [8, "delete"], [16, "notify"], [32, "discover"]];
  return names.filter(([b]) => acop & b).map(([, n]) => n).join(", ") + ` (${acop})`;
}

async function runExplain(ev) {
  ev.preventDefault();
  if (!current) return;
  const out = document.getElementById("explain-result");
  out.textContent = "…";
  const op = document.getElementById("explain-op").value;
  const {rsc, body} = await admin("explain", {
    exfr: document.getElementById("explain-fr").value.trim(), exop: op, exto: current.path,
    exty: op === "create" ? document.getElementById("explain-ty").value.trim() : "",
  });
  out.textContent = "";
  if (rsc !== 2000) {
    out.append(el("p", {class: "error", text: `explain failed: ${rsc}`}));
    return;
  }
  const x = body["wdn:explain"];
  out.append(el("div", {class: "verdict " + x.decision, id: "explain-verdict", text: x.decision}));
  out.append(el("pre", {class: "reasons mono", text: x.reasons.join("\n")}));
  out.scrollIntoView({block: "nearest"});
}

/* ---- audit log ---- */

async function loadAudit(ev) {
  if (ev) ev.preventDefault();
  const v = id => document.getElementById(id).value.trim();
  const {rsc, body} = await admin("audit", {adfr: v("audit-fr"), adrsn: v("audit-rsn"), adsince: v("audit-since"),
                                            aduntil: v("audit-until"), lim: v("audit-lim")});
  const rows = document.getElementById("audit-rows");
  rows.textContent = "";
  if (rsc !== 2000) return;
  const a = body["wdn:audit"];
  const note = document.getElementById("audit-note");
  if (!a.enabled) {
    note.textContent = "The audit log is off (audit.path is empty).";
    return;
  }
  note.textContent = `${a.records.length} records, newest first (${a.scanned} lines read` +
                     (a.olderNotScanned ? "; older lines beyond the read window: narrow with wardenctl audit tail)" : ")");
  for (const r of a.records) {
    const cls = r.event === "deny" || r.event === "authn-fail" ? "badge deny" : "badge permit";
    rows.append(el("tr", {class: "audit-row"},
      el("td", {class: "mono nowrap", text: (r.ts || "").replace("T", " ").replace(/\.\d+Z$/, "")}),
      el("td", {}, el("span", {class: cls + " nowrap", text: r.event || ""})),
      el("td", {class: "mono nowrap", text: r.originator || "–"}),
      el("td", {class: "nowrap", text: `${r.binding || "–"} ${r.peer || ""}`}),
      el("td", {text: r.op || ""}),
      el("td", {class: "mono", text: r.target || ""}),
      el("td", {text: r.rsc || ""}),
      el("td", {class: "mono nowrap", text: r.reason || ""}),
      el("td", {class: "mono wide", text: r.detail || ""})));
  }
}

/* ---- credentials ---- */

function when(t) {
  return t ? new Date(t * 1000).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC") : "–";
}

async function loadCreds() {
  const {rsc, body} = await admin("creds");
  if (rsc !== 2000) return;
  const c = body["wdn:creds"];
  document.getElementById("creds-admin").textContent = `Admin identity ${c.admin} · profile ${c.profile}`;
  const psk = document.getElementById("creds-psk");
  psk.textContent = "";
  for (const p of c.psk)
    psk.append(el("tr", {}, el("td", {class: "mono", text: p.kpsaId}),
      el("td", {class: "mono", text: p.boundTo || "(the AE that registers first)"}),
      el("td", {}, el("span", {class: "badge " + p.state, text: p.state})), el("td", {text: when(p.created)})));
  if (c.psk.length === 0) psk.append(el("tr", {}, el("td", {class: "muted", colspan: "4", text: "none provisioned"})));
  const certs = document.getElementById("creds-certs");
  certs.textContent = "";
  for (const x of c.revokedCerts) certs.append(el("tr", {}, el("td", {class: "mono", text: x.serial}), el("td", {text: when(x.revoked)})));
  if (c.revokedCerts.length === 0) certs.append(el("tr", {}, el("td", {class: "muted", colspan: "2", text: "none revoked"})));
}

/* ---- live rate ---- */

const samples = [];
let last = null;

async function poll() {
  const {rsc, body} = await admin("stats");
  if (rsc === 2000) {
    const s = body["wdn:stats"];
    if (last && s.timeMs > last.timeMs) {
      const dt = (s.timeMs - last.timeMs) / 1000;
      /* the console's own polling is one request per sample: leave it out of the rate */
      const rate = Math.max(0, (s.requests - last.requests - 1) / dt), errs = (s.errors - last.errors) / dt;
      samples.push({rate, errs});
      if (samples.length > 90) samples.shift();
      document.getElementById("live-rate").textContent = rate.toFixed(1);
      document.getElementById("live-errors").textContent = errs.toFixed(1);
      document.getElementById("live-mini").textContent = `${rate.toFixed(1)} req/s · ${errs.toFixed(1)} err/s`;
      draw();
    }
    document.getElementById("live-total").textContent = String(s.requests);
    last = s;
  }
  setTimeout(poll, 2000);
}

function draw() {
  const c = document.getElementById("live-chart"), g = c.getContext("2d");
  g.clearRect(0, 0, c.width, c.height);
  const max = Math.max(1, ...samples.map(s => s.rate));
  const x = i => 40 + (i * (c.width - 50)) / 89, y = v => c.height - 20 - (v / max) * (c.height - 40);
  g.strokeStyle = "#dde1e8";
  g.fillStyle = "#6b7385";
  g.font = "11px sans-serif";
  g.beginPath(); g.moveTo(40, y(0)); g.lineTo(c.width - 10, y(0)); g.moveTo(40, y(max)); g.lineTo(c.width - 10, y(max)); g.stroke();
  g.fillText(max.toFixed(0), 4, y(max) + 4);
  g.fillText("0", 4, y(0) + 4);
  for (const [key, color] of [["rate", "#2457c5"], ["errs", "#b3261e"]]) {
    g.strokeStyle = color;
    g.lineWidth = 2;
    g.beginPath();
    samples.forEach((s, i) => (i ? g.lineTo(x(i), y(s[key])) : g.moveTo(x(i), y(s[key]))));
    g.stroke();
    const lastS = samples[samples.length - 1];
    if (lastS) { g.fillStyle = color; g.beginPath(); g.arc(x(samples.length - 1), y(lastS[key]), 3, 0, 7); g.fill(); }
  }
}

document.addEventListener("DOMContentLoaded", () => {
  document.getElementById("cse-id").textContent = `${CFG.csi || ""} · ${CFG.rn || ""} · ${CFG.profile || ""} profile · as ${CFG.admin || ""}`;
  for (const t of document.querySelectorAll(".tab")) t.addEventListener("click", () => showPage(t.dataset.page));
  document.getElementById("explain-form").addEventListener("submit", runExplain);
  document.getElementById("audit-form").addEventListener("submit", loadAudit);
  initTree();
  poll();
  status(`Warden ${CFG.version || ""}: connected as ${CFG.admin}`);
});
