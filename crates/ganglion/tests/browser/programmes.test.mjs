// The programme of scenario 7 and the page of what is overdue (scenario 12), in a real
// Chromium against the demo organization. Started by crates/ganglion/tests/browser.rs.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";

const base = process.env.GANGLION_URL;
const shots = process.env.SCREENSHOT_DIR ?? "screenshots";
const executablePath = process.env.CHROMIUM ?? "/usr/bin/chromium";
const DEMO_PASSWORD = "demo-password";
assert.ok(base, "GANGLION_URL names the server under test");
mkdirSync(shots, { recursive: true });

let browser;

before(async () => {
  browser = await chromium.launch({
    executablePath,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
});

after(async () => {
  await browser?.close();
});

async function signedIn(login) {
  const context = await browser.newContext({ baseURL: base, locale: "en-GB" });
  const page = await context.newPage();
  await page.goto("/login");
  await page.getByLabel("Login").fill(login);
  await page.getByLabel("Password").fill(DEMO_PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(/\/work$/);
  return { context, page };
}

async function shot(page, name) {
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
}

test("the centre sees first what is overdue, by province, and drills down to an item", async () => {
  const { context, page } = await signedIn("centre");
  const panel = page.getByRole("region", { name: "Overdue under your units" });
  await assert.doesNotReject(panel.waitFor());
  assert.match(await panel.innerText(), /pledges/);
  await panel.getByRole("link", { name: "Everything overdue here" }).first().click();
  await page.waitForURL(/\/units\/\d+\/attention$/);
  const byChild = page.getByRole("region", { name: "By unit below" });
  const provinces = await byChild.locator("tbody tr").count();
  assert.ok(provinces >= 10, `every province with something overdue is listed, found ${provinces}`);
  await shot(page, "20-attention");
  // Down to a province, then to the most overdue item there.
  await byChild.locator("tbody tr th a").first().click();
  await page.waitForURL(/\/units\/\d+\/attention$/);
  const first = page.getByRole("region", { name: "Most overdue first" }).locator("tbody tr a").first();
  await first.click();
  await page.waitForURL(/\/assignments\/\d+$/);
  await context.close();
});

test("the programme shows plan against actual by region and year, and each year's picture", async () => {
  const { context, page } = await signedIn("centre");
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Programmes", exact: true }).click();
  await page.waitForURL(/\/programmes$/);
  await page.getByRole("link", { name: "20×10 regional development" }).click();
  await page.waitForURL(/\/programmes\/\d+$/);
  const table = page.locator("table.programme");
  const years = await table.locator("thead th a").count();
  assert.equal(years, 10, "a column for every year");
  const regions = await table.locator("tbody tr").count();
  assert.ok(regions >= 12, `a row for every province and the total, found ${regions}`);
  // The first years are mostly in operation, the later ones only planned.
  const total = table.locator("tr.total td");
  assert.ok((await total.first().getAttribute("class")).includes("stage-4"));
  assert.ok((await total.nth(9).getAttribute("class")).includes("stage-0"));
  await shot(page, "21-programme");
  // A province, then a project of it, then back to the programme.
  await table.locator("tbody tr th a").first().click();
  await page.waitForURL(/\/programmes\/\d+\?at=\d+$/);
  await page.getByRole("region", { name: "Projects" }).locator("tbody tr a").first().click();
  await page.waitForURL(/\/assignments\/\d+$/);
  assert.ok(await page.getByRole("link", { name: "Open the programme" }).isVisible());
  assert.match(await page.locator("main").innerText(), /Ground broken|Planned|In operation|Completed|Under construction/);
  await shot(page, "22-project");
  // A year's tree picture: the year's directive, coloured by completion.
  await page.goBack();
  await page.goBack();
  await table.locator("thead th a").first().click();
  await page.waitForURL(/\/directives\/\d+\?at=\d+$/);
  assert.ok(await page.locator("svg").first().isVisible(), "the year's picture is drawn");
  await context.close();
});

test("a county official sees only its own region of the programme", async () => {
  const { context, page } = await signedIn("k001-official");
  await page.goto("/programmes");
  const link = page.getByRole("link", { name: "20×10 regional development" });
  if ((await link.count()) === 0) {
    // This county has no project in the programme: the programme is out of sight.
    await context.close();
    return;
  }
  await link.click();
  await page.waitForURL(/\/programmes\/\d+$/);
  const heading = await page.getByRole("heading", { level: 2 }).first().innerText();
  assert.match(heading, /Oksan/);
  await context.close();
});
