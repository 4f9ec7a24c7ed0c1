// The openstage console: a client of the HTTP API (every call signed in the browser with the AK/SK,
// or sent with the token), plus the project's event stream (GET /v2/{project}/events, SSE read with
// a signed fetch) that keeps the job timeline, the registry view and the event feed live.
import { signRequest } from "./signer.js";

const $ = (sel, root = document) => root.querySelector(sel);
const main = () => $("#main");
const esc = (v) => String(v ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
const SESSION_KEY = "openstage-console";

// --- session and API ---------------------------------------------------------------------------
let session = JSON.parse(sessionStorage.getItem(SESSION_KEY) || "null");

class ApiError extends Error {
  constructor(status, body, text) {
    const msg = (body && (body.error_msg || body.errorMessage || body.message)) || text || `HTTP ${status}`;
    const detail = body && body.detail && body.detail !== msg ? ` (${body.detail})` : "";
    const code = body && (body.error_code || body.errorCode);
    super(`${msg}${detail}${code ? ` [${code}]` : ""}`);
    this.status = status;
    this.body = body;
  }
}

async function authHeaders(method, url, body, extra = {}, auth = session) {
  const headers = { ...extra };
  if (body) headers["Content-Type"] = "application/json";
  if (auth.kind === "token") return { ...headers, "X-Auth-Token": auth.token };
  return signRequest({ method, url, headers, body, ak: auth.ak, sk: auth.sk });
}

async function api(method, path, payload, { auth = session, headers = {} } = {}) {
  const url = path.replaceAll("{project}", encodeURIComponent(auth.project));
  const body = payload === undefined ? "" : JSON.stringify(payload);
  const h = await authHeaders(method, url, body, headers, auth);
  const r = await fetch(url, { method, headers: h, body: body || undefined });
  const text = await r.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!r.ok) throw new ApiError(r.status, data, text);
  return data;
}

// --- the event stream -------------------------------------------------------------------------------
const listeners = new Set();
const feed = []; // the latest events, newest first
let streamAbort = null;
let streamState = "disconnected";

function onEvent(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

async function connectEvents() {
  if (streamAbort) streamAbort.abort();
  const controller = new AbortController();
  streamAbort = controller;
  while (!controller.signal.aborted && session) {
    try {
      const url = `/v2/${encodeURIComponent(session.project)}/events`;
      const headers = await authHeaders("GET", url, "");
      const r = await fetch(url, { headers, signal: controller.signal });
      if (!r.ok) throw new Error(`event stream: HTTP ${r.status}`);
      streamState = "live";
      renderWho();
      const reader = r.body.getReader();
      const decoder = new TextDecoder();
      let buf = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += decoder.decode(value, { stream: true });
        let i;
        while ((i = buf.indexOf("\n\n")) >= 0) {
          const chunk = buf.slice(0, i);
          buf = buf.slice(i + 2);
          for (const line of chunk.split("\n")) {
            if (!line.startsWith("data: ")) continue;
            let event;
            try {
              event = JSON.parse(line.slice(6));
            } catch {
              continue;
            }
            feed.unshift(event);
            feed.length = Math.min(feed.length, 300);
            for (const fn of [...listeners]) {
              try {
                fn(event);
              } catch (e) {
                console.error(e);
              }
            }
          }
        }
      }
    } catch (e) {
      if (controller.signal.aborted) return;
    }
    streamState = "reconnecting";
    renderWho();
    await new Promise((res) => setTimeout(res, 1000));
  }
}

// --- web components -------------------------------------------------------------------------------
// <time-ago datetime="epoch ms or seconds or ISO">: "12 s ago", kept current by one page timer.
class TimeAgo extends HTMLElement {
  connectedCallback() {
    this.update();
  }
  update() {
    const raw = this.getAttribute("datetime");
    let ms = Number(raw);
    if (!raw) return (this.textContent = "-");
    if (Number.isNaN(ms)) ms = Date.parse(raw);
    else if (ms < 1e11) ms *= 1000; // seconds
    const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
    this.textContent = s < 90 ? `${s} s ago` : s < 5400 ? `${Math.round(s / 60)} min ago` : `${Math.round(s / 3600)} h ago`;
    this.title = new Date(ms).toISOString();
  }
}
customElements.define("time-ago", TimeAgo);
setInterval(() => document.querySelectorAll("time-ago").forEach((t) => t.update()), 1000);

// <status-badge value="SUCCEEDED">
class StatusBadge extends HTMLElement {
  connectedCallback() {
    const v = this.getAttribute("value") || "";
    const kind = this.getAttribute("kind"); // "instance": an instance's RUNNING is its healthy state
    this.innerHTML = `<span class="status status-${kind ? `${esc(kind)}-` : ""}${esc(v)}">${esc(v)}</span>`;
  }
}
customElements.define("status-badge", StatusBadge);

