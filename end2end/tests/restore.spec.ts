// Restore as an administrator does it: drop a real `pg_dump -Fc` archive on the Restore
// page, read the validation summary, confirm by typing the database's name, watch the
// safety backup then the restore, read the result, find the safety backup in the history,
// then roll back to it. And what the browser refuses before sending anything.
import { test, expect, Page } from "@playwright/test";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { dropFile, pgBin, psql, startLifeboat, Lifeboat } from "./lifeboat";

let lb: Lifeboat;
let url: string;
let work: string;
let dumpPath: string;
const DB = "e2e_restore";
const PASSWORD = "a long enough passphrase";

/** What the test looks at: the marker rows and how many items there are. */
function state(): { markers: string; items: string } {
  return {
    markers: psql(url, "SELECT string_agg(id || ':' || note, ',' ORDER BY id) FROM marker"),
    items: psql(url, "SELECT count(*) FROM items"),
  };
}

const DUMPED = { markers: "1:from the dump", items: "300000" };
const CHANGED = { markers: "1:changed after the dump,2:added after the dump", items: "150000" };

test.beforeAll(async () => {
  const admin = process.env.LIFEBOAT_TEST_PG_URL!;
  psql(admin, `DROP DATABASE IF EXISTS ${DB}`);
  psql(admin, `CREATE DATABASE ${DB}`);
  url = admin.replace(/\/[^/]*$/, `/${DB}`);
  // Big enough for the safety backup and the restore to take a moment each.
  psql(
    url,
    "CREATE TABLE marker (id int PRIMARY KEY, note text NOT NULL); " +
      "INSERT INTO marker VALUES (1, 'from the dump'); " +
      "CREATE TABLE items AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 300000) g; " +
      "ALTER TABLE items ADD PRIMARY KEY (id);",
  );
  work = mkdtempSync(join(tmpdir(), "lifeboat-e2e-restore-"));
  dumpPath = join(work, `${DB}.dump`);
  execFileSync(pgBin("pg_dump"), ["-Fc", "-f", dumpPath, url]);
  expect(state()).toEqual(DUMPED);

  // What the database holds when the restore starts (and after the roll-back).
  psql(
    url,
    "UPDATE marker SET note = 'changed after the dump' WHERE id = 1; " +
      "INSERT INTO marker VALUES (2, 'added after the dump'); " +
      "DELETE FROM items WHERE id > 150000;",
  );
  expect(state()).toEqual(CHANGED);

  lb = await startLifeboat({ LIFEBOAT_TARGET_URL: url, LIFEBOAT_ADMIN_PASSWORD: PASSWORD });
});

