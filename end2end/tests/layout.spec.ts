// Every page fits its window, on a laptop (1280 px) and on a phone (400 px), light and dark,
// with data in the tables: three backups in the history (one failed with a long message),
// a backup's detail page, a restore of it, audit events, the progress panel open. Nothing
// may make the page scroll sideways, no table or card may run out of its container, and
// the sidebar's background runs down the whole page however long it is.
//
// With LIFEBOAT_SHOTS_DIR set, screenshots of every page at both widths, light and dark,
// are written there (for a person to look at; nothing is compared).
import { test, expect, Page } from "@playwright/test";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { freshDatabase, psql, startLifeboat, Lifeboat } from "./lifeboat";

let lb: Lifeboat;
let target: string;
const DB = "e2e_layout";
const PASSWORD = "a long enough passphrase";
const WIDTHS = [1280, 400];
const SCHEMES = ["light", "dark"] as const;
const HEIGHT = 800;
const shots = process.env.LIFEBOAT_SHOTS_DIR;
// A table the backup's role may not read: pg_dump fails with a long message naming it.
const FORBIDDEN =
  "a_table_with_a_rather_long_name_that_nobody_granted_to_lifeboat_x".slice(0, 63);

test.beforeAll(async () => {
  // Lifeboat backs up as the database's owner (not a superuser), so that a table owned by
  // someone else and never granted makes pg_dump fail.
  target = freshDatabase(DB, "e2e_layout_owner", "layout-owner-password");
  // Big enough for a backup to run a few seconds (the panel is measured while it runs).
  psql(
    target,
    "CREATE TABLE big AS SELECT g AS id, md5(g::text) || md5((g*7)::text) AS a FROM generate_series(1, 600000) g;",
  );
  lb = await startLifeboat({
    LIFEBOAT_TARGET_URL: target,
    LIFEBOAT_ADMIN_PASSWORD: PASSWORD,
    LIFEBOAT_CONFIRM_BACKUP: "false",
  });
});

test.afterAll(async () => {
  await lb?.stop();
});

/** Runs `sql` in the test database as the cluster's superuser. */
function asSuperuser(sql: string) {
  psql(process.env.LIFEBOAT_TEST_PG_URL!.replace(/\/[^/]*$/, `/${DB}`), sql);
}

/** Waits until the page shows its data (no "Loading…" line left). */
async function settled(page: Page) {
  await expect(page.getByTestId("current-user").or(page.locator(".auth-card"))).toBeVisible();
  await expect(page.getByTestId("loading")).toHaveCount(0);
}

/** How wide the document is against its window, what runs out of its container, and how
 * far the sidebar reaches. */
async function measure(page: Page) {
  return page.evaluate(() => {
    const root = document.documentElement;
    // Tables, their scrolling wraps, cards and the panel: each must fit inside itself (no
    // scrolling inside) and inside its parent.
    const boxes = ".table-wrap, .table, .card, .stat, .detail-list, .kv, .job-panel, .auth-card";
    const overflowing: string[] = [];
    for (const el of Array.from(document.querySelectorAll<HTMLElement>(boxes))) {
      const parent = el.parentElement;
      if (!parent || el.getClientRects().length === 0) continue;
      const name = `${el.tagName.toLowerCase()}.${Array.from(el.classList).join(".")}`;
      if (el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).overflowX !== "visible") {
        overflowing.push(`${name} scrolls (${el.scrollWidth} > ${el.clientWidth})`);
      }
      const box = el.getBoundingClientRect();
      const outer = parent.getBoundingClientRect();
      if (box.right > outer.right + 1 || box.left < outer.left - 1) {
        overflowing.push(`${name} leaves its container (${box.left}..${box.right} in ${outer.left}..${outer.right})`);
      }
      if (box.right > root.clientWidth + 1) {
        overflowing.push(`${name} leaves the window (right ${box.right} > ${root.clientWidth})`);
      }
    }
    const sidebar = document.querySelector(".sidebar");
    const side = sidebar?.getBoundingClientRect();
    return {
      scrollWidth: root.scrollWidth,
      clientWidth: root.clientWidth,
      scrollHeight: root.scrollHeight,
      overflowing,
      // The sidebar's box in page coordinates: its top and its bottom.
      sidebarTop: side ? side.top + window.scrollY : null,
      sidebarBottom: side ? side.bottom + window.scrollY : null,
    };
  });
}