// --- helpers for views -------------------------------------------------------------------------------
function page(title, html) {
  main().innerHTML = `<h1>${esc(title)}</h1>${html}`;
  document.title = `${title} - openstage console`;
}

// A form whose submit calls `action(values)`; the API's error message is shown in its error box.
function bindForm(form, action) {
  const box = form.querySelector(".error") || form.parentElement.querySelector(".error");
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (box) box.textContent = "";
    const values = Object.fromEntries(new FormData(form).entries());
    const button = form.querySelector("button[type=submit]");
    if (button) button.disabled = true;
    try {
      await action(values, form);
    } catch (e) {
      if (box) {
        box.textContent = e.message;
        box.setAttribute("role", "alert");
      }
    } finally {
      if (button) button.disabled = false;
    }
  });
}

function table(headers, rows, empty = "None yet.") {
  if (!rows.length) return `<p class="muted">${esc(empty)}</p>`;
  return `<table><thead><tr>${headers.map((h) => `<th scope="col">${esc(h)}</th>`).join("")}</tr></thead><tbody>${rows
    .map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join("")}</tr>`)
    .join("")}</tbody></table>`;
}

const errorBox = (id) => `<div class="error" id="${id}" aria-live="polite"></div>`;

// --- sign in ---------------------------------------------------------------------------------------
function viewSignin() {
  $("#nav").hidden = true;
  main().innerHTML = `
  <section class="card signin">
    <h1>Sign in</h1>
    <p class="muted">With the AK/SK <code>openstage up</code> printed (requests are signed in this browser;
    the SK never leaves it) or with a token from <code>OPENSTAGE_TOKENS</code>.</p>
    <form id="signin-form">
      <label>Project <input name="project" id="signin-project" required value="${esc(localStorage.getItem("openstage-project") || "default")}" autocomplete="off"></label>
      <fieldset><legend>AK/SK</legend>
        <label>Access key (AK) <input name="ak" id="signin-ak" autocomplete="username"></label>
        <label>Secret key (SK) <input name="sk" id="signin-sk" type="password" autocomplete="current-password"></label>
      </fieldset>
      <fieldset><legend>or a token</legend>
        <label>Token (X-Auth-Token) <input name="token" id="signin-token" type="password" autocomplete="off"></label>
      </fieldset>
      ${errorBox("signin-error")}
      <button type="submit" id="signin-submit">Sign in</button>
    </form>
  </section>`;
  const form = $("#signin-form");
  bindForm(form, async (v) => {
    let auth;
    if (v.ak || v.sk) {
      if (!v.ak || !v.sk) throw new Error("Sign-in failed: give both the AK and the SK.");
      auth = { kind: "aksk", ak: v.ak.trim(), sk: v.sk.trim(), project: v.project.trim() };
    } else if (v.token) {
      auth = { kind: "token", token: v.token.trim(), project: v.project.trim() };
    } else {
      throw new Error("Sign-in failed: give an AK and SK, or a token.");
    }
    try {
      await api("GET", "/v2/{project}/cas/environments?limit=1", undefined, { auth });
    } catch (e) {
      if (e.status === 401) throw new Error(`Sign-in failed: the ${auth.kind === "token" ? "token" : "AK/SK"} was refused (${e.message}).`);
      if (e.status === 403) throw new Error(`Sign-in failed: this credential is not granted project "${auth.project}" (${e.message}).`);
      throw new Error(`Sign-in failed: ${e.message}`);
    }
    session = auth;
    sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
    localStorage.setItem("openstage-project", auth.project);
    connectEvents();
    if (location.hash === "#/environments") route();
    else location.hash = "#/environments";
  });
  $("#signin-ak").focus();
}

function renderWho() {
  const who = $("#who");
  if (!session) return (who.innerHTML = "");
  const id = session.kind === "token" ? "token" : session.ak;
  who.innerHTML = `<span>project <strong id="who-project">${esc(session.project)}</strong> · ${esc(id)}</span>
    <span class="muted" id="stream-state" title="event stream">events: ${esc(streamState)}</span>
    <button type="button" id="signout">Sign out</button>`;
  $("#signout").onclick = () => {
    session = null;
    sessionStorage.removeItem(SESSION_KEY);
    if (streamAbort) streamAbort.abort();
    location.hash = "#/signin";
    route();
  };
}

// --- environments ------------------------------------------------------------------------------------
async function viewEnvironments() {
  const data = await api("GET", "/v2/{project}/cas/environments?order_by=name&order=asc");
  page("Environments", `
  <section class="card"><h2>Create an environment</h2>
    <form class="inline" id="env-form">
      <label>Name <input name="name" id="env-name" required></label>
      <label>Deploy mode <select name="deploy_mode"><option>container</option><option>virtualmachine</option><option>mixed</option></select></label>
      <label>VPC id <input name="vpc_id" value="vpc-1" required></label>
      <label>Base resource type <select name="type"><option>cce</option><option>cci</option><option>ecs</option><option>as</option></select></label>
      <label>Base resource id <input name="resource" value="cce-1" required></label>
      <label>Description <input name="description"></label>
      <button type="submit">Create</button>
    </form>${errorBox("env-error")}
  </section>
  <section class="card"><h2>${data.count} environment(s)</h2>
  ${table(["Name", "Deploy mode", "Resources", "Id", ""], data.environments.map((e) => [
    esc(e.name), esc(e.deploy_mode),
    esc([...e.base_resources, ...(e.optional_resources || [])].map((r) => `${r.type}:${r.id}`).join(", ")),
    `<code>${esc(e.id)}</code>`,
    `<button class="danger" data-delete-env="${esc(e.id)}" aria-label="Delete environment ${esc(e.name)}">Delete</button>`,
  ]))}${errorBox("env-list-error")}</section>`);
  bindForm($("#env-form"), async (v) => {
    const body = { name: v.name, deploy_mode: v.deploy_mode, vpc_id: v.vpc_id, base_resources: [{ id: v.resource, type: v.type }] };
    if (v.description) body.description = v.description;
    await api("POST", "/v2/{project}/cas/environments", body);
    await viewEnvironments();
  });
  main().querySelectorAll("[data-delete-env]").forEach((b) => (b.onclick = async () => {
    try {
      await api("DELETE", `/v2/{project}/cas/environments/${b.dataset.deleteEnv}`);
      await viewEnvironments();
    } catch (e) {
      $("#env-list-error").textContent = e.message;
    }
  }));
}

// --- applications -----------------------------------------------------------------------------------
async function viewApplications() {
  const data = await api("GET", "/v2/{project}/cas/applications?order_by=name&order=asc");
  page("Applications", `
  <section class="card"><h2>Create an application</h2>
    <form class="inline" id="app-form">
      <label>Name <input name="name" id="app-name" required></label>
      <label>Description <input name="description"></label>
      <button type="submit">Create</button>
    </form>${errorBox("app-error")}
  </section>
  <section class="card"><h2>${data.count} application(s)</h2>
  ${table(["Name", "Description", "Id"], data.applications.map((a) => [
    `<a href="#/applications/${esc(a.id)}">${esc(a.name)}</a>`, esc(a.description), `<code>${esc(a.id)}</code>`,
  ]))}</section>`);
  bindForm($("#app-form"), async (v) => {
    const body = { name: v.name };
    if (v.description) body.description = v.description;
    const app = await api("POST", "/v2/{project}/cas/applications", body);
    location.hash = `#/applications/${app.id}`;
  });
}

