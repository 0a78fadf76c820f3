// A swap restore as an administrator does it: choose the swap in the confirmation, read
// the proof and the offline time in the result, roll back (a swap of names back), and find
// both databases kept aside in the "Kept databases" list; drop one from there.
import { test, expect, Page } from "@playwright/test";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { dropFile, pgBin, psql, startLifeboat, Lifeboat } from "./lifeboat";

let lb: Lifeboat;
let url: string;
let admin: string;
let work: string;
let dumpPath: string;
const DB = "e2e_swap";
const PASSWORD = "a long enough passphrase";

const markers = () => psql(url, "SELECT string_agg(id::text, ',' ORDER BY id) FROM marker");

test.beforeAll(async () => {
  admin = process.env.LIFEBOAT_TEST_PG_URL!;
  for (const name of psql(admin, `SELECT datname FROM pg_database WHERE datname LIKE '${DB}%'`).split("\n")) {
    if (name) psql(admin, `DROP DATABASE "${name}"`);
  }
  psql(admin, `CREATE DATABASE ${DB}`);
  url = admin.replace(/\/[^/]*$/, `/${DB}`);
  psql(
    url,
    "CREATE TABLE marker (id int PRIMARY KEY); INSERT INTO marker VALUES (1); " +
      "CREATE TABLE items AS SELECT g AS id FROM generate_series(1, 1000) g;",
  );
  work = mkdtempSync(join(tmpdir(), "lifeboat-e2e-swap-"));
  dumpPath = join(work, `${DB}.dump`);
  execFileSync(pgBin("pg_dump"), ["-Fc", "-f", dumpPath, url]);
  // Written after the dump: gone after the restore, back after the roll back.
  psql(url, "INSERT INTO marker VALUES (2)");
  lb = await startLifeboat({ LIFEBOAT_TARGET_URL: url, LIFEBOAT_ADMIN_PASSWORD: PASSWORD });
});

