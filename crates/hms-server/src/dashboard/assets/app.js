// The openhms dashboard's one script. Pages are rendered by the server; this fills them
// from the API and sends what the person does back to it. Every call of an API operation
// goes to /dashboard/api/…, which the server dispatches through its REST router: the
// answers, and the errors, are the API's own. Text is always set as text, never as HTML.
"use strict";

(() => {
  const csrfMeta = document.querySelector('meta[name="csrf-token"]');
  const csrf = csrfMeta ? csrfMeta.content : "";
  const page = document.body.dataset.page;
  const objectId = document.body.dataset.id;
  const POLL_MS = 2000;

  // ---- talking to the server ----

  /** Sends a request of the dashboard; answers {ok, status, data}. */
  async function call(method, path, body) {
    const headers = { accept: "application/json" };
    if (method !== "GET") headers["x-csrf-token"] = csrf;
    const init = { method, headers, credentials: "same-origin" };
    if (body !== undefined) {
      headers["content-type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const response = await fetch(path, init);
    if (response.status === 401 && path.startsWith("/dashboard/")) {
      const text = await response.clone().text();
      if (text.includes("Not signed in")) location.assign("/dashboard/sign-in");
    }
    const text = await response.text();
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      data = { message: text };
    }
    return { ok: response.ok, status: response.status, data };
  }

  /** Calls an operation of the API, as the signed-in workspace. */
  const api = (method, path, body) => call(method, "/dashboard/api" + path, body);

  const query = (params) => {
    const pairs = Object.entries(params).filter(([, value]) => value !== undefined && value !== null && value !== "");
    return pairs.length ? "?" + new URLSearchParams(pairs).toString() : "";
  };

  // ---- building the page ----

  /** An element with attributes (`on…` ones become listeners) and children (text or nodes). */
  function el(tag, attributes = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes)) {
      if (value === undefined || value === null || value === false) continue;
      if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else if (value === true) node.setAttribute(name, "");
      else node.setAttribute(name, String(value));
    }
    for (const child of children.flat()) {
      if (child === undefined || child === null) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  const $ = (selector, root = document) => root.querySelector(selector);
  const link = (href, text) => el("a", { href }, text);
  const when = (time) => (time ? new Date(time).toLocaleString() : "—");

  function say(message) {
    const status = $("#status");
    if (status) status.textContent = message;
  }

  function duration(fromTime, toTime) {
    const seconds = Math.max(0, Math.round((new Date(toTime) - new Date(fromTime)) / 1000));
    const parts = [];
    if (seconds >= 3600) parts.push(Math.floor(seconds / 3600) + " h");
    if (seconds >= 60) parts.push(Math.floor((seconds % 3600) / 60) + " min");
    parts.push((seconds % 60) + " s");
    return parts.join(" ");
  }

  /** A table body's rows, or one row saying it is empty. */
  function fill(tbody, rows, columns, emptyText) {
    tbody.replaceChildren(...(rows.length ? rows : [el("tr", {}, el("td", { colspan: columns }, emptyText))]));
  }

  // ---- errors next to the field they name ----

  function clearErrors(form) {
    form.querySelectorAll(".field-error, .form-error").forEach((node) => (node.textContent = ""));
    form.querySelectorAll("[aria-invalid]").forEach((node) => node.removeAttribute("aria-invalid"));
  }

  /**
   * Shows an API error in `form`: each of its details next to the field whose name it
   * mentions (the longest such name), the rest at the end of the form.
   */
  function showError(form, error) {
    clearErrors(form);
    const data = error || {};
    const details = data.details && data.details.length ? data.details : [];
    const slots = [...form.querySelectorAll("[data-error-for]")];
    const general = [];
    for (const detail of details) {
      const slot = slots
        .filter((candidate) => detail.includes(candidate.dataset.errorFor))
        .sort((a, b) => b.dataset.errorFor.length - a.dataset.errorFor.length)[0];
      if (slot) {
        slot.textContent = (slot.textContent ? slot.textContent + " " : "") + detail;
        const field = slot.previousElementSibling;
        if (field && field.matches("input, select, textarea")) field.setAttribute("aria-invalid", "true");
      } else {
        general.push(detail);
      }
    }
    const formError = $(".form-error", form);
    const text = [data.message || "The request failed.", ...general].join(": ");
    if (formError) formError.textContent = text;
    else say(text);
  }

  // ---- copying and confirming ----

  async function copyText(text, what) {
    try {
      await navigator.clipboard.writeText(text);
      say(`Copied ${what} to the clipboard.`);
    } catch {
      say(`Could not copy ${what}: select it and copy it by hand.`);
    }
  }

  document.addEventListener("click", (event) => {
    const button = event.target.closest("button.copy");
    if (!button) return;
    const source = button.dataset.copy ? $(button.dataset.copy) : null;
    const text = button.dataset.copyText || (source ? source.textContent : "");
    copyText(text, button.dataset.what || "it");
  });

  /**
   * Asks the person to confirm `question` in the page's dialog, with extra `fields`
   * (elements); answers whether they confirmed.
   */
  function ask(question, fields = [], confirmLabel = "Confirm") {
    const dialog = $("#dialog");
    $("#dialog-text").textContent = question;
    $("#dialog-fields").replaceChildren(...fields);
    $("#dialog-ok").textContent = confirmLabel;
    dialog.returnValue = "";
    dialog.showModal();
    return new Promise((resolve) => {
      dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
    });
  }

  /** A labelled field for the dialog. */
  function labelled(label, field) {
    field.id = field.id || "dialog-field-" + Math.random().toString(36).slice(2);
    return el("p", {}, el("label", { for: field.id }, label), field);
  }

  /** Runs `action` on submit of `form`, with the form's errors cleared first. */
  function onSubmit(form, action) {
    if (!form) return;
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearErrors(form);
      const button = form.querySelector('button[type="submit"]');
      if (button) button.disabled = true;
      try {
        await action(new FormData(form));
      } finally {
        if (button) button.disabled = false;
      }
    });
  }

  // ---- pages ----

  const pages = {};

  pages.developer = () => {
    async function loadSecrets() {
      const { ok, data } = await call("GET", "/dashboard/workspace/secrets");
      if (!ok) return say(data.message);
      const rows = data.secrets.map((secret) =>
        el(
          "tr",
          {},
          el("td", {}, el("code", {}, secret.id)),
          el("td", {}, "…" + secret.ends_with),
          el("td", {}, when(secret.created_at)),
          el(
            "td",
            {},
            el(
              "button",
              {
                type: "button",
                disabled: data.secrets.length < 2,
                title: data.secrets.length < 2 ? "The last secret cannot be retired" : undefined,
                onclick: () => retire(secret),
              },
              "Retire",
            ),
          ),
        ),
      );
      fill($("#secrets"), rows, 4, "No live secret.");
    }
    async function retire(secret) {
      if (!(await ask(`Retire the secret ending with …${secret.ends_with}? Tokens signed with it stop working.`, [], "Retire"))) return;
      const { ok, data } = await call("POST", `/dashboard/workspace/secrets/${encodeURIComponent(secret.id)}/retire`);
      say(ok ? "Secret retired." : [data.message, ...(data.details || [])].join(": "));
      loadSecrets();
    }
    $("#add-secret").addEventListener("click", async () => {
      const { ok, data } = await call("POST", "/dashboard/workspace/secrets");
      if (!ok) return say(data.message);
      $("#new-secret-value").textContent = data.secret;
      $("#new-secret").hidden = false;
      say("Secret added: copy it now, it is not shown again.");
      loadSecrets();
    });
    onSubmit($("#token-form"), async (form) => {
      const validity_secs = Number(form.get("amount")) * Number(form.get("unit"));
      const { ok, data } = await call("POST", "/dashboard/workspace/token", { validity_secs });
      if (!ok) return showError($("#token-form"), data);
      $("#token-value").textContent = data.token;
      const expiry = $("#token-expiry");
      expiry.dateTime = data.expires_at;
      expiry.textContent = when(data.expires_at);
      $("#token-result").hidden = false;
      say("Management token generated.");
    });
    loadSecrets();
  };

  /** The roles of the presets offered for new templates. */
  const PRESETS = {
    conference: {
      host: role(["audio", "video", "screen"], ["host", "guest"], true),
      guest: role(["audio", "video", "screen"], ["host", "guest"], false),
    },
    webinar: {
      host: role(["audio", "video", "screen"], ["host", "speaker"], true),
      speaker: role(["audio", "video", "screen"], ["host", "speaker"], false),
      viewer: role([], ["host", "speaker"], false),
    },
  };

  function role(publishes, subscribesTo, moderates) {
    return {
      publishParams: { allowed: publishes },
      subscribeParams: { subscribeToRoles: subscribesTo, maxSubsBitRate: 3200 },
      permissions: {
        endRoom: moderates,
        removeOthers: moderates,
        mute: moderates,
        unmute: moderates,
        changeRole: moderates,
        sendRoomState: moderates,
        pollRead: true,
        pollWrite: moderates,
        browserRecording: moderates,
        rtmpStreaming: moderates,
        hlsStreaming: moderates,
      },
      priority: 1,
      maxPeerCount: 0,
    };
  }

  /** Pages through a cursor-paged list: `load(start)` answers a page, `show` adds its rows. */
  function pager(load, show) {
    const more = $("#more");
    let next = null;
    async function page(start) {
      const { ok, data } = await load(start);
      if (!ok) return say(data.message);
      show(data.data || [], Boolean(start));
      next = data.last || null;
      more.hidden = !next || (data.data || []).length < data.limit;
    }
    more.addEventListener("click", () => page(next));
    return () => page(null);
  }

  pages.templates = () => {
    const list = $("#template-list");
    const first = pager(
      (start) => api("GET", "/v2/templates" + query({ limit: 20, start })),
      (templates, appending) => {
        const rows = templates.map((template) =>
          el(
            "tr",
            {},
            el("td", {}, link(`/dashboard/templates/${encodeURIComponent(template.id)}`, template.name)),
            el("td", {}, Object.keys(template.roles || {}).join(", ")),
            el("td", {}, el("code", {}, template.id)),
          ),
        );
        if (appending) list.append(...rows);
        else fill(list, rows, 3, "No template yet.");
      },
    );
    onSubmit($("#create-template"), async (form) => {
      const roles = PRESETS[form.get("preset")];
      const { ok, data } = await api("POST", "/v2/templates", { name: form.get("name"), roles });
      if (!ok) return showError($("#create-template"), data);
      location.assign(`/dashboard/templates/${encodeURIComponent(data.id)}`);
    });
    first();
  };

  const PUBLISHES = ["audio", "video", "screen"];
  const PERMISSIONS = [
    "endRoom",
    "removeOthers",
    "mute",
    "unmute",
    "changeRole",
    "sendRoomState",
    "pollRead",
    "pollWrite",
    "browserRecording",
    "rtmpStreaming",
    "hlsStreaming",
  ];

  pages.template = () => {
    const base = `/v2/templates/${encodeURIComponent(objectId)}`;
    let template = null;

    function checkboxes(legend, name, options, checked) {
      return el(
        "fieldset",
        {},
        el("legend", {}, legend),
        options.map((option) =>
          el("label", { class: "check" }, el("input", { type: "checkbox", name, value: option, checked: checked.includes(option) }), " " + option),
        ),
      );
    }

    function number(label, name, value, prefix) {
      const id = `${prefix}-${name}`;
      return [
        el("label", { for: id }, label),
        el("input", { id, name, type: "number", value, required: true }),
        el("span", { class: "field-error", "data-error-for": name }),
      ];
    }

    function roleForm(roleName, current, roleNames) {
      const prefix = "role-" + roleName.replace(/[^A-Za-z0-9_-]/g, "_");
      const form = el(
        "form",
        { class: "card role", "data-role": roleName, "aria-label": `Role ${roleName}` },
        el("h2", {}, "Role ", el("code", {}, roleName)),
        checkboxes("Publishes", "publish", PUBLISHES, current.publishParams.allowed || []),
        el("span", { class: "field-error", "data-error-for": "publishParams" }),
        checkboxes("Subscribes to", "subscribe", roleNames, current.subscribeParams.subscribeToRoles || []),
        el("span", { class: "field-error", "data-error-for": "subscribeParams" }),
        checkboxes("Permissions", "permission", PERMISSIONS, PERMISSIONS.filter((name) => current.permissions[name])),
        el("span", { class: "field-error", "data-error-for": "permissions" }),
        number("Priority (1 highest to 5)", "priority", current.priority, prefix),
        number("Peer limit (0 no limit, -1 nobody)", "maxPeerCount", current.maxPeerCount, prefix),
        el("div", { class: "row" }, el("button", { type: "submit" }, "Save role"), el("button", { type: "button", class: "danger", onclick: () => removeRole(roleName) }, "Delete role")),
        el("p", { class: "error form-error", role: "alert" }),
      );
      onSubmit(form, async (fields) => {
        const permissions = Object.fromEntries(PERMISSIONS.map((name) => [name, fields.getAll("permission").includes(name)]));
        const body = {
          ...current,
          publishParams: { ...current.publishParams, allowed: fields.getAll("publish") },
          subscribeParams: { ...current.subscribeParams, subscribeToRoles: fields.getAll("subscribe") },
          permissions,
          priority: Number(fields.get("priority")),
          maxPeerCount: Number(fields.get("maxPeerCount")),
        };
        const { ok, data } = await api("POST", `${base}/roles/${encodeURIComponent(roleName)}`, body);
        if (!ok) return showError(form, data);
        say(`Role ${roleName} saved.`);
        load();
      });
      return form;
    }

    async function removeRole(roleName) {
      if (!(await ask(`Delete the role ${roleName} from this template?`, [], "Delete role"))) return;
      const { ok, data } = await api("DELETE", `${base}/roles/${encodeURIComponent(roleName)}`);
      say(ok ? `Role ${roleName} deleted.` : [data.message, ...(data.details || [])].join(": "));
      load();
    }

    async function load() {
      const { ok, data } = await api("GET", base);
      if (!ok) return say(data.message);
      template = data;
      $("h1").textContent = `Template ${data.name}`;
      const names = Object.keys(data.roles || {});
      $("#roles").replaceChildren(...names.map((name) => roleForm(name, data.roles[name], names)));
      $("#settings-json").value = JSON.stringify(data.settings || {}, null, 2);
    }

    onSubmit($("#add-role"), async (form) => {
      const name = form.get("name");
      const names = Object.keys(template.roles || {});
      const body = { name, ...role(["audio", "video"], [...names, name], false) };
      const { ok, data } = await api("POST", `${base}/roles/${encodeURIComponent(name)}`, body);
      if (!ok) return showError($("#add-role"), data);
      $("#add-role").reset();
      say(`Role ${name} added.`);
      load();
    });

    onSubmit($("#settings-form"), async (form) => {
      let settings;
      try {
        settings = JSON.parse(form.get("settings"));
      } catch (error) {
        return showError($("#settings-form"), { message: "Settings are no JSON", details: [`settings: ${error.message}`] });
      }
      const { ok, data } = await api("POST", `${base}/settings`, settings);
      if (!ok) return showError($("#settings-form"), { ...data, details: (data.details || []).map((d) => (d.includes("settings") ? d : `settings: ${d}`)) });
      say("Settings saved.");
      load();
    });
    load();
  };

  pages.rooms = () => {
    const list = $("#room-list");
    let filter = {};

    function row(room) {
      return el(
        "tr",
        {},
        el("td", {}, link(`/dashboard/rooms/${encodeURIComponent(room.id)}`, room.name)),
        el("td", {}, room.enabled ? "enabled" : "disabled"),
        el("td", {}, when(room.created_at)),
        el(
          "td",
          {},
          el(
            "button",
            {
              type: "button",
              "aria-label": `${room.enabled ? "Disable" : "Enable"} room ${room.name}`,
              onclick: async (event) => {
                const { ok, data } = await api("POST", `/v2/rooms/${encodeURIComponent(room.id)}`, { enabled: !room.enabled });
                if (!ok) return say(data.message);
                event.target.closest("tr").replaceWith(row(data));
                say(`Room ${data.name} ${data.enabled ? "enabled" : "disabled"}.`);
              },
            },
            room.enabled ? "Disable" : "Enable",
          ),
        ),
      );
    }

    const first = pager(
      (start) => api("GET", "/v2/rooms" + query({ limit: 20, start, ...filter })),
      (rooms, appending) => {
        if (appending) list.append(...rooms.map(row));
        else fill(list, rooms.map(row), 4, "No room matches.");
      },
    );

    onSubmit($("#room-filter"), async (form) => {
      filter = { name: form.get("name"), enabled: form.get("enabled") };
      await first();
    });

    onSubmit($("#create-room"), async (form) => {
      const body = {};
      for (const key of ["name", "description", "template_id"]) if (form.get(key)) body[key] = form.get(key);
      const { ok, data } = await api("POST", "/v2/rooms", body);
      if (!ok) return showError($("#create-room"), data);
      location.assign(`/dashboard/rooms/${encodeURIComponent(data.id)}`);
    });

    api("GET", "/v2/templates?limit=100").then(({ ok, data }) => {
      if (!ok) return;
      $("#room-template").append(...data.data.map((template) => el("option", { value: template.id }, template.name)));
    });
    first();
  };

  pages.room = () => {
    const roomPath = `/v2/rooms/${encodeURIComponent(objectId)}`;
    const codesPath = `/v2/room-codes/room/${encodeURIComponent(objectId)}`;

    async function loadRoom() {
      const { ok, data } = await api("GET", roomPath);
      if (!ok) return say(data.message);
      $("h1").textContent = `Room ${data.name}`;
      $("#room-state").textContent = data.enabled ? "enabled" : "disabled";
      const toggle = $("#toggle-room");
      toggle.textContent = data.enabled ? "Disable room" : "Enable room";
      toggle.onclick = async () => {
        const answer = await api("POST", roomPath, { enabled: !data.enabled });
        say(answer.ok ? `Room ${answer.data.enabled ? "enabled" : "disabled"}.` : answer.data.message);
        loadRoom();
      };
      const template = await api("GET", `/v2/templates/${encodeURIComponent(data.template_id)}`);
      if (template.ok) {
        const select = $("#code-role");
        select.replaceChildren(el("option", { value: "" }, "every role"), ...Object.keys(template.data.roles || {}).map((name) => el("option", { value: name }, name)));
      }
    }

    function codeRow(code) {
      return el(
        "tr",
        { "data-code": code.code },
        el("td", {}, el("code", {}, code.code)),
        el("td", {}, code.role),
        el("td", {}, code.enabled ? "enabled" : "disabled"),
        el(
          "td",
          {},
          el("button", { type: "button", class: "copy", "data-copy-text": code.code, "data-what": `room code ${code.code}`, "aria-label": `Copy room code ${code.code}` }, "Copy"),
          " ",
          el(
            "button",
            {
              type: "button",
              "aria-label": `${code.enabled ? "Disable" : "Enable"} room code ${code.code}`,
              onclick: async () => {
                const { ok, data } = await api("POST", "/v2/room-codes/code", { code: code.code, enabled: !code.enabled });
                say(ok ? `Room code ${code.code} ${data.enabled ? "enabled" : "disabled"}.` : data.message);
                loadCodes();
              },
            },
            code.enabled ? "Disable" : "Enable",
          ),
        ),
      );
    }

    async function loadCodes() {
      const { ok, data } = await api("GET", codesPath);
      if (!ok) return say(data.message);
      fill($("#code-list"), data.data.map(codeRow), 4, "No room code yet.");
    }

    async function loadSessions() {
      const { ok, data } = await api("GET", "/v2/sessions" + query({ room_id: objectId, limit: 10 }));
      if (!ok) return;
      const items = data.data.map((session) =>
        el("li", {}, link(`/dashboard/sessions/${encodeURIComponent(session.id)}`, when(session.created_at)), session.active ? " (in progress)" : ""),
      );
      $("#room-sessions").replaceChildren(...(items.length ? items : [el("li", {}, "No session yet.")]));
    }

    onSubmit($("#create-code"), async (form) => {
      const roleName = form.get("role");
      const path = roleName ? `${codesPath}/role/${encodeURIComponent(roleName)}` : codesPath;
      const { ok, data } = await api("POST", path);
      if (!ok) return showError($("#create-code"), data);
      say("Room code created.");
      loadCodes();
    });
    async function loadLiveState() {
      const { ok, status, data } = await api("GET", `/v2/active-rooms/${encodeURIComponent(objectId)}`);
      const peers = ok ? data.session.peers.length : 0;
      $("#room-live").textContent = ok ? `in session, ${peers} ${peers === 1 ? "peer" : "peers"}` : status === 404 ? "not in session" : data.message;
    }

    loadRoom();
    loadCodes();
    loadSessions();
    loadLiveState();
  };

  /** Runs `refresh` now and every POLL_MS while the page is open. */
  function poll(refresh) {
    refresh();
    setInterval(refresh, POLL_MS);
  }

  pages.live = () => {
    poll(async () => {
      const { ok, data } = await api("GET", "/v2/sessions" + query({ active: "true", limit: 100 }));
      if (!ok) return say(data.message);
      const rows = data.data.map((session) => {
        const present = Object.values(session.peers || {}).filter((peer) => !peer.left_at).length;
        return el(
          "tr",
          {},
          el("td", {}, link(`/dashboard/live/${encodeURIComponent(session.room_id)}`, session.room_id)),
          el("td", {}, String(present)),
          el("td", {}, when(session.created_at)),
        );
      });
      fill($("#active-list"), rows, 3, "No room is live.");
    });
  };

  pages["live-room"] = () => {
    const base = `/v2/active-rooms/${encodeURIComponent(objectId)}`;
    let roles = [];
    const rows = new Map();

    api("GET", `/v2/rooms/${encodeURIComponent(objectId)}`).then(async ({ ok, data }) => {
      if (!ok) return;
      $("h1").textContent = `Live room ${data.name}`;
      const template = await api("GET", `/v2/templates/${encodeURIComponent(data.template_id)}`);
      if (template.ok) roles = Object.keys(template.data.roles || {});
    });

    function tracks(peer) {
      const all = Object.values(peer.tracks || {});
      return all.length ? all.map((track) => `${track.source} ${track.type || track.kind}${track.mute ? " (muted)" : ""}`).join(", ") : "none";
    }

    async function rename(peer) {
      const field = el("input", { value: peer.name, required: true });
      if (!(await ask(`Rename ${peer.name}`, [labelled("New name", field)], "Rename"))) return;
      act(await api("POST", `${base}/peers/${encodeURIComponent(peer.id)}`, { name: field.value }), "Peer renamed.");
    }

    async function changeRole(peer) {
      const field = el("select", {}, roles.map((name) => el("option", { value: name, selected: name === peer.role }, name)));
      if (!(await ask(`Change the role of ${peer.name}`, [labelled("New role", field)], "Change role"))) return;
      act(await api("POST", `${base}/peers/${encodeURIComponent(peer.id)}`, { role: field.value }), "Role changed.");
    }

    async function remove(peer) {
      if (!(await ask(`Remove ${peer.name} from the room?`, [], "Remove peer"))) return;
      act(await api("POST", `${base}/remove-peers`, { peer_id: peer.id, reason: "Removed from the dashboard" }), `${peer.name} removed.`);
    }

    function act({ ok, data }, done) {
      say(ok ? done : [data.message, ...(data.details || [])].join(": "));
      refresh();
    }

    function peerRow(peer) {
      const row = el("tr", { "data-peer": peer.id });
      row.peer = peer;
      row.append(
        el("td", { class: "name" }),
        el("td", { class: "role" }),
        el("td", {}, when(peer.joined_at)),
        el("td", { class: "tracks" }),
        el(
          "td",
          {},
          el("button", { type: "button", "data-action": "Rename", onclick: () => rename(row.peer) }, "Rename"),
          " ",
          el("button", { type: "button", "data-action": "Change role of", onclick: () => changeRole(row.peer) }, "Change role"),
          " ",
          el("button", { type: "button", "data-action": "Remove", class: "danger", onclick: () => remove(row.peer) }, "Remove"),
        ),
      );
      return row;
    }

    /** Updates the rows in place, so that focus and the buttons survive a refresh. */
    function showPeers(peers) {
      const body = $("#peer-list");
      const empty = body.querySelector("tr.empty");
      if (empty) empty.remove();
      for (const [id, row] of rows) {
        if (!peers[id]) {
          row.remove();
          rows.delete(id);
        }
      }
      for (const peer of Object.values(peers)) {
        let row = rows.get(peer.id);
        if (!row) {
          row = peerRow(peer);
          rows.set(peer.id, row);
          body.append(row);
        }
        row.peer = peer;
        $(".name", row).textContent = peer.name;
        $(".role", row).textContent = peer.role;
        $(".tracks", row).textContent = tracks(peer);
        // Each button names its peer, for whoever does not see the row it stands in.
        row.querySelectorAll("button[data-action]").forEach((button) => button.setAttribute("aria-label", `${button.dataset.action} ${peer.name}`));
      }
      if (!rows.size) body.append(el("tr", { class: "empty" }, el("td", { colspan: 5 }, "Nobody is in the room.")));
    }

    async function refresh() {
      const room = await api("GET", base);
      if (!room.ok) {
        $("#live-state").textContent = room.status === 404 ? "no session in progress" : room.data.message;
        showPeers({});
        return;
      }
      $("#live-state").textContent = `session ${room.data.session.id} since ${when(room.data.session.created_at)}`;
      const { ok, data } = await api("GET", `${base}/peers`);
      if (ok) showPeers(data.peers || {});
    }

    onSubmit($("#send-message"), async (form) => {
      const { ok, data } = await api("POST", `${base}/send-message`, { message: form.get("message") });
      if (!ok) return showError($("#send-message"), data);
      $("#send-message").reset();
      say("Message sent.");
    });

    onSubmit($("#end-room"), async (form) => {
      const lock = form.get("lock") === "on";
      const question = lock ? "End the room for everyone and lock it?" : "End the room for everyone?";
      if (!(await ask(question, [], "End room"))) return;
      const { ok, data } = await api("POST", `${base}/end-room`, { reason: form.get("reason"), lock });
      if (!ok) return showError($("#end-room"), data);
      say(lock ? "Room ended and locked." : "Room ended.");
      refresh();
    });

    poll(refresh);
  };

  pages.sessions = () => {
    const list = $("#session-list");
    let filter = {};
    const row = (session) =>
      el(
        "tr",
        {},
        el("td", {}, link(`/dashboard/sessions/${encodeURIComponent(session.id)}`, session.id)),
        el("td", {}, link(`/dashboard/rooms/${encodeURIComponent(session.room_id)}`, session.room_id)),
        el("td", {}, when(session.created_at)),
        el("td", {}, session.active ? "in progress" : when(session.updated_at)),
        el("td", {}, String(Object.keys(session.peers || {}).length)),
      );
    const first = pager(
      (start) => api("GET", "/v2/sessions" + query({ limit: 20, start, ...filter })),
      (sessions, appending) => {
        if (appending) list.append(...sessions.map(row));
        else fill(list, sessions.map(row), 5, "No session matches.");
      },
    );
    onSubmit($("#session-filter"), async (form) => {
      filter = { room_id: form.get("room_id"), active: form.get("active") };
      await first();
    });
    first();
  };

  pages.session = async () => {
    const { ok, data } = await api("GET", `/v2/sessions/${encodeURIComponent(objectId)}`);
    if (!ok) return say(data.message);
    $("#session-summary").replaceChildren(
      "room ",
      link(`/dashboard/rooms/${encodeURIComponent(data.room_id)}`, data.room_id),
      ` · started ${when(data.created_at)} · ${data.active ? "in progress" : "ended " + when(data.updated_at)}`,
    );
    const now = new Date().toISOString();
    const rows = Object.values(data.peers || {}).map((peer) =>
      el(
        "tr",
        {},
        el("td", {}, peer.name),
        el("td", {}, peer.role),
        el("td", {}, when(peer.joined_at)),
        el("td", {}, peer.left_at ? when(peer.left_at) : "still in the room"),
        el("td", {}, duration(peer.joined_at, peer.left_at || now)),
      ),
    );
    fill($("#session-peers"), rows, 5, "Nobody joined.");
  };

  pages.webhooks = () => {
    const form = $("#webhook-form");

    async function loadEndpoint() {
      const { ok, data } = await call("GET", "/dashboard/workspace/webhook");
      if (!ok) return say(data.message);
      $("#webhook-url").value = data.url || "";
      $("#webhook-headers").value = Object.entries(data.headers || {})
        .map(([name, value]) => `${name}: ${value}`)
        .join("\n");
      $("#webhook-signed").textContent = data.signed ? "set" : "none";
    }

    /** The headers textarea as a map; a line without a colon is named in the error. */
    function parseHeaders(text) {
      const headers = {};
      for (const line of text.split("\n").map((l) => l.trim()).filter(Boolean)) {
        const colon = line.indexOf(":");
        if (colon < 1) throw new Error(`header line ${JSON.stringify(line)} has no "Name: value"`);
        headers[line.slice(0, colon).trim()] = line.slice(colon + 1).trim();
      }
      return headers;
    }

    onSubmit(form, async (fields) => {
      let headers;
      try {
        headers = parseHeaders(fields.get("headers"));
      } catch (error) {
        return showError(form, { message: "Invalid headers", details: [error.message] });
      }
      const body = { url: fields.get("url"), headers, unsigned: fields.get("unsigned") === "on" };
      if (fields.get("signing_secret")) body.signing_secret = fields.get("signing_secret");
      const { ok, data } = await call("POST", "/dashboard/workspace/webhook", body);
      if (!ok) return showError(form, data);
      $("#webhook-secret").value = "";
      say("Webhook endpoint saved.");
      loadEndpoint();
    });

    $("#webhook-clear").addEventListener("click", async () => {
      if (!(await ask("Remove the workspace's webhook endpoint? Events are no longer sent to it.", [], "Remove endpoint"))) return;
      const { ok, data } = await call("POST", "/dashboard/workspace/webhook/clear");
      say(ok ? "Webhook endpoint removed." : data.message);
      loadEndpoint();
    });

    async function loadHistory() {
      const status = $("#history-status").value;
      const { ok, data } = await api("GET", "/v2/analytics/webhooks" + query({ status, limit: 100 }));
      if (!ok) return say(data.message);
      const rows = data.events.map((event) =>
        el(
          "tr",
          {},
          el("td", {}, event.payload.original_event_name, event.payload.is_replay ? " (replay)" : ""),
          el("td", {}, event.event_name.split(".").pop()),
          el("td", {}, String(event.payload.attempts)),
          el("td", {}, event.payload.error_reason || ""),
          el("td", {}, when(event.event_timestamp)),
        ),
      );
      fill($("#delivery-list"), rows, 5, "No delivery in the last 24 hours.");
    }

    onSubmit($("#history-filter"), loadHistory);

    $("#replay").addEventListener("click", async () => {
      if (!(await ask("Send the failed deliveries of the last 24 hours again?", [], "Replay"))) return;
      const { ok, data } = await api("POST", "/v2/analytics/webhooks/replay", { status: "failed" });
      if (!ok) return say([data.message, ...(data.details || [])].join(": "));
      followReplay(data.workflow_id);
    });

    /** Shows a replay's progress until it finishes. */
    async function followReplay(workflowId) {
      const progress = $("#replay-progress");
      for (;;) {
        const { ok, data } = await api("GET", `/v2/analytics/webhooks/replay/${encodeURIComponent(workflowId)}`);
        if (!ok) {
          progress.textContent = data.message;
          return;
        }
        const counts = data.progress;
        progress.textContent = `Replay ${data.status}: ${counts.completed} delivered, ${counts.failed} failed, of ${counts.total}.`;
        if (data.completed_at) {
          loadHistory();
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    }

    loadEndpoint();
    loadHistory();
  };

  if (pages[page]) pages[page]();
})();