function parseEnvVars(text) {
  return text.split("\n").map((l) => l.trim()).filter(Boolean).map((l) => {
    const i = l.indexOf("=");
    if (i < 1) throw new Error(`"${l}": write NAME=value, one per line`);
    return { name: l.slice(0, i).trim(), value: l.slice(i + 1) };
  });
}

async function viewApplication(appId) {
  const [app, envs, config, comps] = await Promise.all([
    api("GET", `/v2/{project}/cas/applications/${appId}`),
    api("GET", "/v2/{project}/cas/environments?order_by=name&order=asc"),
    api("GET", `/v2/{project}/cas/applications/${appId}/configuration`),
    api("GET", `/v2/{project}/cas/applications/${appId}/components/overviews`),
  ]);
  const envName = Object.fromEntries(envs.environments.map((e) => [e.id, e.name]));
  const envOptions = envs.environments.map((e) => `<option value="${esc(e.id)}">${esc(e.name)}</option>`).join("");
  page(`Application ${app.name}`, `
  <p><a href="#/applications">← Applications</a> · id <code>${esc(app.id)}</code></p>
  <section class="card"><h2>Configuration per environment</h2>
    ${table(["Environment", "Variables", "Revision", ""], config.configuration.map((c) => [
      esc(envName[c.environment_id] || c.environment_id),
      `<code>${esc(c.configuration.env.map((v) => `${v.name}=${v.value}`).join(" "))}</code>`,
      esc(c.revision),
      `<button class="secondary" data-history="${esc(c.environment_id)}">History</button>`,
    ]), "No configuration yet.")}
    <div id="config-history"></div>
    <form class="inline" id="config-form">
      <label>Environment <select name="environment_id" id="config-env" required>${envOptions}</select></label>
      <label>Variables (NAME=value per line) <textarea name="env" id="config-vars"></textarea></label>
      <button type="submit">Save configuration</button>
    </form>${errorBox("config-error")}
  </section>
  <section class="card"><h2>Components</h2>
    ${table(["Name", "Runtime", "Category", "Instances"], comps.components.map((c) => [
      `<a href="#/applications/${esc(appId)}/components/${esc(c.id)}">${esc(c.name)}</a>`, esc(c.runtime), esc(c.category),
      esc((c.instances || []).map((i) => `${i.name} (${i.status_detail?.status || "?"})`).join(", ")),
    ]), "No components yet.")}
    <h2>Create a component</h2>
    <form class="inline" id="component-form">
      <label>Name <input name="name" id="component-name" required></label>
      <label>Runtime <select name="runtime"><option>Docker</option><option>Java8</option><option>Tomcat8</option><option>Nodejs8</option><option>Python3</option></select></label>
      <label>Category <select name="category"><option>Webapp</option><option>MicroService</option><option>Common</option></select></label>
      <label>Artifact URL <input name="url" value="swr.example.com/org/web:1.0.0" required></label>
      <button type="submit">Create component</button>
    </form>${errorBox("component-error")}
  </section>`);
  bindForm($("#config-form"), async (v) => {
    await api("PUT", `/v2/{project}/cas/applications/${appId}/configuration`, {
      environment_id: v.environment_id, configuration: { env: parseEnvVars(v.env) },
    });
    await viewApplication(appId);
  });
  main().querySelectorAll("[data-history]").forEach((b) => (b.onclick = async () => {
    const h = await api("GET", `/v2/{project}/cas/applications/${appId}/configuration/history?environment_id=${b.dataset.history}`);
    const revs = h.revisions || [];
    $("#config-history").innerHTML = `<h2>Revisions</h2>${table(["Revision", "Variables", "Time"], revs.map((r) => [
      esc(r.revision), `<code>${esc((r.configuration?.env || []).map((x) => `${x.name}=${x.value}`).join(" "))}</code>`,
      `<time-ago datetime="${esc(r.update_time || r.time || "")}"></time-ago>`,
    ]))}`;
  }));
  bindForm($("#component-form"), async (v) => {
    const c = await api("POST", `/v2/{project}/cas/applications/${appId}/components`, {
      name: v.name, runtime: v.runtime, category: v.category,
      source: { kind: "artifact", spec: { storage: "swr", type: "package", url: v.url, auth: "iam" } },
    });
    location.hash = `#/applications/${appId}/components/${c.id}`;
  });
}