test.afterAll(async () => {
  await lb?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** Waits (through the API) until the final backup of kept database `name` has succeeded,
 * then opens restore `restoreId`'s result again to show it. */
async function finalBackupSucceeded(page: Page, name: string, restoreId: number) {
  await expect
    .poll(
      async () => {
        const r = await page.request.get(lb.base + "/api/v1/restores/kept-databases");
        const list: { name: string; final_backup_status: string | null }[] = await r.json();
        return list.find((k) => k.name === name)?.final_backup_status;
      },
      { timeout: 60_000 },
    )
    .toBe("succeeded");
  await page.goto(`${lb.base}/restore?restore=${restoreId}`);
  await expect(page.locator(`[data-testid="restore-result"][data-restore-id="${restoreId}"]`)).toBeVisible();
  await expect(page.locator(`[data-testid="kept-row"][data-name="${name}"]`)).toBeVisible();
}

test("swap restore → proof and offline time → roll back → kept databases", async ({ page }) => {
  await page.goto(lb.base + "/login");
  await page.getByLabel("Username").fill("admin");
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByTestId("current-user")).toHaveText("admin");
  await page.getByRole("link", { name: "Restore", exact: true }).click();
  await expect(page.getByTestId("restore-target")).toHaveText(DB);
  await expect(page.getByTestId("kept-empty")).toBeVisible();
  await expect(page.getByTestId("drop-zone")).toHaveAttribute("data-ready", "true");

  await dropFile(page, `${DB}.dump`, readFileSync(dumpPath));
  const summary = page.getByTestId("upload-summary");
  await expect(summary).toBeVisible({ timeout: 60_000 });
  await summary.getByTestId("restore-open").click();

  // The confirmation says what each strategy does; choose the swap.
  const dialog = page.getByTestId("restore-dialog");
  await expect(dialog.getByTestId("strategy-choice")).toContainText("offline only for the swap");
  await expect(dialog.getByTestId("strategy-choice")).toContainText("kept out of");
  // What Lifeboat would choose here and why, and what a swap keeps aside.
  await expect(dialog.getByTestId("strategy-plan")).toContainText("Here Lifeboat would restore by swap");
  await expect(dialog.getByTestId("strategy-plan")).toContainText("may create databases");
  await expect(dialog.getByTestId("strategy-kept-aside")).toHaveText(/^Kept aside: \d+(\.\d)? (kB|MB) on the database server, for 7 d /);
  await dialog.getByTestId("strategy-swap").check();
  await dialog.getByTestId("confirm-name").fill(DB);
  const answer = page.waitForResponse(
    (r) => r.request().method() === "POST" && new URL(r.url()).pathname === "/api/v1/restores",
  );
  await dialog.getByTestId("restore-confirm").click();
  const resp = await answer;
  expect(resp.status(), await resp.text()).toBe(202);
  expect(resp.request().postDataJSON().strategy).toBe("swap");
  const started = await resp.json();
  expect(started.strategy).toBe("swap");

  const result = page.locator(`[data-testid="restore-result"][data-restore-id="${started.restore_id}"]`);
  await expect(result).toBeVisible({ timeout: 90_000 });
  expect(await result.getAttribute("data-outcome"), await page.getByTestId("restore-message").textContent()).toBe(
    "succeeded",
  );
  expect(markers()).toBe("1");

  // The proof, the offline time and the kept database.
  await expect(page.getByTestId("result-strategy")).toContainText("Swap");
  await expect(page.getByTestId("proof-summary")).toHaveText("2 tables checked, all row counts equal");
  await expect(page.getByTestId("proof-tables")).toBeHidden();
  await page.getByTestId("proof-summary").click();
  await expect(page.getByTestId("proof-row")).toHaveCount(2);
  await expect(page.getByTestId("proof-tables")).toContainText("public.items");
  await expect(page.getByTestId("proof-tables")).toContainText("1000");
  await expect(page.getByTestId("result-offline")).toHaveText(/^offline \d+(\.\d)? (ms|s)$/);
  const kept = (await page.getByTestId("result-kept-database").textContent()) ?? "";
  expect(kept).toMatch(new RegExp(`^${DB}__lifeboat_before_`));
  const keptRow = page.locator(`[data-testid="kept-row"][data-name="${kept}"]`);
  await expect(keptRow).toBeVisible();
  await expect(keptRow).toHaveAttribute("data-role", "before");
  await expect(keptRow.getByTestId("kept-restore")).toHaveText(`Restore #${started.restore_id}`);
  await expect(keptRow.getByTestId("kept-size")).toHaveText(/\d/);
  // Lifeboat backs the kept database up; until that has succeeded it cannot be dropped.
  await finalBackupSucceeded(page, kept, started.restore_id);
  await expect(keptRow.getByTestId("kept-final-backup").getByTestId("backup-status-pill")).toHaveText("succeeded");
  await expect(keptRow.getByTestId("kept-drop")).toBeEnabled();

  // Roll back: the dialog says the restored database is kept aside, not dropped.
  await page.getByTestId("swap-rollback").click();
  const rb = page.getByTestId("rollback-dialog");
  await expect(rb).toContainText("not dropped");
  const rollback = page.waitForResponse(
    (r) => r.request().method() === "POST" && /\/api\/v1\/restores\/\d+\/rollback$/.test(new URL(r.url()).pathname),
  );
  await rb.getByTestId("rollback-confirm").click();
  expect((await rollback).status()).toBe(202);
  await expect(rb).toBeHidden();
  await expect(page.getByTestId("result-rolled-back")).toBeVisible({ timeout: 60_000 });
  await expect(page.getByTestId("result-rolled-back")).toContainText("kept aside as");
  await expect(page.getByTestId("swap-rollback")).toBeHidden();
  expect(markers()).toBe("1,2");

  // Both sides are kept: drop the restored one from the list.
  const aside = page.locator('[data-testid="kept-row"][data-role="rolledback"]');
  await expect(aside).toHaveCount(1);
  const asideName = (await aside.getAttribute("data-name")) ?? "";
  await finalBackupSucceeded(page, asideName, started.restore_id);
  await aside.getByTestId("kept-drop").click();
  await page.getByTestId("drop-kept-confirm").click();
  await expect(page.getByTestId("drop-kept-dialog")).toBeHidden();
  await expect(aside).toHaveCount(0);
  expect(psql(admin, `SELECT count(*) FROM pg_database WHERE datname = '${asideName}'`)).toBe("0");
});