test.afterAll(async () => {
  await lb?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

async function signIn(page: Page) {
  await page.goto(lb.base + "/login");
  await page.getByLabel("Username").fill("admin");
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByTestId("current-user")).toHaveText("admin");
}

async function openRestorePage(page: Page) {
  await page.getByRole("link", { name: "Restore", exact: true }).click();
  await expect(page).toHaveURL(/\/restore$/);
  await expect(page.getByTestId("restore-target")).toHaveText(DB);
  await expect(page.getByTestId("drop-zone")).toHaveAttribute("data-ready", "true");
}

/** Records every phase the page shows from now on (checked every 20 ms). */
async function recordPhases(page: Page) {
  await page.evaluate(() => {
    const w = window as unknown as { __phases: string[]; __phaseTimer?: number };
    w.__phases = [];
    if (w.__phaseTimer) clearInterval(w.__phaseTimer);
    w.__phaseTimer = window.setInterval(() => {
      const el = document.querySelector('[data-testid="restore-phase"]');
      const p = el?.getAttribute("data-phase");
      if (p && w.__phases[w.__phases.length - 1] !== p) w.__phases.push(p);
    }, 20);
  });
}

async function phasesSeen(page: Page): Promise<string[]> {
  return page.evaluate(() => (window as unknown as { __phases: string[] }).__phases);
}

interface Started {
  job_id: number;
  restore_id: number;
}

/** Types the database's name in the open confirmation and starts the restore. */
async function confirmRestore(page: Page): Promise<Started> {
  const dialog = page.getByTestId("restore-dialog");
  await expect(dialog).toBeVisible();
  await expect(dialog.getByTestId("confirm-target")).toHaveText(DB);
  const go = dialog.getByTestId("restore-confirm");
  await expect(go).toBeDisabled();
  await dialog.getByTestId("confirm-name").fill(DB.slice(0, -1));
  await expect(go).toBeDisabled();
  await dialog.getByTestId("confirm-name").fill(DB);
  await expect(go).toBeEnabled();
  await recordPhases(page);
  const answer = page.waitForResponse(
    (r) => r.request().method() === "POST" && new URL(r.url()).pathname === "/api/v1/restores",
  );
  await go.click();
  const resp = await answer;
  expect(resp.status(), await resp.text()).toBe(202);
  await expect(dialog).toBeHidden();
  return (await resp.json()) as Started;
}

/** Waits for the running restore's result; checks the phases went safety backup → restore. */
async function expectSuccessfulRestore(page: Page, started: Started) {
  await expect(page.getByTestId("restore-run")).toBeVisible();
  const result = page.locator(`[data-testid="restore-result"][data-restore-id="${started.restore_id}"]`);
  await expect(result).toBeVisible({ timeout: 90_000 });
  const outcome = await result.getAttribute("data-outcome");
  const message = await page.getByTestId("restore-message").textContent();
  expect(outcome, `restore message: ${message}`).toBe("succeeded");
  const phases = await phasesSeen(page);
  const safety = phases.indexOf("safety_backup");
  const restore = phases.indexOf("restore");
  expect(safety, `phases seen: ${phases.join(" → ")}`).toBeGreaterThanOrEqual(0);
  expect(restore, `phases seen: ${phases.join(" → ")}`).toBeGreaterThan(safety);
  await expect(page.getByTestId("restore-percent")).toHaveText("100 %");
  await expect(page.getByTestId("restore-phase")).toHaveText("Done");
  await expect(page.getByTestId("restore-duration")).not.toHaveText("—");
  await expect(page.getByTestId("restore-tool-output")).toBeVisible();
}

test("a .sql file, a file that is not an archive and a broken archive are refused", async ({ page }) => {
  const uploads: string[] = [];
  page.on("request", (r) => {
    if (r.method() === "POST" && r.url().includes("/api/v1/uploads")) uploads.push(r.url());
  });
  await signIn(page);
  await openRestorePage(page);
  await expect(page.getByTestId("restore-intro")).toContainText("pg_dump -Fc");
  await expect(page.getByTestId("restore-intro")).toContainText(".sql");

  await dropFile(page, "export.sql", Buffer.from("-- PostgreSQL database dump\nCREATE TABLE t (id int);\n"));
  await expect(page.getByTestId("file-refusal")).toContainText(".sql text files are not accepted");
  await expect(page.getByTestId("file-refusal")).toContainText("pg_dump -Fc");

  // The picker goes through the same checks.
  await page.getByTestId("file-input").setInputFiles({
    name: "notes.dump",
    mimeType: "application/octet-stream",
    buffer: Buffer.from("just some text, not an archive\n"),
  });
  await expect(page.getByTestId("file-refusal")).toContainText("does not start with PGDMP");
  expect(uploads, "nothing is sent for a file the browser refuses").toEqual([]);
  await expect(page.getByTestId("upload-summary")).toBeHidden();

  // Right magic, wrong everything else: the server refuses it in plain words.
  await dropFile(page, "broken.dump", Buffer.concat([Buffer.from("PGDMP"), Buffer.alloc(4096, 0x5a)]));
  await expect(page.getByTestId("upload-refusal")).toBeVisible({ timeout: 30_000 });
  expect(((await page.getByTestId("upload-refusal").textContent()) ?? "").length).toBeGreaterThan(20);
  expect(uploads.length).toBe(1);
  await expect(page.getByTestId("upload-summary")).toBeHidden();
});

test("drop a .dump → summary → confirm → safety backup, restore → result; roll back", async ({ page }) => {
  await signIn(page);
  await openRestorePage(page);

  // The real archive, dropped on the zone.
  await dropFile(page, `${DB}.dump`, readFileSync(dumpPath));
  const summary = page.getByTestId("upload-summary");
  await expect(summary).toBeVisible({ timeout: 60_000 });
  await expect(summary.getByTestId("summary-file")).toHaveText(`${DB}.dump`);
  await expect(summary.getByTestId("summary-source-database")).toHaveText(DB);
  await expect(summary.getByTestId("summary-tables")).toContainText("public.marker");
  await expect(summary.getByTestId("summary-tables")).toContainText("public.items");
  await expect(summary.getByTestId("summary-counts")).toContainText("2 tables");
  const sha = await summary.getByTestId("backup-sha256").getAttribute("title");
  expect(sha).toMatch(/^[0-9a-f]{64}$/);

  // Escape closes the confirmation without starting anything.
  await summary.getByTestId("restore-open").click();
  await expect(page.getByTestId("restore-dialog")).toBeVisible();
  await expect(page.getByTestId("confirm-name")).toBeFocused();
  await page.keyboard.press("Escape");
  await expect(page.getByTestId("restore-dialog")).toBeHidden();
  await expect(summary.getByTestId("restore-open")).toBeFocused();

  await summary.getByTestId("restore-open").click();
  await expectSuccessfulRestore(page, await confirmRestore(page));
  expect(state()).toEqual(DUMPED);

  // The safety backup: linked from the result, listed in the history as kind "safety".
  const link = page.getByTestId("safety-backup-link");
  const href = (await link.getAttribute("href")) ?? "";
  expect(href).toMatch(/^\/backups\/\d+$/);
  const safetyId = href.split("/").pop()!;
  const history = await page.context().newPage();
  await history.goto(lb.base + "/backups");
  const row = history.locator(`[data-testid="backup-row"][data-backup-id="${safetyId}"]`);
  await expect(row).toContainText("safety");
  await expect(row.getByTestId("backup-status-pill")).toHaveText("succeeded");
  await expect(row.getByTestId("restore-backup")).toHaveAttribute("href", `/restore?backup=${safetyId}`);
  await history.close();

  // Roll back to the state before the restore.
  await page.getByTestId("rollback").click();
  await expect(page.getByTestId("restore-dialog")).toContainText(`safety backup #${safetyId}`);
  await expectSuccessfulRestore(page, await confirmRestore(page));
  expect(state()).toEqual(CHANGED);

  // "Restore this backup" from the history opens the same page with that backup.
  await page.getByRole("link", { name: "Backups", exact: true }).click();
  await page.locator(`[data-testid="backup-row"][data-backup-id="${safetyId}"]`).getByTestId("restore-backup").click();
  await expect(page).toHaveURL(new RegExp(`/restore\\?backup=${safetyId}$`));
  await expect(page.getByTestId("backup-source")).toContainText(`Backup #${safetyId}`);
  await page.getByTestId("restore-open").click();
  await expect(page.getByTestId("restore-dialog")).toBeVisible();
  await page.getByTestId("restore-cancel").click();
  await expect(page.getByTestId("restore-dialog")).toBeHidden();
});