// --- components and instances -----------------------------------------------------------------------
async function viewComponent(appId, compId) {
  const base = `/v2/{project}/cas/applications/${appId}/components/${compId}`;
  const [comp, list, envs, flavors] = await Promise.all([
    api("GET", base),
    api("GET", `${base}/instances`),
    api("GET", "/v2/{project}/cas/environments?order_by=name&order=asc"),
    api("GET", "/v2/{project}/cas/metadata/flavors"),
  ]);
  const instances = list.instances || [];
  page(`Component ${comp.name}`, `
  <p><a href="#/applications/${esc(appId)}">← Application</a> · ${esc(comp.runtime)} · ${esc(comp.category)}</p>
  <section class="card"><h2>Instances</h2>
  ${table(["Name", "Status", "Replicas", "Version", "Environment", "Job", "Actions"], instances.map((i) => [
    `<a href="#/applications/${esc(appId)}/components/${esc(compId)}/instances/${esc(i.id)}">${esc(i.name)}</a>`, `<status-badge kind="instance" value="${esc(i.status_detail?.status)}"></status-badge>`,
    esc(`${i.status_detail?.available_replica ?? "?"}/${i.status_detail?.replica ?? i.replica ?? "?"}`),
    esc(i.version), esc(envs.environments.find((e) => e.id === i.environment_id)?.name || i.environment_id),
    i.status_detail?.last_job_id ? `<a href="#/jobs/${esc(i.status_detail.last_job_id)}">${esc(i.status_detail.last_job_status || "job")}</a>` : "",
    `<div class="actions" data-instance="${esc(i.id)}" data-name="${esc(i.name)}">
      ${["start", "stop", "restart"].map((a) => `<button class="secondary" data-action="${a}" aria-label="${a} ${esc(i.name)}">${a}</button>`).join("")}
      <label class="sr">replicas <input type="number" min="0" value="${esc(i.status_detail?.replica ?? 1)}" style="min-width:4rem;width:4rem" aria-label="replicas of ${esc(i.name)}"></label>
      <button class="secondary" data-action="scale" aria-label="scale ${esc(i.name)}">scale</button>
      <button class="danger" data-action="delete" aria-label="delete ${esc(i.name)}">delete</button></div>`,
  ]), "No instances yet.")}${errorBox("instance-error")}
  </section>
  <section class="card"><h2>Create an instance</h2>
    <form class="inline" id="instance-form">
      <label>Name <input name="name" id="instance-name" required></label>
      <label>Environment <select name="environment_id" id="instance-env">${envs.environments.map((e) => `<option value="${esc(e.id)}">${esc(e.name)}</option>`).join("")}</select></label>
      <label>Flavor <select name="flavor_id">${flavors.flavors.map((f) => `<option>${esc(f.flavor_id)}</option>`).join("")}</select></label>
      <label>Replicas <input name="replica" type="number" min="1" value="1"></label>
      <label>Version <input name="version" value="1.0.0"></label>
      <label>Image <input name="url" value="${esc(comp.source?.spec?.url || "swr.example.com/org/web:1.0.0")}"></label>
      <button type="submit">Deploy</button>
    </form>${errorBox("instance-create-error")}
  </section>`);
  const envById = Object.fromEntries(envs.environments.map((e) => [e.id, e]));
  bindForm($("#instance-form"), async (v) => {
    const env = envById[v.environment_id];
    if (!env) throw new Error("create an environment first");
    const cluster = env.base_resources.find((r) => r.type === "cce") || env.base_resources[0];
    const accepted = await api("POST", `${base}/instances`, {
      name: v.name, environment_id: v.environment_id, flavor_id: v.flavor_id, replica: Number(v.replica), version: v.version,
      artifacts: { [comp.name]: { storage: "swr", type: "image", url: v.url, auth: "iam" } },
      refer_resources: [{ id: cluster.id, type: cluster.type, parameters: { namespace: "default" } }],
    });
    location.hash = `#/jobs/${accepted.job_id}?back=${encodeURIComponent(`#/applications/${appId}/components/${compId}`)}`;
  });
  main().querySelectorAll("[data-instance] button").forEach((b) => (b.onclick = async () => {
    const box = b.closest("[data-instance]");
    const id = box.dataset.instance;
    const action = b.dataset.action;
    $("#instance-error").textContent = "";
    try {
      let accepted;
      if (action === "delete") accepted = await api("DELETE", `${base}/instances/${id}`);
      else {
        const body = { action };
        if (action === "scale") body.parameters = { replica: Number(box.querySelector("input").value) };
        accepted = await api("POST", `${base}/instances/${id}/action`, body);
      }
      if (accepted && accepted.job_id) location.hash = `#/jobs/${accepted.job_id}?back=${encodeURIComponent(`#/applications/${appId}/components/${compId}`)}`;
      else await viewComponent(appId, compId);
    } catch (e) {
      $("#instance-error").textContent = e.message;
    }
  }));
}

