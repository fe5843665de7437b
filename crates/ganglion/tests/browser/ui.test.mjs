// Ganglion's pages in a real Chromium, against a real server over a real database.
// Started by crates/ganglion/tests/browser.rs, which serves the demo organization and
// passes its address; run alone with
//   GANGLION_URL=http://127.0.0.1:8080 ADMIN_PASSWORD=... node --test ui.test.mjs
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";

const base = process.env.GANGLION_URL;
const adminPassword = process.env.ADMIN_PASSWORD;
const shots = process.env.SCREENSHOT_DIR ?? "screenshots";
const executablePath = process.env.CHROMIUM ?? "/usr/bin/chromium";
const DEMO_PASSWORD = "demo-password";
assert.ok(base, "GANGLION_URL names the server under test");
mkdirSync(shots, { recursive: true });

let browser;

before(async () => {
  browser = await chromium.launch({
    executablePath,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
});

after(async () => {
  await browser?.close();
});

/** A fresh browser session signed in through the login form. */
async function signedIn(login, password = DEMO_PASSWORD, options = {}) {
  const context = await browser.newContext({ baseURL: base, locale: "en-GB", ...options });
  const page = await context.newPage();
  await page.goto("/");
  await page.waitForURL(/\/login/);
  await page.getByLabel("Login").fill(login);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(/\/work$/);
  return { context, page };
}

/** A link of the main navigation. */
function nav(page, name) {
  return page.getByRole("navigation", { name: "Main" }).getByRole("link", { name, exact: true });
}

async function shot(page, name) {
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
}

/** The id of the unit with this code, found through the search form. */
async function unitIdByCode(page, code) {
  await page.goto(`/org?q=${encodeURIComponent(code)}`);
  const link = page.locator(".results tbody tr", { hasText: code }).first().locator("a").first();
  const href = await link.getAttribute("href");
  return href.split("/").pop();
}

test("every answer carries the security headers, and the pages run no inline script", async () => {
  const context = await browser.newContext({ baseURL: base });
  const page = await context.newPage();
  const response = await page.goto("/login");
  const headers = response.headers();
  assert.match(headers["content-security-policy"], /script-src 'self'/);
  assert.match(headers["content-security-policy"], /frame-ancestors 'none'/);
  assert.doesNotMatch(headers["content-security-policy"], /unsafe-inline/);
  assert.equal(headers["x-content-type-options"], "nosniff");
  assert.equal(headers["referrer-policy"], "same-origin");
  const inline = await page.locator("script:not([src])").count();
  assert.equal(inline, 0, "no inline scripts");
  assert.equal(await page.locator("[style]").count(), 0, "no inline styles");
  await shot(page, "01-login");
  await context.close();
});

test("a wrong password is refused on the form, and nothing else happens", async () => {
  const context = await browser.newContext({ baseURL: base, locale: "en-GB" });
  const page = await context.newPage();
  await page.goto("/login");
  await page.getByLabel("Login").fill("p01-secretary");
  await page.getByLabel("Password").fill("not-the-password");
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith("/login") && r.request().method() === "POST"),
    page.getByRole("button", { name: "Sign in" }).click(),
  ]);
  assert.equal(response.status(), 401);
  assert.equal(await page.locator(".error").getAttribute("data-code"), "bad_credentials");
  const cookies = await context.cookies();
  assert.ok(!cookies.some((c) => c.name === "ganglion_session"), "no session was given");
  await context.close();
});

test("a province secretary signs in, browses five levels down and finds a cell", async () => {
  const { context, page } = await signedIn("p01-secretary");
  const session = (await context.cookies()).find((c) => c.name === "ganglion_session");
  assert.ok(session.httpOnly, "the session cookie is HttpOnly");
  assert.equal(session.sameSite, "Lax");
  await assert.doesNotReject(page.getByRole("heading", { name: "My work" }).waitFor());
  await page.getByRole("link", { name: "Namgang Provincial Committee" }).first().waitFor();
  // The demo's decision and goal wait in the province's inbox, overdue first.
  const tasks = page.locator("table.inbox tbody tr");
  assert.ok((await tasks.count()) > 0, "what waits is listed");
  assert.match(await tasks.first().innerText(), /On strengthening the primary committees|Grain production goal/);
  await shot(page, "02-my-work");

  await nav(page, "Organization").click();
  await page.waitForURL(/\/org$/);
  // The province opens level by level, each fetched when opened.
  const open = async (name) => {
    const link = page.locator("summary > a", { hasText: new RegExp(`^${name}$`) }).first();
    const node = link.locator("xpath=ancestor::details[1]");
    if ((await node.getAttribute("open")) === null) {
      await node.locator(":scope > summary").click({ position: { x: 4, y: 8 } });
    }
    await node.locator(":scope > .children ul.tree").first().waitFor();
    return node;
  };
  await open("Namgang Provincial Committee");
  await open("Oksan City Committee");
  await open("Song Complex Primary Committee");
  const workshop = await open("Workshop 1 Committee");
  await shot(page, "03-tree");
  await workshop.getByRole("link", { name: "Cell 1", exact: true }).click();
  await page.waitForURL(/\/units\/\d+$/);
  await page.getByRole("heading", { name: "Cell 1" }).waitFor();
  const crumbs = await page.locator(".breadcrumbs li").allInnerTexts();
  assert.deepEqual(crumbs, [
    "Namgang Provincial Committee",
    "Oksan City Committee",
    "Song Complex Primary Committee",
    "Workshop 1 Committee",
    "Cell 1",
  ]);
  assert.ok(!crumbs.includes("Central Committee"), "nothing above the secretary's post is named");
  await shot(page, "04-unit-cell");
  await context.close();
});

