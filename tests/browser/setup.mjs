// A setup link, as the vendor's IT admin meets it, in headless Chromium: open the link on a
// desktop and on a phone, copy the values, generate an activation token, push over SCIM
// with it (from this script, as the identity provider would), and watch the status panel
// show the requests and a failed request's error; an expired and a revoked link each show
// their page. Every state is saved as a screenshot.
//
// Environment: SCIMD_URL, SETUP_URL (a live link of a third-party provider), EXPIRED_URL,
// REVOKED_URL, CLIENT_ID (the provider's), SCREENSHOTS, CHROMIUM (default /usr/bin/chromium).

import { launch, stepper } from "./common.mjs";
import { mkdirSync } from "node:fs";
import assert from "node:assert/strict";

const url = process.env.SCIMD_URL;
const setupUrl = process.env.SETUP_URL;
const expiredUrl = process.env.EXPIRED_URL;
const revokedUrl = process.env.REVOKED_URL;
const clientId = process.env.CLIENT_ID;
const shots = process.env.SCREENSHOTS ?? "target/screenshots";
assert.ok(url && setupUrl && expiredUrl && revokedUrl && clientId, "SCIMD_URL, SETUP_URL, EXPIRED_URL, REVOKED_URL and CLIENT_ID are required");
mkdirSync(shots, { recursive: true });

async function shot(page, label) {
  await page.screenshot({ path: `${shots}/setup-${label}.png`, fullPage: true });
}
const step = stepper("setup ");

const browser = await launch();
const errors = [];
function watch(page) {
  // The dead links answer 404 on purpose; anything else (a CSP violation, a script error)
  // fails the run.
  page.on("console", (m) => {
    if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) errors.push(m.text());
  });
  page.on("pageerror", (e) => errors.push(String(e)));
}

const desktop = await browser.newContext({ viewport: { width: 1280, height: 900 } });
await desktop.grantPermissions(["clipboard-read", "clipboard-write"], { origin: url });
const page = await desktop.newPage();
watch(page);

async function copied(page, fieldId) {
  await page.click(`button.copy[data-copy="${fieldId}"]`);
  await page.waitForFunction((id) => document.querySelector(`button.copy[data-copy="${id}"]`).textContent === "Copied", fieldId);
  return page.evaluate(() => navigator.clipboard.readText());
}

async function scim(token, method, path, body) {
  const base = await page.inputValue("#base-url");
  const r = await fetch(`${base}${path}`, {
    method,
    headers: { "Authorization": `Bearer ${token}`, "Content-Type": "application/scim+json" },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: r.status, body: await r.json().catch(() => null) };
}

const userName = `ann.${Date.now()}@acme.example`;

try {
  let token = "";

  await step("the link opens a page with the values, no cookie and no referrer", async () => {
    const r = await page.goto(setupUrl);
    assert.equal(r.status(), 200);
    const h = r.headers();
    assert.equal(h["referrer-policy"], "no-referrer");
    assert.equal(h["x-frame-options"], "DENY");
    assert.match(h["content-security-policy"], /frame-ancestors 'none'/);
    assert.equal(h["set-cookie"], undefined);
    assert.deepEqual(await desktop.cookies(), []);
    await page.getByRole("heading", { name: /^Connect / }).waitFor();
    await shot(page, "desktop");
  });

  await step("the values copy with one click each", async () => {
    assert.match(await copied(page, "base-url"), /\/scim\/v2\/[a-z0-9-]+$/);
    assert.equal(await copied(page, "token-url"), `${url}/oauth2/token`);
    assert.equal(await copied(page, "client-id"), clientId);
  });

  await step("the Okta guide is open, the Entra and curl guides unfold", async () => {
    assert.ok(await page.locator("#guide-okta").evaluate((d) => d.open));
    await page.click("#guide-entra summary");
    await page.getByText("Tenant URL").first().waitFor();
    await page.click("#guide-curl summary");
    await page.getByText("grant_type=client_credentials").waitFor();
    await shot(page, "guides");
  });

  await step("Generate activation token shows a token once, which SCIM accepts", async () => {
    await Promise.all([page.waitForNavigation(), page.click("text=Generate activation token")]);
    token = await copied(page, "activation-token");
    assert.match(token, /^scimd_[A-Za-z0-9]{43}$/);
    await shot(page, "token");
    const created = await scim(token, "POST", "/Users", {
      schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"], userName, active: true,
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    // A push that fails, as a misconfigured identity provider's would.
    const failed = await scim(token, "POST", "/Users", {
      schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"], displayName: "No user name", password: "Hunter2-not-to-be-kept",
    });
    assert.equal(failed.status, 400, JSON.stringify(failed.body));
  });

  await step("the status panel shows the users received, the requests and the failure's error", async () => {
    await page.goto(setupUrl);
    await page.waitForFunction(() => document.getElementById("received-users").textContent === "1", null, { timeout: 15000 });
    await page.locator("#requests tbody tr").first().waitFor({ timeout: 15000 });
    const rows = await page.locator("#requests tbody tr").allInnerTexts();
    assert.ok(rows.some((r) => r.includes("POST") && r.includes("201")), rows.join("\n"));
    assert.ok(rows.some((r) => r.includes("POST") && r.includes("400")), rows.join("\n"));
    await page.locator("#last-error").waitFor({ state: "visible" });
    const error = await page.locator("#last-error-text").innerText();
    assert.match(error, /userName/);
    assert.ok(!error.includes("Hunter2-not-to-be-kept"), "a password reached the status panel");
    await shot(page, "status");
  });

  await step("on a phone, the page fits the screen", async () => {
    const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
    const p = await phone.newPage();
    watch(p);
    assert.equal((await p.goto(setupUrl)).status(), 200);
    await p.locator("#received-users").waitFor();
    const overflow = await p.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 1, `the page is ${overflow}px wider than the phone`);
    assert.ok(await p.locator("text=Generate activation token").isVisible());
    await shot(p, "phone");
    await phone.close();
  });

  await step("an expired link and a revoked link each show the same page, 404", async () => {
    const expired = await page.goto(expiredUrl);
    assert.equal(expired.status(), 404);
    const expiredText = await page.locator("main").innerText();
    await shot(page, "expired");
    const revoked = await page.goto(revokedUrl);
    assert.equal(revoked.status(), 404);
    assert.equal(await page.locator("main").innerText(), expiredText);
    assert.match(expiredText, /expired or been revoked/);
    await shot(page, "revoked");
  });

  assert.deepEqual(errors, [], "the browser reported errors");
  console.log(`setup page flow passed: ${step.count()} steps, screenshots in ${shots}`);
} finally {
  await browser.close();
}