// --- one instance: upgrade, snapshots and rollback ---------------------------------------------------------
async function viewInstance(appId, compId, instId) {
  const base = `/v2/{project}/cas/applications/${appId}/components/${compId}/instances/${instId}`;
  const back = `#/applications/${appId}/components/${compId}`;
  const [comp, inst, snaps] = await Promise.all([
    api("GET", `/v2/{project}/cas/applications/${appId}/components/${compId}`),
    api("GET", base),
    api("GET", `${base}/snapshots`),
  ]);
  const sd = inst.status_detail || {};
  const image = Object.values(inst.artifacts || {})[0]?.url || "";
  const toJob = (accepted) => (location.hash = `#/jobs/${accepted.job_id}?back=${encodeURIComponent(back + `/instances/${instId}`)}`);
  page(`Instance ${inst.name}`, `
  <p><a href="${esc(back)}">← Component ${esc(comp.name)}</a></p>
  <section class="card"><h2>Status</h2>
    <p><status-badge kind="instance" value="${esc(sd.status)}"></status-badge> · ${esc(sd.available_replica ?? "?")}/${esc(sd.replica ?? "?")} replicas available ·
    version <strong id="instance-version">${esc(inst.version)}</strong> · flavor ${esc(inst.flavor_id)} · image <code>${esc(image)}</code>
    ${sd.last_job_id ? ` · last job <a href="#/jobs/${esc(sd.last_job_id)}">${esc(sd.last_job_status || sd.last_job_id)}</a>` : ""}</p>
  </section>
  <section class="card"><h2>Upgrade</h2>
    <form class="inline" id="upgrade-form">
      <label>Version <input name="version" id="upgrade-version" required></label>
      <label>Image <input name="url" value="${esc(image)}" required></label>
      <button type="submit">Upgrade</button>
    </form>${errorBox("upgrade-error")}
  </section>
  <section class="card"><h2>Snapshots</h2>
    ${table(["Version", "Replicas", "Flavor", "Created", ""], (snaps.snapshots || []).map((x) => [
      esc(x.version), esc(x.replica), esc(x.flavor_id), `<time-ago datetime="${esc(x.create_time)}"></time-ago>`,
      `<button class="secondary" data-rollback="${esc(x.version)}" aria-label="Roll back to ${esc(x.version)}">Roll back to ${esc(x.version)}</button>`,
    ]), "No snapshots yet.")}${errorBox("rollback-error")}
  </section>`);
  bindForm($("#upgrade-form"), async (v) => {
    const key = Object.keys(inst.artifacts || {})[0] || comp.name;
    const previous = (inst.artifacts || {})[key] || { storage: "swr", type: "image", auth: "iam" };
    toJob(await api("PUT", base, { version: v.version, artifacts: { [key]: { ...previous, url: v.url } } }));
  });
  main().querySelectorAll("[data-rollback]").forEach((b) => (b.onclick = async () => {
    try {
      toJob(await api("POST", `${base}/action`, { action: "rollback", parameters: { version: b.dataset.rollback } }));
    } catch (e) {
      $("#rollback-error").textContent = e.message;
    }
  }));
}