test("the tree opens without JavaScript, by links", async () => {
  const context = await browser.newContext({ baseURL: base, javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto("/login");
  await page.getByLabel("Login").fill("k001-official");
  await page.getByLabel("Password").fill(DEMO_PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(/\/work$/);
  await page.goto("/org");
  // The official's county is open from the start; a primary committee opens by a link.
  const primary = page.locator("details", { has: page.locator('summary > a:text-is("Song Complex Primary Committee")') }).last();
  await primary.locator(":scope > summary").click({ position: { x: 4, y: 8 } });
  await primary.getByRole("link", { name: /Show the \d+ units directly under it/ }).click();
  await page.waitForURL(/open=/);
  await page.getByRole("link", { name: "Workshop 1 Committee" }).first().waitFor();
  await shot(page, "05-tree-without-javascript");
  await context.close();
});

test("creating a unit of a kind that may not sit there shows the API's error, then a good one works", async () => {
  const { context, page } = await signedIn("p01-secretary");
  const county = await unitIdByCode(page, "P01-K001");
  await page.goto(`/units/${county}`);
  await page.getByRole("link", { name: "Add a unit under it" }).click();
  await page.getByLabel("Kind").fill("cell");
  await page.getByLabel("Name").fill("Misplaced Cell");
  await page.getByLabel("Code").fill("P01-K001-BAD");
  const [refused] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith("/units") && r.request().method() === "POST"),
    page.getByRole("button", { name: "Create the unit" }).click(),
  ]);
  assert.equal(refused.status(), 422);
  const error = page.locator(".error");
  assert.equal(await error.getAttribute("data-code"), "kind_not_allowed");
  assert.match(await error.innerText(), /may not sit under a unit of kind "city_county"/);
  assert.equal(await page.getByLabel("Name").inputValue(), "Misplaced Cell", "the form keeps what was typed");
  await shot(page, "06-create-unit-refused");

  await page.getByLabel("Kind").fill("primary");
  await page.getByLabel("Name").fill("Ryongsong Machine Complex Primary Committee");
  await page.getByLabel("Code").fill("P01-K001-NEW");
  await page.getByLabel("Tags").fill("industry; north");
  await page.getByRole("button", { name: "Create the unit" }).click();
  await page.waitForURL(/\/units\/\d+$/);
  await page.getByRole("heading", { name: "Ryongsong Machine Complex Primary Committee" }).waitFor();
  assert.deepEqual(await page.locator(".tag").allInnerTexts(), ["industry", "north"]);

  // Appoint a new person to a post in it, then end the post.
  await page.getByText("Appoint to a post").first().click();
  await page.getByLabel("A new person's name").fill("Ri Sun Hui");
  await page.getByLabel("Role").selectOption("official");
  await page.getByLabel("Title").fill("official of the organizational section");
  await page.getByRole("button", { name: "Appoint to a post" }).click();
  const holder = page.locator("#posts-heading ~ table tbody tr", { hasText: "Ri Sun Hui" });
  await holder.waitFor();
  await holder.getByRole("link", { name: "Ri Sun Hui" }).click();
  await page.getByRole("heading", { name: "Ri Sun Hui" }).waitFor();
  await page.getByRole("button", { name: "End the post" }).click();
  await page.getByRole("heading", { name: "Ri Sun Hui" }).waitFor();
  assert.doesNotMatch(await page.locator("table tbody").innerText(), /End the post/);
  await shot(page, "07-person-history");
  await context.close();
});

