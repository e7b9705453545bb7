// scimd console: copy buttons, the eye button that reveals a client secret in place, and
// confirmation of dangerous buttons. Served as a file: the CSP allows no inline script.
"use strict";

function copyText(text, button) {
  const done = () => {
    const label = button.textContent;
    button.textContent = "Copied";
    setTimeout(() => { button.textContent = label; }, 1500);
  };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(done, () => fallbackCopy(text, done));
  } else {
    fallbackCopy(text, done);
  }
}

function fallbackCopy(text, done) {
  const area = document.createElement("textarea");
  area.value = text;
  area.setAttribute("readonly", "");
  area.className = "offscreen";
  document.body.appendChild(area);
  area.select();
  try { document.execCommand("copy"); done(); } finally { area.remove(); }
}

// Ask for the secret as JSON (the server records the reveal) and show it in place.
function reveal(form, field) {
  const csrf = form.querySelector("input[name=csrf]").value;
  return fetch(form.action, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Accept": "application/json", "X-CSRF-Token": csrf },
  })
    .then((r) => (r.ok ? r.json() : Promise.reject(new Error("HTTP " + r.status))))
    .then((body) => {
      field.type = "text";
      field.value = body.client_secret;
      return body.client_secret;
    });
}

function revealFormFor(field) {
  return document.querySelector(`form.reveal[data-target="${field.id}"]`);
}

document.addEventListener("click", (event) => {
  const button = event.target.closest("button.copy");
  if (!button) return;
  const field = document.getElementById(button.dataset.copy);
  if (!field) return;
  // A masked secret is revealed (and so recorded) before it is copied.
  const form = field.type === "password" ? revealFormFor(field) : null;
  if (form) {
    reveal(form, field).then((secret) => copyText(secret, button), () => form.submit());
  } else {
    copyText(field.value, button);
  }
});

// The eye toggles: reveal in place, or mask again.
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (form.classList.contains("reveal")) {
    const field = document.getElementById(form.dataset.target);
    if (!field) return;
    event.preventDefault();
    if (field.type === "text") {
      field.type = "password";
      field.value = "••••••••••••••••••••••••";
      return;
    }
    reveal(form, field).catch(() => form.submit());
    return;
  }
  const danger = form.querySelector("button.danger");
  if (danger && form.dataset.confirmed !== "yes" && !window.confirm(danger.textContent + "?")) {
    event.preventDefault();
  }
});

// A file input with data-fill loads the chosen file's text into that field (an extension
// schema uploaded rather than pasted); nothing leaves the browser until the form is sent.
document.addEventListener("change", (event) => {
  const input = event.target;
  if (!input.matches || !input.matches("input[type=file][data-fill]")) return;
  const target = document.getElementById(input.dataset.fill);
  const file = input.files && input.files[0];
  if (!target || !file) return;
  file.text().then((text) => { target.value = text; });
});
