// The admin console, end to end, in headless Chromium: sign in, register a provider,
// reveal its secret, generate an activation token, push a user and a group over SCIM with
// that token, find them under the right population (and not under the other), read the
// audit log; the lifecycle (a vendor provider with an access lifetime and a mass-deletion
// guard: access ending soon and its renewal, the guard's banner and release, the Deleted
// page and a restore); sign out; a wrong password and a missing CSRF token are refused.
// Every page visited is saved as a screenshot.
//
// Environment: SCIMD_URL (the running server), ADMIN_NAME, ADMIN_PASSWORD, SCREENSHOTS
// (a directory), CHROMIUM (default /usr/bin/chromium).

import { launch, stepper } from "./common.mjs";
import { mkdirSync } from "node:fs";
import assert from "node:assert/strict";

const url = process.env.SCIMD_URL;
const name = process.env.ADMIN_NAME;
const password = process.env.ADMIN_PASSWORD;
const shots = process.env.SCREENSHOTS ?? "target/screenshots";
assert.ok(url && name && password, "SCIMD_URL, ADMIN_NAME and ADMIN_PASSWORD are required");
mkdirSync(shots, { recursive: true });

let shotCount = 0;
async function shot(page, label) {
  shotCount += 1;
  const file = `${shots}/${String(shotCount).padStart(2, "0")}-${label}.png`;
  await page.screenshot({ path: file, fullPage: true });
}

const step = stepper("");

const browser = await launch();
const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
const page = await context.newPage();
const consoleErrors = [];
// Pages answered 401/404 on purpose are logged as failed loads; anything else (a CSP
// violation, a script error) fails the run.
page.on("console", (m) => {
  if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) consoleErrors.push(m.text());
});
page.on("pageerror", (e) => consoleErrors.push(String(e)));

const provider = { name: `Okta Staff ${Date.now()}` };
const userName = `jane.${Date.now()}@example.com`;
const groupName = `Engineering ${Date.now()}`;