test("a CSV file with a broken row is refused row by row and creates nothing", async () => {
  const { context, page } = await signedIn("p01-secretary");
  await nav(page, "Import").click();
  const csv = [
    "code,parent_code,kind,name,tags",
    "P01-K001-IMP1,P01-K001,primary,Imported Works Primary Committee,",
    "P01-K001-IMP2,P01-K001,cell,Broken Row,",
    "P01-K001-IMP3,NO-SUCH-UNIT,primary,Orphan Committee,",
  ].join("\n");
  await page.getByLabel("CSV file").setInputFiles({
    name: "units.csv",
    mimeType: "text/csv",
    buffer: Buffer.from(csv),
  });
  const [refused] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith("/import") && r.request().method() === "POST"),
    page.getByRole("button", { name: "Import" }).click(),
  ]);
  assert.equal(refused.status(), 422);
  const rows = page.locator("table.report tbody tr");
  assert.equal(await rows.count(), 2);
  assert.equal(await rows.nth(0).locator("td").first().innerText(), "3");
  assert.equal(await rows.nth(1).locator("td").first().innerText(), "4");
  assert.match(await rows.nth(1).innerText(), /NO-SUCH-UNIT/);
  await shot(page, "08-import-report");
  await page.goto("/org?q=P01-K001-IMP1");
  await page.locator(".results .empty").waitFor();
  await context.close();
});

test("a county official cannot open a sibling county's page, nor find it", async () => {
  const secretary = await signedIn("p01-secretary");
  const sibling = await unitIdByCode(secretary.page, "P01-K002");
  await secretary.context.close();

  const { context, page } = await signedIn("k001-official");
  const response = await page.goto(`/units/${sibling}`);
  assert.equal(response.status(), 404);
  assert.equal(await page.locator(".error").getAttribute("data-code"), "not_found");
  await shot(page, "09-sibling-county-refused");
  const fragment = await page.request.get(`/org/children/${sibling}`);
  assert.equal(fragment.status(), 404);
  await page.goto("/org?q=P01-K002");
  await page.locator(".results .empty").waitFor();
  await context.close();
});

test("a form without this browser's token is refused and changes nothing", async () => {
  const { context, page } = await signedIn("p01-secretary");
  const county = await unitIdByCode(page, "P01-K001");
  const forged = await page.request.post(`/units/${county}/edit`, {
    form: { name: "Renamed By Another Site", tags: "" },
  });
  assert.equal(forged.status(), 403);
  const wrong = await page.request.post(`/units/${county}/edit`, {
    form: { name: "Renamed By Another Site", tags: "", csrf: "x".repeat(43) },
  });
  assert.equal(wrong.status(), 403);
  await page.goto(`/units/${county}`);
  await page.getByRole("heading", { name: "Oksan City Committee" }).waitFor();
  // And a GET never changes anything: the logout address refuses it.
  const get = await page.request.get("/logout");
  assert.equal(get.status(), 405);
  await page.goto("/work");
  await page.getByRole("heading", { name: "My work" }).waitFor();
  await context.close();
});

test("the picture draws the tree and drills down on a click", async () => {
  const { context, page } = await signedIn("centre");
  await nav(page, "Picture").click();
  const segments = page.locator("svg.sunburst a[data-unit]");
  assert.ok((await segments.count()) > 12, "the provinces and what is under them are drawn");
  await shot(page, "10-picture");
  const province = await page.locator("table.legend tbody tr a").first().getAttribute("href");
  const target = province.match(/at=(\d+)/)[1];
  await page.locator(`svg.sunburst a[data-unit="${target}"]`).click();
  await page.waitForURL(new RegExp(`at=${target}`));
  await page.locator("svg.sunburst a.centre").waitFor();
  await shot(page, "11-picture-drilled-down");
  await context.close();
});

test("the audit trail of a subtree filters, and the administrator sees the chain verified", async () => {
  const { context, page } = await signedIn("p01-secretary");
  await nav(page, "Audit").click();
  await page.getByLabel("Action").selectOption("unit.");
  await page.getByRole("button", { name: "Filter" }).click();
  await page.waitForURL(/action=unit\./);
  const actions = await page.locator("table.audit tbody td code").allInnerTexts();
  assert.ok(actions.length > 0, "the units created by the earlier tests are there");
  assert.ok(actions.every((action) => action.startsWith("unit.")), actions.join(","));
  await context.close();

  const admin = await signedIn("admin", adminPassword);
  await nav(admin.page, "Audit").click();
  await admin.page.locator('[data-chain="intact"]').waitFor();
  await shot(admin.page, "12-audit");
  await admin.context.close();
});