// --- jobs: the live timeline -------------------------------------------------------------------------
async function viewJob(jobId, params) {
  const back = params.get("back");
  page(`Job ${jobId}`, `
  <p>${back ? `<a href="${esc(back)}">← Back</a> · ` : ""}status <strong id="job-status" class="status">…</strong>
     <span class="muted" id="job-progress"></span></p>
  <section class="card"><h2>Tasks</h2><ol class="timeline" id="job-tasks"></ol></section>
  <section class="card"><h2>Events of this job</h2><ol class="feed" id="job-events"></ol></section>${errorBox("job-error")}`);
  const tasks = new Map();
  let status = "";
  const draw = () => {
    const el = $("#job-status");
    if (!el) return;
    el.textContent = status;
    el.className = `status status-${status}`;
    const list = [...tasks.values()].sort((a, b) => a.task_index - b.task_index);
    const done = list.filter((t) => ["SUCCEEDED", "FAILED", "CANCELLED", "SKIPPED"].includes(t.task_status)).length;
    $("#job-progress").textContent = list.length ? `${done}/${list.length} tasks` : "";
    $("#job-tasks").innerHTML = list.map((t) => `<li class="${esc(t.task_status)}" data-task="${esc(t.task_index)}">
      <strong>${esc(t.task_name)}</strong> <status-badge value="${esc(t.task_status)}"></status-badge>
      <div class="muted">${esc(t.messages || "")}</div></li>`).join("");
  };
  const apply = (doc) => {
    status = doc.job.EXECUTION_STATUS || doc.job.execution_status || status;
    for (const t of doc.tasks) {
      tasks.set(t.TASK_INDEX ?? t.task_index, {
        task_index: t.TASK_INDEX ?? t.task_index, task_name: t.TASK_NAME ?? t.task_name,
        task_status: t.TASK_STATUS ?? t.task_status, messages: t.MESSAGES ?? t.messages,
      });
    }
    draw();
  };
  const off = onEvent((ev) => {
    const d = ev.data || {};
    if (d.job_id !== jobId) return;
    if (!$("#job-events")) return off();
    $("#job-events").insertAdjacentHTML("afterbegin", `<li>${esc(ev.time || "")} ${esc(ev.type)}</li>`);
    if (ev.type.includes(".task.")) {
      const prev = tasks.get(d.task_index) || {};
      tasks.set(d.task_index, { ...prev, task_index: d.task_index, task_name: d.task_name, task_status: d.task_status, messages: d.messages });
    } else if (ev.type.includes(".job.")) {
      status = d.execution_status || status;
      for (const t of d.tasks || []) if (!tasks.has(t.task_index) || d.execution_status !== "SUBMITTED") tasks.set(t.task_index, { ...tasks.get(t.task_index), ...t });
    }
    draw();
  });
  try {
    apply(await api("GET", `/v2/{project}/cas/jobs/${jobId}`));
  } catch (e) {
    $("#job-error").textContent = e.message;
  }
}