/** Checks the page in light and dark: it fits its width and nothing in it overflows. */
async function expectFits(page: Page, what: string, opts: { sidebar?: boolean; inner?: boolean } = {}) {
  for (const scheme of SCHEMES) {
    await page.emulateMedia({ colorScheme: scheme });
    const m = await measure(page);
    const where = `${what}, ${scheme}`;
    expect(m.scrollWidth, `${where}: the page scrolls sideways (${JSON.stringify(m)})`).toBeLessThanOrEqual(
      m.clientWidth,
    );
    if (opts.inner !== false) {
      expect(m.overflowing, `${where}: overflowing boxes`).toEqual([]);
    }
    if (opts.sidebar) {
      // Beside the pages, the sidebar's background goes from the top to the bottom.
      expect(m.sidebarTop, `${where}: sidebar top`).toBe(0);
      expect(m.scrollHeight, `${where}: the page is longer than the window`).toBeGreaterThan(HEIGHT);
      expect(m.sidebarBottom!, `${where}: sidebar bottom (${JSON.stringify(m)})`).toBeGreaterThanOrEqual(
        m.scrollHeight - 1,
      );
    }
    if (shots) {
      mkdirSync(shots, { recursive: true });
      const file = `${what.replace(/[^a-z0-9]+/gi, "-")}-${scheme}.png`;
      await page.screenshot({ path: join(shots, file), fullPage: true });
    }
  }
  await page.emulateMedia({ colorScheme: "light" });
}

/** Clicks "Back up now" and waits for the job's end; returns its final status. */
async function backUp(page: Page): Promise<string> {
  await page.getByTestId("backup-now").click();
  await expect(page.getByTestId("job-status")).toHaveText(/succeeded|failed/, { timeout: 90_000 });
  const status = (await page.getByTestId("job-status").textContent()) ?? "";
  await page.getByTestId("job-close").click();
  return status;
}

test("every page fits 1280 px and 400 px, light and dark, with data", async ({ page }) => {
  test.setTimeout(300_000);

  // The sign-in page, before signing in.
  for (const width of WIDTHS) {
    await page.setViewportSize({ width, height: HEIGHT });
    await page.goto(lb.base + "/login");
    await expect(page.getByRole("button", { name: "Sign in" })).toBeEnabled();
    await expectFits(page, `login at ${width} px`);
  }

  await page.getByLabel("Username").fill("admin");
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByTestId("current-user")).toHaveText("admin");

  // A backup that succeeds, then one that fails on the table it may not read.
  await page.goto(lb.base + "/backups");
  expect(await backUp(page)).toBe("succeeded");
  const id = (await page.getByTestId("backup-row").first().getAttribute("data-backup-id"))!;
  asSuperuser(`CREATE TABLE ${FORBIDDEN} (x int)`);
  expect(await backUp(page)).toBe("failed");
  asSuperuser(`DROP TABLE ${FORBIDDEN}`);
  await expect(page.getByTestId("backup-row")).toHaveCount(2);
  await expect(page.getByTestId("backup-message").first()).toContainText("permission denied");

  // A third one, measured while the panel follows it, at both widths.
  await page.getByTestId("backup-now").click();
  await expect(page.getByTestId("job-status")).toHaveText("running", { timeout: 30_000 });
  for (const width of WIDTHS) {
    await page.setViewportSize({ width, height: HEIGHT });
    await expect(page.getByTestId("job-panel")).toBeVisible();
    await expectFits(page, `backups with the progress panel open at ${width} px`);
  }
  await expect(page.getByTestId("job-status")).toHaveText("succeeded", { timeout: 90_000 });
  await page.getByTestId("job-close").click();
  await expect(page.getByTestId("backup-row")).toHaveCount(3);

  // A download: one more audit event with details.
  const download = page.waitForEvent("download");
  await page.locator(`[data-testid="backup-row"][data-backup-id="${id}"]`).getByTestId("backup-download").click();
  await download;

  const pages: string[] = ["/", "/backups", `/backups/${id}`, "/restore", `/restore?backup=${id}`, "/audit", "/settings"];
  // Long pages at 1280 px: the sidebar must reach their bottom.
  const long = new Set(["/backups", "/audit", "/settings"]);
  for (const width of WIDTHS) {
    await page.setViewportSize({ width, height: HEIGHT });
    for (const path of pages) {
      await page.goto(lb.base + path);
      await settled(page);
      await expectFits(page, `${path} at ${width} px`, { sidebar: width === 1280 && long.has(path) });
    }
  }

  // The history's other columns, shown on demand, stay inside the page too (the table may
  // then scroll inside its frame on a laptop).
  for (const width of WIDTHS) {
    await page.setViewportSize({ width, height: HEIGHT });
    await page.goto(lb.base + "/backups");
    await settled(page);
    await page.getByTestId("history-all-columns").check();
    await expect(page.getByTestId("backup-row").last().getByTestId("backup-sha256")).toBeVisible();
    await expectFits(page, `backups with all columns at ${width} px`, { inner: width !== 1280 });
  }

  // The audit log's details are key/value pairs; the failed backup's long message is
  // shortened, the whole of it one click away.
  await page.setViewportSize({ width: 1280, height: HEIGHT });
  await page.goto(lb.base + "/audit");
  await settled(page);
  const details = page.getByTestId("audit-table").getByTestId("audit-details");
  await expect(details.first().locator("dt").first()).toBeVisible();
  const folded = details.locator("details.fold-inline").filter({ hasText: "permission denied" }).first();
  await expect(folded.locator(".long-text-full")).toBeHidden();
  await folded.locator("summary").click();
  await expect(folded.locator(".long-text-full")).toContainText(FORBIDDEN);
  await expectFits(page, "audit with a long value open at 1280 px");
});