test("the pages speak Korean, keep to a phone's width and print", async () => {
  const { context, page } = await signedIn("k001-official", DEMO_PASSWORD, {
    viewport: { width: 375, height: 740 },
  });
  await page.getByLabel("Language").selectOption("ko");
  await page.getByRole("heading", { name: "나의 사업" }).waitFor();
  assert.equal(await page.locator("html").getAttribute("lang"), "ko");
  await shot(page, "13-my-work-korean-phone");
  const county = await page.locator(".card h3 a").first().getAttribute("href");
  await page.goto(county);
  const text = await page.locator("main").innerText();
  assert.match(text, /바로 아래 단위/);
  assert.match(text, /리 위원회/, "Korean unit names are shown");
  const overflow = await page.evaluate(
    () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
  );
  assert.ok(overflow <= 1, `no sideways scrolling on a phone (${overflow}px)`);
  await shot(page, "14-unit-korean-phone");
  await page.emulateMedia({ media: "print" });
  assert.equal(await page.locator("header.bar").isVisible(), false, "no navigation on paper");
  await context.close();
});

test("the keyboard reaches the content first, and signing out ends the session", async () => {
  const { context, page } = await signedIn("k001-official");
  await page.keyboard.press("Tab");
  const focused = await page.evaluate(() => document.activeElement.textContent.trim());
  assert.equal(focused, "Skip to the content");
  await page.getByRole("button", { name: "Log out" }).click();
  await page.waitForURL(/\/login$/);
  await page.goto("/work");
  await page.waitForURL(/\/login\?next=%2Fwork$/);
  await context.close();
});

test("a province writes and issues a directive, a county reports, the province sees it", async () => {
  const secretary = await signedIn("p01-secretary");
  const page = secretary.page;
  const province = await unitIdByCode(page, "P01");
  await page.goto(`/units/${province}`);
  await page.getByRole("link", { name: "Write a directive" }).click();
  await page.getByLabel("Title").fill("Autumn study sessions in every county");
  await page.getByLabel("Text", { exact: true }).fill("Each county committee holds a study session and reports.");
  await page.getByLabel("Due date").fill("2099-10-31");
  await page.getByLabel("Only units of these kinds").fill("city_county");
  await page.getByRole("button", { name: "Save the draft" }).click();
  await page.waitForURL(/\/directives\/\d+$/);
  const preview = await page.locator("p.lead").innerText();
  const reach = Number(preview.match(/reach ([\d,]+) units/)[1].replace(/,/g, ""));
  assert.ok(reach >= 10, `the province's counties (${reach})`);
  await page.getByRole("button", { name: `Issue to ${reach} units` }).click();
  await page.locator("table.rollup").waitFor();
  const directiveUrl = page.url();
  assert.equal(await page.locator("table.rollup tr.total td").first().innerText(), String(reach));

  // The province keeps the directive open while the county reports: it updates live.
  const liveCell = page.locator("table.rollup tr.total td[data-count='acknowledged']");
  assert.equal(await liveCell.innerText(), "0");
  const county = await signedIn("k001-official");
  const task = county.page.locator("table.inbox tbody tr", { hasText: "Autumn study sessions" });
  await task.getByRole("link").click();
  await county.page.getByRole("heading", { name: "Report" }).waitFor();
  await county.page.getByRole("button", { name: "Acknowledge", exact: true }).click();
  await county.page.locator(".state-acknowledged").first().waitFor();
  // The write is confirmed on the page it leads to.
  assert.match(await county.page.getByRole("status").innerText(), /Recorded: Acknowledged/);
  await shot(county.page, "15-assignment");
  // The history names who reported: the official, not an account number.
  const reported = county.page.locator("section[aria-labelledby='history-heading'] tbody tr").last();
  assert.match(await reported.innerText(), /Choe Myong/);
  // The county official may not issue in the province's name, nor see its roll-up above.
  const refused = await county.page.goto(directiveUrl.replace(/\?.*$/, "") + `?at=${province}`);
  assert.equal(refused.status(), 404);
  await county.context.close();

  await page.waitForFunction(
    () => document.querySelector("table.rollup tr.total td[data-count='acknowledged']").textContent === "1",
    null,
    { timeout: 15000 },
  );
  await page.goto(directiveUrl);
  const acknowledged = page.locator("table.rollup tr.total td[data-count='acknowledged']");
  assert.equal(await acknowledged.innerText(), "1");
  await shot(page, "16-directive-rollup");
  await secretary.context.close();
});

test("the centre drills down through the coloured picture of its decision", async () => {
  const { context, page } = await signedIn("centre");
  await page.goto("/directives/1");
  const rows = page.locator("table.rollup tbody tr");
  assert.ok((await rows.count()) > 12, "the provinces and equivalent committees");
  assert.ok(await page.locator(".laggards table tr").count() > 0, "the units that lag are listed");
  await page.locator("svg.series").waitFor();
  await shot(page, "17-decision-centre");
  const segment = page.locator("svg.sunburst a[data-unit]").first();
  const unit = await segment.getAttribute("data-unit");
  await segment.click();
  await page.waitForURL(new RegExp(`at=${unit}`));
  await page.locator("table.rollup").waitFor();
  await context.close();
});
