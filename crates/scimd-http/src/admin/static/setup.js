// scimd setup page: the status panel refreshes itself from the page's status URL every five
// seconds. Values are set as text, never as markup.
"use strict";

(function () {
  const panel = document.getElementById("status");
  if (!panel || !panel.dataset.status) return;
  const text = (id, value) => { const el = document.getElementById(id); if (el) el.textContent = value; };

  function render(s) {
    text("received-users", String(s.users));
    text("received-groups", String(s.groups));
    const table = document.getElementById("requests");
    const body = table.querySelector("tbody");
    body.replaceChildren();
    for (const r of s.requests || []) {
      const row = document.createElement("tr");
      for (const v of [new Date(r.time).toLocaleString(), r.method, r.path, String(r.status)]) {
        const cell = document.createElement("td");
        cell.textContent = v;
        row.appendChild(cell);
      }
      if (r.status >= 400) row.lastChild.className = "failed";
      body.appendChild(row);
    }
    table.hidden = (s.requests || []).length === 0;
    document.getElementById("no-requests").hidden = !table.hidden;
    const err = document.getElementById("last-error");
    if (s.last_error) {
      const e = s.last_error;
      const lines = [`${new Date(e.time).toLocaleString()}  ${e.method} ${e.path}  →  ${e.status}`];
      if (e.scim_type) lines.push(`scimType: ${e.scim_type}`);
      if (e.detail) lines.push(e.detail);
      if (e.body) lines.push("", "Request body (secrets masked):", e.body);
      text("last-error-text", lines.join("\n"));
      err.hidden = false;
    } else {
      err.hidden = true;
    }
  }

  let timer = null;
  function refresh() {
    fetch(panel.dataset.status, { headers: { "Accept": "application/json" }, cache: "no-store" })
      .then((r) => (r.ok ? r.json() : Promise.reject(new Error("HTTP " + r.status))))
      .then(render)
      .catch(() => {})
      .finally(() => {
        clearTimeout(timer);
        if (!document.hidden) timer = setTimeout(refresh, 5000);
      });
  }
  document.addEventListener("visibilitychange", () => {
    if (document.hidden) return;
    clearTimeout(timer);
    refresh();
  });
  refresh();
})();
