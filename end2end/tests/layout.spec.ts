// Every page fits its window, on a laptop (1280 px) and on a phone (400 px), with data in
// the tables: a backup in the history (its detail page, a restore of it), audit events, the
// progress panel open. Nothing may make the page scroll sideways, and the sidebar's
// background runs down the whole page however long it is.
//
// With LIFEBOAT_SHOTS_DIR set, screenshots of every page at both widths, light and dark,
// are written there (for a person to look at; nothing is compared).
import { test, expect, Page } from "@playwright/test";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { freshDatabase, psql, startLifeboat, Lifeboat } from "./lifeboat";

let lb: Lifeboat;
const DB = "e2e_layout";
const PASSWORD = "a long enough passphrase";
const WIDTHS = [1280, 400];
// Short windows, so that pages are longer than the window.
const HEIGHT = 640;
const shots = process.env.LIFEBOAT_SHOTS_DIR;

test.beforeAll(async () => {
  const url = freshDatabase(DB);
  // Big enough for a backup to run a few seconds (the panel is measured while it runs).
  psql(
    url,
    "CREATE TABLE big AS SELECT g AS id, md5(g::text) || md5((g*7)::text) AS a FROM generate_series(1, 600000) g;",
  );
  lb = await startLifeboat({
    LIFEBOAT_TARGET_URL: url,
    LIFEBOAT_ADMIN_PASSWORD: PASSWORD,
    LIFEBOAT_CONFIRM_BACKUP: "false",
  });
});

test.afterAll(async () => {
  await lb?.stop();
});

/** Waits until the page shows its data (no "Loading…" line left). */
async function settled(page: Page) {
  await expect(page.getByTestId("current-user").or(page.locator(".auth-card"))).toBeVisible();
  await expect(page.getByTestId("loading")).toHaveCount(0);
}

/** How wide the document is against its window, and how far the sidebar reaches. */
async function measure(page: Page) {
  return page.evaluate(() => {
    const root = document.documentElement;
    const sidebar = document.querySelector(".sidebar");
    const box = sidebar?.getBoundingClientRect();
    return {
      scrollWidth: root.scrollWidth,
      clientWidth: root.clientWidth,
      scrollHeight: root.scrollHeight,
      // The sidebar's box in page coordinates: its top and its bottom.
      sidebarTop: box ? box.top + window.scrollY : null,
      sidebarBottom: box ? box.bottom + window.scrollY : null,
    };
  });
}

async function expectFits(page: Page, what: string) {
  const m = await measure(page);
  expect(m.scrollWidth, `${what}: the page scrolls sideways (${JSON.stringify(m)})`).toBeLessThanOrEqual(
    m.clientWidth,
  );
  return m;
}

async function shoot(page: Page, name: string) {
  if (!shots) return;
  mkdirSync(shots, { recursive: true });
  for (const scheme of ["light", "dark"] as const) {
    await page.emulateMedia({ colorScheme: scheme });
    await page.screenshot({ path: join(shots, `${name}-${scheme}.png`), fullPage: true });
  }
  await page.emulateMedia({ colorScheme: "light" });
}

test("every page fits 1280 px and 400 px, with data, the panel open or not", async ({ page }) => {
  test.setTimeout(300_000);

  // The sign-in page, before signing in.
  for (const width of WIDTHS) {
    await page.setViewportSize({ width, height: HEIGHT });
    await page.goto(lb.base + "/login");
    await expect(page.getByRole("button", { name: "Sign in" })).toBeEnabled();
    await expectFits(page, `/login at ${width} px`);
    await shoot(page, `login-${width}`);
  }

  await page.getByLabel("Username").fill("admin");
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByTestId("current-user")).toHaveText("admin");

  // One backup, and a second one measured while the panel follows it, at both widths.
  await page.goto(lb.base + "/backups");
  await page.getByTestId("backup-now").click();
  const succeeded = page.getByTestId("backup-row").filter({
    has: page.getByTestId("backup-status-pill").filter({ hasText: /^succeeded$/ }),
  });
  await expect(succeeded).toHaveCount(1, { timeout: 90_000 });
  const id = (await succeeded.first().getAttribute("data-backup-id"))!;
  await expect(page.getByTestId("job-status")).toHaveText("succeeded");
  await page.getByTestId("job-close").click();

  await page.getByTestId("backup-now").click();
  await expect(page.getByTestId("job-status")).toHaveText("running", { timeout: 30_000 });
  for (const width of WIDTHS) {
    await page.setViewportSize({ width, height: HEIGHT });
    await expect(page.getByTestId("job-panel")).toBeVisible();
    await expectFits(page, `/backups with the progress panel open at ${width} px`);
    await shoot(page, `panel-${width}`);
  }
  await expect(page.getByTestId("job-status")).toHaveText("succeeded", { timeout: 90_000 });
  await page.getByTestId("job-close").click();
  // A download: one more audit event with details.
  const download = page.waitForEvent("download");
  await page.locator(`[data-testid="backup-row"][data-backup-id="${id}"]`).getByTestId("backup-download").click();
  await download;

  const pages: [string, string][] = [
    ["status", "/"],
    ["backups", "/backups"],
    ["backup-detail", `/backups/${id}`],
    ["restore", "/restore"],
    ["restore-backup", `/restore?backup=${id}`],
    ["audit", "/audit"],
    ["settings", "/settings"],
  ];
  for (const width of WIDTHS) {
    await page.setViewportSize({ width, height: HEIGHT });
    for (const [name, path] of pages) {
      await page.goto(lb.base + path);
      await settled(page);
      const m = await expectFits(page, `${path} at ${width} px`);
      if (width === 1280) {
        // Beside the pages, the sidebar's background goes from the top to the bottom.
        expect(m.sidebarTop, `${path}: sidebar top`).toBe(0);
        expect(m.sidebarBottom!, `${path}: sidebar bottom (${JSON.stringify(m)})`).toBeGreaterThanOrEqual(
          m.scrollHeight - 1,
        );
      }
      await shoot(page, `${name}-${width}`);
    }
  }

  // The history's other columns, shown on demand, stay inside the page too.
  for (const width of WIDTHS) {
    await page.setViewportSize({ width, height: HEIGHT });
    await page.goto(lb.base + "/backups");
    await settled(page);
    await page.getByTestId("history-all-columns").check();
    await expect(page.getByTestId("backup-row").first().getByTestId("backup-sha256")).toBeVisible();
    await expectFits(page, `/backups with all columns at ${width} px`);
    await shoot(page, `backups-all-columns-${width}`);
  }

  // The audit log's details are key/value pairs.
  await page.goto(lb.base + "/audit");
  await settled(page);
  const details = page.getByTestId("audit-table").getByTestId("audit-details").first();
  await expect(details.locator("dt").first()).toBeVisible();
});