// --- registry -----------------------------------------------------------------------------------------
let registryGeneration = 0;
async function viewRegistry() {
  const generation = ++registryGeneration; // a slower, older refresh must not overwrite a newer one
  const services = (await api("GET", "/v4/{project}/registry/microservices")).services || [];
  const details = await Promise.all(services.map(async (s) => {
    const [inst, schemas, providers] = await Promise.all([
      api("GET", `/v4/{project}/registry/microservices/${s.serviceId}/instances`, undefined, { headers: { "X-ConsumerId": s.serviceId } }).catch(() => ({})),
      api("GET", `/v4/{project}/registry/microservices/${s.serviceId}/schemas`).catch(() => ({})),
      api("GET", `/v4/{project}/registry/microservices/${s.serviceId}/providers`).catch(() => ({})),
    ]);
    return { s, instances: inst.instances || [], schemas: schemas.schemas || [], providers: providers.providers || [] };
  }));
  if (!location.hash.startsWith("#/registry") || generation !== registryGeneration) return;
  page("Registry", `
  <p class="muted">Micro-services of project ${esc(session.project)} by application and environment; live from the registry's events.</p>
  <section class="card"><h2>${services.length} micro-service(s)</h2>
  ${table(["Application", "Environment", "Service", "Version", "Instances", "Schemas", "Id"], details.map(({ s, instances, schemas }) => [
    esc(s.appId), esc(s.environment || "-"), esc(s.serviceName), esc(s.version), esc(instances.length),
    esc(schemas.map((x) => x.schemaId).join(", ") || (s.schemas || []).join(", ")), `<code>${esc(s.serviceId)}</code>`,
  ]))}</section>
  <section class="card"><h2>Instances</h2>
  ${table(["Service", "Instance", "Host", "Endpoints", "Status", "Registered", "Last change", "Lease"], details.flatMap(({ s, instances }) => instances.map((i) => [
    esc(`${s.serviceName} ${s.version}`), `<code>${esc(i.instanceId)}</code>`, esc(i.hostName), esc((i.endpoints || []).join(" ")),
    `<status-badge value="${esc(i.status)}"></status-badge>`, `<time-ago datetime="${esc(i.timestamp)}"></time-ago>`,
    `<time-ago datetime="${esc(i.modTimestamp)}"></time-ago>`,
    esc(i.healthCheck ? `${i.healthCheck.interval}s × ${(i.healthCheck.times ?? 0) + 1}` : "-"),
  ])), "No instances registered.")}</section>
  <section class="card"><h2>Dependencies</h2>${dependencyGraph(details)}</section>`);
}

// The consumer -> provider graph as SVG: services on a circle, an arrow per dependency.
function dependencyGraph(details) {
  const edges = details.flatMap(({ s, providers }) => providers.map((p) => [s.serviceId, p.serviceId]));
  if (!edges.length) return `<p class="muted">No dependencies declared.</p>`;
  const ids = [...new Set(edges.flat())];
  const name = Object.fromEntries(details.map(({ s }) => [s.serviceId, `${s.serviceName} ${s.version}`]));
  const r = Math.min(150, 40 + 25 * ids.length), cx = 300, cy = r + 30, height = 2 * r + 80;
  const at = Object.fromEntries(ids.map((id, i) => {
    const a = (2 * Math.PI * i) / ids.length - Math.PI / 2;
    return [id, [cx + r * Math.cos(a), cy + r * Math.sin(a)]];
  }));
  const lines = edges.map(([a, b]) => {
    const [x1, y1] = at[a], [x2, y2] = at[b];
    const k = 1 - 22 / Math.max(1, Math.hypot(x2 - x1, y2 - y1));
    return `<line x1="${x1}" y1="${y1}" x2="${x1 + (x2 - x1) * k}" y2="${y1 + (y2 - y1) * k}" stroke="#5b6475" marker-end="url(#arrow)"/>`;
  }).join("");
  const nodes = ids.map((id) => `<g><circle cx="${at[id][0]}" cy="${at[id][1]}" r="18" fill="#dbe6ff" stroke="#0a5bd3"/>
    <text x="${at[id][0]}" y="${at[id][1] + 34}" text-anchor="middle" font-size="12">${esc(name[id] || id)}</text></g>`).join("");
  const list = edges.map(([a, b]) => `${name[a] || a} → ${name[b] || b}`).join("; ");
  return `<svg role="img" aria-label="Dependencies: ${esc(list)}" viewBox="0 0 600 ${height}" width="600" height="${height}">
    <defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
    <path d="M 0 0 L 10 5 L 0 10 z" fill="#5b6475"/></marker></defs>${lines}${nodes}</svg>
    <p class="muted">${esc(list)}</p>`;
}