try {
  await step("an unsigned visitor is sent to the sign-in page", async () => {
    const r = await page.goto(`${url}/admin/providers`);
    assert.equal(new URL(page.url()).pathname, "/admin/login");
    const h = r.headers();
    assert.match(h["content-security-policy"], /script-src 'self'/);
    assert.equal(h["x-frame-options"], "DENY");
    assert.equal(h["x-content-type-options"], "nosniff");
    assert.ok(h["referrer-policy"]);
    await shot(page, "sign-in");
  });

  await step("a wrong password is refused", async () => {
    await page.fill("#name", name);
    await page.fill("#password", password + "-wrong");
    const [r] = await Promise.all([page.waitForNavigation(), page.click("button[type=submit]")]);
    assert.equal(r.status(), 401);
    await page.getByText("wrong name or password").waitFor();
    await shot(page, "sign-in-refused");
  });

  await step("a sign-in form without its CSRF token is refused", async () => {
    const r = await context.request.post(`${url}/admin/login`, {
      form: { name, password }, maxRedirects: 0,
    });
    assert.equal(r.status(), 403);
  });

  await step("sign in", async () => {
    await page.fill("#name", name);
    await page.fill("#password", password);
    await Promise.all([page.waitForURL(`${url}/admin/providers`), page.click("button[type=submit]")]);
    const cookies = await context.cookies();
    const session = cookies.find((c) => c.name === "scimd_session");
    assert.ok(session, "a session cookie");
    assert.equal(session.httpOnly, true);
    assert.equal(session.sameSite, "Strict");
    await page.getByText("Identity management").first().waitFor();
    await shot(page, "providers-empty");
  });

  await step("register a provider", async () => {
    await page.click("text=New provider");
    await shot(page, "provider-new");
    await page.fill("#name", provider.name);
    await page.check("input[name=population][value=internal]");
    await page.fill("#description", "Staff from Okta");
    await page.fill("#tags", "okta, staff");
    await page.fill("#token_ttl", "10d");
    await page.click("text=Register provider");
    await page.getByText("Provider registered").waitFor();
    provider.secret = await page.inputValue("#client-secret");
    provider.clientId = await page.inputValue("#client-id");
    provider.baseUrl = await page.inputValue("#base-url");
    assert.match(provider.secret, /^[A-Za-z0-9]{48}$/);
    assert.match(provider.baseUrl, /\/scim\/v2\/okta-staff/);
    provider.id = provider.baseUrl.split("/").pop();
    // Tokens expiring within 14 days are warned about once one is issued (below).
    await shot(page, "provider-registered");
  });

  await step("the provider is listed, and the secret is masked until revealed", async () => {
    await page.goto(`${url}/admin/providers`);
    await page.getByRole("link", { name: provider.id }).click();
    assert.equal(await page.getAttribute("#client-secret", "type"), "password");
    assert.notEqual(await page.inputValue("#client-secret"), provider.secret);
    await shot(page, "provider-details");
    await page.click("form.reveal button");
    await page.waitForFunction(() => document.getElementById("client-secret").type === "text");
    assert.equal(await page.inputValue("#client-secret"), provider.secret);
    await shot(page, "provider-secret-revealed");
    // The eye masks it again; the copy button reveals (audited) before copying.
    await page.click("form.reveal button");
    assert.equal(await page.getAttribute("#client-secret", "type"), "password");
    await context.grantPermissions(["clipboard-read", "clipboard-write"]);
    await page.click("button.copy[data-copy=client-secret]");
    await page.waitForFunction(() => document.getElementById("client-secret").type === "text");
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), provider.secret);
  });

  await step("generate an activation token", async () => {
    await page.click("text=Generate activation token");
    await page.locator("#activation-token").waitFor();
    provider.token = await page.inputValue("#activation-token");
    assert.match(provider.token, /^scimd_[A-Za-z0-9]{43}$/);
    await page.getByText(/Expires \d{4}-/).waitFor();
    // A 10-day token lifetime is inside the 14-day warning window.
    await page.getByText("expire within 14 days").waitFor();
    assert.equal(await page.locator("#tokens tbody tr").count(), 1);
    await shot(page, "activation-token");
  });

  let userId;
  await step("push a user and a group over SCIM with that token", async () => {
    const scim = (path, body) =>
      fetch(`${provider.baseUrl}${path}`, {
        method: "POST",
        headers: { Authorization: `Bearer ${provider.token}`, "Content-Type": "application/scim+json" },
        body: JSON.stringify(body),
      });
    const u = await scim("/Users", {
      schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"],
      userName, externalId: "E-1001",
      name: { givenName: "Jane", familyName: "Doe" },
      emails: [{ primary: true, value: userName, type: "work" }],
      active: true,
    });
    assert.equal(u.status, 201, await u.clone().text());
    userId = (await u.json()).id;
    const g = await scim("/Groups", {
      schemas: ["urn:ietf:params:scim:schemas:core:2.0:Group"],
      displayName: groupName, members: [{ value: userId }],
    });
    assert.equal(g.status, 201, await g.clone().text());
  });

  await step("the user is under internal users, not third-party", async () => {
    await page.click("nav.side >> text=Internal users");
    await page.getByRole("link", { name: userName }).waitFor();
    await shot(page, "users-internal");
    await page.fill("#q", "jane doe".slice(0, 4));
    await page.click("form.filters button");
    await page.getByRole("link", { name: userName }).waitFor();
    await page.goto(`${url}/admin/users/internal?q=E-1001`);
    await page.getByRole("link", { name: userName }).waitFor();
    await page.click("nav.side >> text=Third-party users");
    assert.equal(await page.getByRole("link", { name: userName }).count(), 0);
    await shot(page, "users-third-party");
  });

  await step("the user's details show its group, provider and history", async () => {
    await page.goto(`${url}/admin/users/internal/${userId}`);
    await page.getByRole("link", { name: groupName }).waitFor();
    await page.getByText("user.create").waitFor();
    await shot(page, "user-details");
    const wrong = await page.goto(`${url}/admin/users/third-party/${userId}`);
    assert.equal(wrong.status(), 404);
  });

  await step("the group is under user groups with its member, not under vendors", async () => {
    await page.goto(`${url}/admin/groups/internal`);
    const row = page.locator("#resources tr", { hasText: groupName });
    await row.waitFor();
    assert.equal((await row.locator("td.num").textContent()).trim(), "1");
    await shot(page, "groups-internal");
    await row.getByRole("link", { name: groupName }).click();
    await page.locator("#members").getByRole("link", { name: userName }).waitFor();
    await shot(page, "group-details");
    await page.goto(`${url}/admin/groups/third-party`);
    assert.equal(await page.getByRole("link", { name: groupName }).count(), 0);
    await shot(page, "groups-vendors");
  });

  await step("the audit log shows the administrator's and the provider's actions", async () => {
    await page.click("nav.side >> text=Audit log");
    for (const action of ["admin.signin", "provider.create", "provider.secret.reveal", "token.issue", "user.create", "group.create"]) {
      await page.locator("td.action", { hasText: action }).first().waitFor();
    }
    await page.locator("td", { hasText: `admin:${name}` }).first().waitFor();
    await shot(page, "audit");
    await page.fill("#action", "provider.*");
    await page.fill("#actor", `admin:${name}`);
    await page.click("form.filters button");
    assert.equal(await page.locator("td.action", { hasText: "user.create" }).count(), 0);
    await page.locator("td.action", { hasText: "provider.secret.reveal" }).first().waitFor();
    await shot(page, "audit-filtered");
    const csv = await context.request.get(`${url}/admin/audit.csv?provider=${provider.id}`);
    assert.equal(csv.status(), 200);
    const text = await csv.text();
    assert.match(text, /^seq,time,actor,action/);
    assert.match(text, /user\.create/);
    const jsonl = await context.request.get(`${url}/admin/audit.jsonl?provider=${provider.id}`);
    const lines = (await jsonl.text()).trim().split("\n").map((l) => JSON.parse(l));
    assert.ok(lines.some((e) => e.action === "token.issue" && e.actor === `admin:${name}`));
  });

  const vendor = { name: `Vendor Portal ${Date.now()}` };
  const vendorUsers = [];
  const vendorScim = (method, path, body) =>
    fetch(`${vendor.baseUrl}${path}`, {
      method,
      headers: { Authorization: `Bearer ${vendor.token}`, "Content-Type": "application/scim+json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  // Dangerous buttons ask first (console.js); the walk-through says yes.
  page.on("dialog", (d) => d.accept());

  await step("register a vendor provider with an access lifetime and a tight guard", async () => {
    await page.goto(`${url}/admin/providers/new`);
    await page.fill("#name", vendor.name);
    await page.check("input[name=population][value=third-party]");
    await page.getByText("Suggested for third-party providers").waitFor();
    await page.fill("#access_ttl", "10d");
    await page.fill("#retention", "7d");
    await page.fill("#guard_share", "20%");
    await page.fill("#guard_min_users", "5");
    await shot(page, "provider-new-lifecycle");
    await page.click("text=Register provider");
    await page.getByText("Provider registered").waitFor();
    vendor.baseUrl = await page.inputValue("#base-url");
    vendor.id = vendor.baseUrl.split("/").pop();
    assert.equal((await page.textContent("#access-ttl")).trim(), "10 days");
    assert.equal((await page.textContent("#retention")).trim(), "7 days");
    await page.click("text=Generate activation token");
    await page.locator("#activation-token").waitFor();
    vendor.token = await page.inputValue("#activation-token");
    for (let i = 0; i < 6; i++) {
      const u = await vendorScim("POST", "/Users", {
        schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"], userName: `contractor${i}.${Date.now()}@vendor.example`,
      });
      assert.equal(u.status, 201, await u.clone().text());
      vendorUsers.push(await u.json());
    }
    const g = await vendorScim("POST", "/Groups", {
      schemas: ["urn:ietf:params:scim:schemas:core:2.0:Group"], displayName: `Vendor team ${Date.now()}`,
      members: [{ value: vendorUsers[0].id }, { value: vendorUsers[1].id }],
    });
    assert.equal(g.status, 201, await g.clone().text());
    vendor.group = (await g.json()).displayName;
  });

  await step("access ending soon is listed and renewed", async () => {
    await page.click("nav.side >> text=Access ending");
    const row = page.locator("#expiring tr", { hasText: vendorUsers[0].userName });
    await row.waitFor();
    assert.equal(await page.locator("#expiring tbody tr").count(), 6);
    await shot(page, "access-ending");
    await row.locator("input[name=for]").fill("90d");
    await Promise.all([page.waitForURL(`${url}/admin/access/third-party`), row.locator("button", { hasText: "Renew" }).click()]);
    assert.equal(await page.locator("#expiring tbody tr").count(), 5);
    await page.goto(`${url}/admin/users/third-party/${vendorUsers[0].id}`);
    assert.equal((await page.textContent("#access-state")).trim(), "active");
    await shot(page, "user-access");
  });

  await step("the mass-deletion guard trips, shows its banner and is released", async () => {
    assert.equal((await vendorScim("DELETE", `/Users/${vendorUsers[0].id}`)).status, 204);
    const refused = await vendorScim("DELETE", `/Users/${vendorUsers[1].id}`);
    assert.equal(refused.status, 503);
    assert.ok(refused.headers.get("retry-after"));
    assert.match((await refused.json()).detail, /mass-deletion guard/);
    await page.goto(`${url}/admin/providers`);
    const banner = page.locator("div.guard", { hasText: vendor.id });
    await banner.getByText("Mass-deletion guard tripped").waitFor();
    await shot(page, "guard-banner");
    await Promise.all([page.waitForURL(`${url}/admin/providers/${vendor.id}`), banner.getByRole("button", { name: "Release the guard" }).click()]);
    assert.equal(await page.locator("div.guard").count(), 0);
    assert.equal((await vendorScim("DELETE", `/Users/${vendorUsers[1].id}`)).status, 204);
  });

  await step("deleted users are listed with who deleted them, and one is restored into its group", async () => {
    await page.click("nav.side >> text=Deleted");
    await page.getByRole("link", { name: "third-party", exact: true }).click();
    const row = page.locator("#deleted-users tr", { hasText: vendorUsers[0].userName });
    await row.waitFor();
    await row.getByText(`provider:${vendor.id}`).waitFor();
    await shot(page, "deleted");
    await Promise.all([
      page.waitForURL(`${url}/admin/users/third-party/${vendorUsers[0].id}`),
      row.locator("button", { hasText: "Restore" }).click(),
    ]);
    await page.getByRole("link", { name: vendor.group }).waitFor();
    await shot(page, "restored");
    const get = await vendorScim("GET", `/Users/${vendorUsers[0].id}`);
    assert.equal(get.status, 200);
    await page.goto(`${url}/admin/deleted/third-party`);
    assert.equal(await page.locator("#deleted-users tr", { hasText: vendorUsers[0].userName }).count(), 0);
  });

  await step("a console form without its CSRF token is refused", async () => {
    const r = await context.request.post(`${url}/admin/providers/${provider.id}/rotate`, { form: {}, maxRedirects: 0 });
    assert.equal(r.status(), 403);
    const forged = await context.request.post(`${url}/admin/providers/${provider.id}/disable`, {
      form: { csrf: "0".repeat(64) }, maxRedirects: 0,
    });
    assert.equal(forged.status(), 403);
    await page.goto(`${url}/admin/providers/${provider.id}`);
    assert.equal(await page.getAttribute("#client-secret", "type"), "password");
    await page.getByText("Enabled").first().waitFor();
  });

  await step("the edit and delete pages ask before they change anything", async () => {
    await page.click("text=Edit settings");
    assert.equal(await page.inputValue("#tags"), "okta, staff");
    await shot(page, "provider-edit");
    await page.fill("#description", "Staff from Okta (EU)");
    await Promise.all([page.waitForURL(`${url}/admin/providers/${provider.id}`), page.click("button:has-text('Save')")]);
    await page.getByText("Staff from Okta (EU)").waitFor();
    await page.click("text=Delete…");
    await page.getByText("This cannot be undone").waitFor();
    await shot(page, "provider-delete-confirm");
    await page.goto(`${url}/admin/providers?population=third-party`);
    assert.equal(await page.getByRole("link", { name: provider.id }).count(), 0);
    await page.goto(`${url}/admin/providers?population=internal&tag=staff`);
    await page.getByRole("link", { name: provider.id }).waitFor();
    await shot(page, "providers-filtered");
  });

  await step("sign out", async () => {
    await page.click("header >> text=Sign out");
    await page.waitForURL(/\/admin\/login/);
    await shot(page, "signed-out");
    await page.goto(`${url}/admin/providers`);
    assert.equal(new URL(page.url()).pathname, "/admin/login");
  });

  await step("the phone layout renders", async () => {
    const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true });
    const p = await phone.newPage();
    await p.goto(`${url}/admin/login`);
    await p.fill("#name", name);
    await p.fill("#password", password);
    await Promise.all([p.waitForURL(`${url}/admin/providers`), p.click("button[type=submit]")]);
    await shot(p, "phone-providers");
    await p.goto(`${url}/admin/providers/${provider.id}`);
    await shot(p, "phone-provider-details");
    await phone.close();
  });

  assert.deepEqual(consoleErrors, [], "no errors in the browser console (CSP violations included)");
  console.log(`browser flow passed: ${step.count()} steps, ${shotCount} screenshots in ${shots}`);
} catch (e) {
  await page.screenshot({ path: `${shots}/failure.png`, fullPage: true }).catch(() => {});
  console.log(`\nfailed at ${page.url()}; see ${shots}/failure.png`);
  throw e;
} finally {
  await browser.close();
}
