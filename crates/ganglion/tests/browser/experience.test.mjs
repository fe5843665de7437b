// The library of good experience (scenario 4) and the honours (scenario 10) in a real
// Chromium against the demo organization: searched in Korean as one types, and without
// JavaScript through the form. Started by crates/ganglion/tests/browser.rs.
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

// Signs in (in English), then reads the pages in Korean, as the language menu would.
async function signedInKorean(login, options = {}) {
  const context = await browser.newContext({ baseURL: base, locale: "en-GB", ...options });
  const page = await context.newPage();
  await page.goto("/login");
  await page.getByLabel("Login").fill(login);
  await page.getByLabel("Password").fill(DEMO_PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(/\/work$/);
  await context.addCookies([{ name: "ganglion_lang", value: "ko", url: base }]);
  return { context, page };
}

async function shot(page, name) {
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
}

test("the library is searched in Korean as one types, a word found inside longer words", async () => {
  const { context, page } = await signedInKorean("k001-official");
  await page.goto("/work");
  await page.getByRole("navigation", { name: "주 메뉴" }).getByRole("link", { name: "경험", exact: true }).click();
  await page.waitForURL(/\/experiences$/);
  assert.equal(await page.locator("h1").innerText(), "좋은 경험 자료실");
  const box = page.getByRole("searchbox");
  // Typed, not sent: the results follow the typing.
  await box.pressSequentially("비료", { delay: 60 });
  await page.waitForURL(/\/experiences\?q=%EB%B9%84%EB%A3%8C$/);
  const results = page.locator("#results");
  await results.locator("mark", { hasText: "비료" }).first().waitFor();
  const total = Number(await results.locator("[data-total]").getAttribute("data-total"));
  assert.ok(total >= 20, `many experiences hold 비료, found ${total}`);
  // 비료 is found inside 질소비료, 유기질비료, …: the mark sits inside a longer word.
  const snippets = await results.locator(".snippet").allInnerTexts();
  assert.ok(snippets.some((s) => /[가-힣]비료/.test(s)), snippets.slice(0, 3).join(" | "));
  assert.match(await results.locator("[data-total]").innerText(), /경험 [\d,]+건을 찾았습니다/);
  await shot(page, "30-experience-search-ko");

  // One syllable finds the texts that hold it.
  await box.fill("");
  await box.pressSequentially("쌀", { delay: 60 });
  await page.waitForURL(/q=%EC%8C%80$/);
  await results.locator("mark", { hasText: "쌀" }).first().waitFor();

  // An experience's page, with what it came from.
  await results.locator("ol.results h3 a").first().click();
  await page.waitForURL(/\/experiences\/\d+$/);
  assert.ok((await page.locator("h1").innerText()).length > 0);
  await shot(page, "31-experience-page-ko");
  await context.close();
});

test("without JavaScript the library is searched by its form, and the course's videos are kept", async () => {
  const { context, page } = await signedInKorean("k001-official", { javaScriptEnabled: false });
  await page.goto("/experiences");
  await page.getByRole("searchbox").fill("영상");
  await page.getByRole("button", { name: "찾기" }).click();
  await page.waitForURL(/\/experiences\?q=/);
  const titles = await page.locator("ol.results h3").allInnerTexts();
  assert.ok(titles.some((t) => t.includes("영상")), titles.join(" | "));
  // A video of the second short course, with its media link.
  await page.goto("/experiences?tag=second-short-course");
  const videos = await page.locator("ol.results li").count();
  assert.ok(videos >= 6, `the second short course's videos, found ${videos}`);
  await page.locator("ol.results h3 a").first().click();
  await page.waitForURL(/\/experiences\/\d+$/);
  const media = page.locator("section a[href$='.mp4']");
  assert.ok((await media.count()) >= 1, "the video is linked");
  await context.close();
});

test("the honours list shows red-flag titles across the tree, awarded again and withdrawn", async () => {
  const { context, page } = await signedInKorean("k001-official");
  await page.goto("/honours");
  assert.equal(await page.locator("h1").innerText(), "칭호");
  const rows = page.locator("table.honours tbody tr");
  assert.ok((await rows.count()) >= 10, "titled units are listed");
  const text = await page.locator("table.honours").innerText();
  assert.match(text, /3중 Three-Revolution Red Flag/);
  assert.match(text, /2중 Three-Revolution Red Flag/);
  assert.match(text, /취소됨/);
  await shot(page, "32-honours-ko");
  await context.close();
});