// --- config items -------------------------------------------------------------------------------------
async function viewConfig(params) {
  const dim = params.get("dimensionsInfo") || "";
  let items = null;
  let err = "";
  if (dim) {
    try {
      items = await api("GET", `/v3/{project}/configuration/items?dimensionsInfo=${encodeURIComponent(dim)}`);
    } catch (e) {
      err = e.message;
    }
  }
  const rows = [];
  for (const [d, kv] of Object.entries(items || {})) {
    if (d === "revision") continue;
    for (const [k, v] of Object.entries(kv || {})) rows.push([esc(d), esc(k), `<code>${esc(typeof v === "string" ? v : JSON.stringify(v))}</code>`]);
  }
  page("Config items", `
  <section class="card"><form class="inline" id="config-query">
    <label>dimensionsInfo (service@app#version) <input name="dimensionsInfo" value="${esc(dim)}" required></label>
    <button type="submit">Show</button></form>${errorBox("config-query-error")}
  ${dim ? table(["Dimension", "Key", "Value"], rows, "No items.") : ""}</section>
  <section class="card"><h2>Create or update an item</h2>
  <form class="inline" id="item-form">
    <label>dimensionsInfo <input name="dimensionsInfo" value="${esc(dim)}" required></label>
    <label>Key <input name="key" required></label><label>Value <input name="value"></label>
    <button type="submit">Save</button></form>${errorBox("item-error")}</section>`);
  if (err) $("#config-query-error").textContent = err;
  bindForm($("#config-query"), async (v) => {
    location.hash = `#/config?dimensionsInfo=${encodeURIComponent(v.dimensionsInfo)}`;
  });
  bindForm($("#item-form"), async (v) => {
    await api("POST", "/v3/{project}/configuration/items", { dimensionsInfo: v.dimensionsInfo, items: { [v.key]: v.value } });
    location.hash = `#/config?dimensionsInfo=${encodeURIComponent(v.dimensionsInfo)}&t=${Date.now()}`;
  });
}

// --- events feed --------------------------------------------------------------------------------------
function viewEvents() {
  const row = (e) => `<tr><td>${esc(e.time)}</td><td>${esc(e.type)}</td><td>${esc(e.subject)}</td></tr>`;
  page("Events", `<p class="muted">The project's CloudEvents as they happen (since you signed in).</p>
  <section class="card"><table class="feed"><thead><tr><th>Time</th><th>Type</th><th>Subject</th></tr></thead>
  <tbody id="event-feed">${feed.map(row).join("")}</tbody></table></section>`);
  const off = onEvent((e) => {
    const body = $("#event-feed");
    if (!body) return off();
    body.insertAdjacentHTML("afterbegin", row(e));
  });
}

// --- routing ------------------------------------------------------------------------------------------
let registryOff = null;
async function route() {
  if (registryOff) registryOff = (registryOff(), null);
  const [path, query] = (location.hash.slice(1) || "/environments").split("?");
  const params = new URLSearchParams(query || "");
  if (!session) {
    renderWho();
    return viewSignin();
  }
  $("#nav").hidden = false;
  renderWho();
  for (const a of $("#nav").querySelectorAll("a")) {
    if (path.startsWith(a.getAttribute("href").slice(1))) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  const parts = path.split("/").filter(Boolean);
  try {
    if (parts[0] === "signin") return viewSignin();
    if (parts[0] === "applications" && parts[4] === "instances" && parts[5]) await viewInstance(parts[1], parts[3], parts[5]);
    else if (parts[0] === "applications" && parts[2] === "components" && parts[3]) await viewComponent(parts[1], parts[3]);
    else if (parts[0] === "applications" && parts[1]) await viewApplication(parts[1]);
    else if (parts[0] === "applications") await viewApplications();
    else if (parts[0] === "jobs" && parts[1]) await viewJob(parts[1], params);
    else if (parts[0] === "registry") {
      await viewRegistry();
      let pending = null;
      registryOff = onEvent((ev) => {
        if (!String(ev.type).includes(".registry.") || pending) return;
        pending = setTimeout(() => ((pending = null), location.hash.startsWith("#/registry") && viewRegistry()), 200);
      });
    } else if (parts[0] === "config") await viewConfig(params);
    else if (parts[0] === "events") viewEvents();
    else await viewEnvironments();
  } catch (e) {
    main().innerHTML = `<h1>Error</h1><div class="error" role="alert">${esc(e.message)}</div>`;
    if (e.status === 401) {
      session = null;
      sessionStorage.removeItem(SESSION_KEY);
    }
  }
  main().focus({ preventScroll: true });
}

window.openstageConsole = { feed, api }; // for people poking at it in the browser's developer tools
window.addEventListener("hashchange", route);
if (session) connectEvents();
route();
