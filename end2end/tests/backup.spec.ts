// Back up now as an administrator does it: Ctrl+Alt+S, confirm, watch the percentage
// climb, see the new row, download the file and check its SHA-256 against the one shown;
// then start another backup and cancel it.
import { test, expect } from "@playwright/test";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { freshDatabase, psql, startLifeboat, Lifeboat } from "./lifeboat";

let lb: Lifeboat;
const PASSWORD = "a long enough passphrase";

test.beforeAll(async () => {
  // A database large enough for a backup to take several seconds.
  const url = freshDatabase("e2e_backup");
  psql(
    url,
    "CREATE TABLE big AS SELECT g AS id, md5(g::text) || md5((g*7)::text) AS a, md5((g*13)::text) AS b FROM generate_series(1, 1200000) g; " +
      "CREATE TABLE small AS SELECT g AS id FROM generate_series(1, 1000) g;",
  );
  lb = await startLifeboat({ LIFEBOAT_TARGET_URL: url, LIFEBOAT_ADMIN_PASSWORD: PASSWORD });
});

test.afterAll(async () => {
  await lb?.stop();
});

test("Ctrl+Alt+S → confirm → live progress → download matches the checksum; cancel", async ({ page }) => {
  await page.goto(lb.base + "/login");
  await page.getByLabel("Username").fill("admin");
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByTestId("current-user")).toHaveText("admin");
  await page.getByRole("link", { name: "Backups" }).click();
  await expect(page.getByTestId("backup-history")).toBeVisible();

  // The shortcut opens the confirmation; Cancel abandons without starting anything.
  await page.keyboard.press("Control+Alt+s");
  await expect(page.getByTestId("confirm-backup")).toBeVisible();
  await page.getByTestId("confirm-backup-cancel").click();
  await expect(page.getByTestId("confirm-backup")).toBeHidden();
  await expect(page.getByTestId("job-panel")).toBeHidden();

  await page.keyboard.press("Control+Alt+s");
  await page.getByTestId("confirm-backup-go").click();
  const panel = page.getByTestId("job-panel");
  await expect(panel).toBeVisible();

  // Watch the percentage over the events until the job succeeds.
  const seen: number[] = [];
  const deadline = Date.now() + 90_000;
  let status = "";
  while (Date.now() < deadline) {
    status = (await page.getByTestId("job-status").textContent()) ?? "";
    if (/succeeded|failed|cancelled/.test(status)) break;
    const text = await page.getByTestId("job-percent").textContent({ timeout: 1_000 }).catch(() => null);
    const pct = parseFloat((text ?? "").replace(/[^0-9.]/g, ""));
    if (!Number.isNaN(pct) && (seen.length === 0 || seen[seen.length - 1] !== pct)) seen.push(pct);
    await page.waitForTimeout(150);
  }
  expect(status).toContain("succeeded");
  expect(seen.length, `percentages seen: ${seen.join(", ")}`).toBeGreaterThanOrEqual(3);
  for (let i = 1; i < seen.length; i++) expect(seen[i]).toBeGreaterThanOrEqual(seen[i - 1]);
  const shownSha = ((await page.getByTestId("job-sha256").textContent()) ?? "").trim();
  expect(shownSha).toMatch(/[0-9a-f]{12}/);

  // The new row is in the history; its download has the SHA-256 the page shows.
  const row = page.getByTestId("backup-row").first();
  await expect(row.getByTestId("backup-status-pill")).toHaveText("succeeded");
  const fullSha = await row.getByTestId("backup-sha256").getAttribute("title");
  expect(fullSha).toMatch(/^[0-9a-f]{64}$/);
  expect(fullSha!.startsWith(shownSha.replace(/…$/, "").slice(0, 12))).toBeTruthy();
  const downloadPromise = page.waitForEvent("download");
  await row.getByTestId("backup-download").click();
  const download = await downloadPromise;
  const file = await download.path();
  const sha = createHash("sha256").update(readFileSync(file!)).digest("hex");
  expect(sha).toBe(fullSha);
  expect(download.suggestedFilename()).toMatch(/_manual\.dump$/);

  // The success panel dismisses itself after 8 s.
  await expect(panel).toBeHidden({ timeout: 12_000 });

  // A second backup, cancelled while it runs.
  await page.getByTestId("backup-now").click();
  await page.getByTestId("confirm-backup-go").click();
  await expect(page.getByTestId("job-cancel")).toBeVisible();
  await page.getByTestId("job-cancel").click();
  await expect(page.getByTestId("job-status")).toContainText("cancelled", { timeout: 30_000 });
  await expect(page.getByTestId("backup-row").first().getByTestId("backup-status-pill")).toHaveText("cancelled");

  // The audit log has both outcomes and the download.
  await page.getByRole("link", { name: "Audit log" }).click();
  const table = page.getByTestId("audit-table");
  await expect(table.locator("tbody tr").filter({ hasText: "backup.download" })).toHaveCount(1);
  await expect(table.locator("tbody tr").filter({ hasText: "backup.cancel" })).toHaveCount(1);
  await expect(table.locator("tbody tr").filter({ hasText: "backup.run" })).toHaveCount(2);
});

test("test restore from a backup's page → restorable in the page, the history and the status strip", async ({ page }) => {
  await page.goto(lb.base + "/login");
  await page.getByLabel("Username").fill("admin");
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByTestId("current-user")).toHaveText("admin");
  await page.getByRole("link", { name: "Backups" }).click();
  await expect(page.getByTestId("last-test-restore")).toContainText("None yet");
  const row = page.locator('[data-testid="backup-row"]').filter({ has: page.locator('[data-testid="backup-status-pill"]', { hasText: "succeeded" }) }).first();
  const id = await row.getAttribute("data-backup-id");
  await expect(row.getByTestId("backup-proven")).toHaveCount(0);
  await row.getByTestId("backup-details").click();

  const result = page.getByTestId("test-restore-result");
  await expect(result).toContainText("Never tested");
  await page.getByTestId("test-restore").click();
  await expect(result).toHaveAttribute("data-state", "succeeded", { timeout: 110_000 });
  await expect(result).toContainText(/proven on .*, in .*, 1201000 rows in 2 tables, on /);
  await expect(page.getByTestId("backup-detail").getByTestId("backup-proven")).toHaveText("restorable");

  await page.getByRole("link", { name: "Backups", exact: true }).click();
  await expect(page.locator(`[data-testid="backup-row"][data-backup-id="${id}"]`).getByTestId("backup-proven")).toHaveText("restorable");
  await expect(page.getByTestId("last-test-restore")).toHaveAttribute("data-state", "succeeded");
  await expect(page.getByTestId("last-test-restore")).toContainText(`backup #${id}`);
});
