// Automatic backups as an administrator sets them up: the Settings page (what is and is not
// configured, a schedule the server refuses and why), a test alert that reaches a local
// webhook receiver, pinning a backup and the server's refusals to delete, a retention dry
// run, then a schedule of every minute: the scheduler's backup is followed in the panel,
// appears in the history and in the status strip, and retention then marks the older
// backups deleted.
import { test, expect, Page } from "@playwright/test";
import { createServer, Server } from "node:http";
import { AddressInfo } from "node:net";
import { psql, startLifeboat, Lifeboat } from "./lifeboat";

let lb: Lifeboat;
let receiver: Server;
const received: any[] = [];
const DB = "e2e_settings";
const PASSWORD = "a long enough passphrase";

test.beforeAll(async () => {
  // A local webhook receiver: every JSON body Lifeboat posts is kept.
  receiver = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      try {
        received.push({ path: req.url, headers: req.headers, json: JSON.parse(body) });
      } catch {
        received.push({ path: req.url, headers: req.headers, raw: body });
      }
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
  const port = (receiver.address() as AddressInfo).port;

  // Big enough for a backup to take a few seconds (the panel shows it while it runs).
  const admin = process.env.LIFEBOAT_TEST_PG_URL!;
  psql(admin, `DROP DATABASE IF EXISTS ${DB}`);
  psql(admin, `CREATE DATABASE ${DB}`);
  const url = admin.replace(/\/[^/]*$/, `/${DB}`);
  psql(
    url,
    "CREATE TABLE big AS SELECT g AS id, md5(g::text) || md5((g*7)::text) AS a, md5((g*13)::text) AS b FROM generate_series(1, 800000) g;",
  );
  lb = await startLifeboat({
    LIFEBOAT_TARGET_URL: url,
    LIFEBOAT_ADMIN_PASSWORD: PASSWORD,
    LIFEBOAT_SCHEDULE: "off",
    // Not on purpose: the status strip warns and an alert went out at start-up.
    LIFEBOAT_SCHEDULE_OFF_OK: "false",
    LIFEBOAT_RETENTION_KEEP: "1",
    LIFEBOAT_CONFIRM_BACKUP: "false",
    LIFEBOAT_ALERT_WEBHOOK_URL: `http://127.0.0.1:${port}/hook`,
  });
});

test.afterAll(async () => {
  await lb?.stop();
  await new Promise((r) => receiver?.close(r));
});

async function signIn(page: Page) {
  await page.goto(lb.base + "/login");
  await page.getByLabel("Username").fill("admin");
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByTestId("current-user")).toHaveText("admin");
}

/** The history rows whose status pill says `status`. */
function rowsWithStatus(page: Page, status: string) {
  return page.getByTestId("backup-row").filter({
    has: page.getByTestId("backup-status-pill").filter({ hasText: new RegExp(`^${status}$`) }),
  });
}

function row(page: Page, id: string) {
  return page.locator(`[data-testid="backup-row"][data-backup-id="${id}"]`);
}

/** "Back up now" (no confirmation here) and wait for the `n`th successful backup. */
async function backUpNow(page: Page, n: number) {
  await page.getByTestId("backup-now").click();
  await expect(rowsWithStatus(page, "succeeded")).toHaveCount(n, { timeout: 90_000 });
}

test("settings, test alert, pin, retention dry run, a scheduled backup followed live", async ({ page }) => {
  test.setTimeout(420_000);
  await signIn(page);

  // --- The Settings page: what is configured, what is not ---------------------------------
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Settings" }).click();
  await expect(page).toHaveURL(/\/settings$/);
  await expect(page.getByTestId("schedule-current")).toContainText("Off");
  await expect(page.getByTestId("schedule-next-run")).toHaveText("—");
  await expect(page.getByTestId("retention-keep")).toContainText("the last 1 successful backup");
  await expect(page.getByTestId("offsite-settings")).toContainText("Not configured");
  for (const v of ["LIFEBOAT_S3_BUCKET", "LIFEBOAT_S3_ACCESS_KEY_ID", "LIFEBOAT_OFFSITE_KEEP"]) {
    await expect(page.getByTestId("offsite-settings")).toContainText(v);
  }
  await expect(page.getByTestId("alert-channels")).toContainText("webhook");
  await expect(page.getByTestId("unknown-files")).toContainText("never deletes");

  // A schedule the server refuses, with its reason; nothing changes.
  await page.getByTestId("schedule-expression").fill("61 * * * *");
  await page.getByTestId("schedule-save").click();
  await expect(page.getByTestId("schedule-error")).toContainText("61 * * * *");
  await page.getByTestId("schedule-expression").fill("0 2 * * *");
  await page.getByTestId("schedule-zone").fill("Mars/Olympus_Mons");
  await page.getByTestId("schedule-save").click();
  await expect(page.getByTestId("schedule-error")).toContainText("time zone");
  await expect(page.getByTestId("schedule-current")).toContainText("Off");

  // --- A test alert reaches the local receiver --------------------------------------------
  await page.getByTestId("send-test-alert").click();
  const result = page.getByTestId("test-alert-result");
  await expect(result).toHaveCount(1);
  await expect(result).toContainText("delivered");
  await expect(result).toHaveAttribute("data-ok", "true");
  await expect.poll(() => received.length, { timeout: 15_000 }).toBeGreaterThanOrEqual(1);
  const hook = received.find((r) => r.json?.event === "test");
  expect(hook, JSON.stringify(received)).toBeTruthy();
  expect(hook.path).toBe("/hook");
  expect(hook.json.title).toBe("Test alert");
  expect(hook.json.source).toBe("lifeboat");
  expect(hook.json.database).toBe(DB);

  // --- Three backups; the status strip follows ---------------------------------------------
  await page.getByRole("link", { name: "Backups", exact: true }).click();
  await expect(page.getByTestId("backup-history")).toBeVisible();
  await expect(page.getByTestId("next-run")).toContainText("Off");
  await expect(page.getByTestId("next-run")).toHaveAttribute("data-warning", "schedule-off");
  expect(received.find((r) => r.json?.event === "schedule_off"), JSON.stringify(received)).toBeTruthy();
  await expect(page.getByTestId("offsite")).toContainText("Not configured");
  await expect(page.getByTestId("last-alert")).toContainText("Test alert");
  for (let n = 1; n <= 3; n++) await backUpNow(page, n);
  const ids = await rowsWithStatus(page, "succeeded").evaluateAll((rows) =>
    rows.map((r) => r.getAttribute("data-backup-id")!),
  );
  const [newest, middle, oldest] = ids;
  await expect(page.getByTestId("backup-last-success")).toHaveAttribute("data-backup-id", newest);
  await expect(page.getByTestId("backup-last-success")).toHaveAttribute("data-stale", "false");
  // No offsite storage: the history says so with a dash.
  await expect(row(page, newest).getByTestId("backup-offsite")).toHaveText("—");

  // --- Pin the oldest on its page; the history shows it pinned ---------------------------
  await row(page, oldest).getByTestId("backup-details").click();
  await expect(page.getByTestId("backup-detail")).toBeVisible();
  await expect(page.getByTestId("detail-pinned")).toHaveText("no");
  await expect(page.getByTestId("pin-toggle")).toHaveText("Pin");
  await page.getByTestId("pin-toggle").click();
  await expect(page.getByTestId("detail-pinned")).toHaveText("yes");
  await expect(page.getByTestId("pin-toggle")).toHaveText("Unpin");
  await expect(page.getByTestId("backup-notice")).toContainText("pinned");
  await expect(page.getByTestId("detail-offsite")).toContainText("—");

  // A pinned backup cannot be deleted: the server's reason is shown in the dialog.
  await page.getByTestId("delete-backup").click();
  await expect(page.getByTestId("delete-dialog")).toBeVisible();
  await page.getByTestId("delete-confirm").click();
  await expect(page.getByTestId("delete-error")).toContainText("pinned");
  await page.getByTestId("delete-cancel").click();
  await expect(page.getByTestId("delete-dialog")).toBeHidden();

  // Nor the newest successful backup.
  await page.goto(lb.base + `/backups/${newest}`);
  await page.getByTestId("delete-backup").click();
  await page.getByTestId("delete-confirm").click();
  await expect(page.getByTestId("delete-error")).toContainText("newest successful backup");
  await page.keyboard.press("Escape");
  await expect(page.getByTestId("delete-dialog")).toBeHidden();
  await expect(page.getByTestId("detail-status")).toHaveText("succeeded");

  await page.getByRole("link", { name: "Backups", exact: true }).click();
  await expect(row(page, oldest).getByTestId("backup-pinned")).toBeVisible();
  await expect(row(page, oldest)).toHaveAttribute("data-pinned", "true");
  await expect(row(page, middle).getByTestId("backup-pinned")).toHaveCount(0);

  // --- Retention dry run: the middle one would go; never the pinned or the newest -------
  await page.getByRole("link", { name: "Settings" }).click();
  await page.getByTestId("retention-dry-run").click();
  const plan = page.getByTestId("retention-plan");
  await expect(plan).toBeVisible();
  const planned = plan.getByTestId("retention-plan-row");
  await expect(planned).toHaveCount(1);
  await expect(planned.first()).toHaveAttribute("data-backup-id", middle);
  await expect(planned.first().getByTestId("retention-plan-reason")).not.toBeEmpty();
  await expect(plan.locator(`[data-backup-id="${oldest}"]`)).toHaveCount(0);
  await expect(plan.locator(`[data-backup-id="${newest}"]`)).toHaveCount(0);
  // A dry run deletes nothing.
  await page.getByRole("link", { name: "Backups", exact: true }).click();
  await expect(rowsWithStatus(page, "succeeded")).toHaveCount(3);

  // --- Every minute, in UTC ------------------------------------------------------------------
  await page.getByRole("link", { name: "Settings" }).click();
  await page.getByTestId("schedule-expression").fill("* * * * *");
  await page.getByTestId("schedule-zone").fill("UTC");
  await page.getByTestId("schedule-save").click();
  await expect(page.getByTestId("schedule-saved")).toBeVisible();
  await expect(page.getByTestId("schedule-error")).toHaveCount(0);
  await expect(page.getByTestId("schedule-current")).toContainText("* * * * *");
  await expect(page.getByTestId("schedule-zone-current")).toHaveText("UTC");
  await expect(page.getByTestId("schedule-source")).toContainText("This page");
  const nextRun = page.getByTestId("schedule-next-run");
  await expect(nextRun).toContainText(/:00 UTC \((in \d+ (s|min)|now)\)/);

  // The Backups page says when it runs, then the panel follows the scheduler's backup.
  await page.getByRole("link", { name: "Backups", exact: true }).click();
  await expect(page.getByTestId("next-run")).toContainText(/in \d+ (s|min)|now/);
  const panel = page.getByTestId("job-panel");
  await expect(panel).toBeVisible({ timeout: 80_000 });
  // Looked at as the slot begins: the backup is followed while it runs.
  await expect(page.getByTestId("job-status")).toHaveText("running");
  await expect(panel).toContainText(`Backing up ${DB}`);
  await expect(page.getByTestId("job-percent")).toBeVisible();
  await expect(page.getByTestId("job-status")).toHaveText("succeeded", { timeout: 90_000 });
  const scheduled = page.locator('[data-testid="backup-row"][data-kind="scheduled"]').filter({
    has: page.getByTestId("backup-status-pill").filter({ hasText: /^succeeded$/ }),
  });
  await expect(scheduled.first()).toBeVisible({ timeout: 15_000 });
  const scheduledId = (await scheduled.last().getAttribute("data-backup-id"))!;
  await expect(scheduled.last().getByTestId("backup-kind")).toContainText("scheduled");
  await expect(page.getByTestId("job-details")).toHaveAttribute("href", `/backups/${scheduledId}`);
  await expect(scheduled.last()).toContainText("scheduler");
  // The strip's last success is the scheduled backup.
  await expect(page.getByTestId("backup-last-success")).toHaveAttribute("data-backup-id", scheduledId);
  await expect(page.getByTestId("backup-last-success")).toHaveAttribute("data-stale", "false");

  // Retention ran after it (keep 1): the middle backup is deleted and shown muted, the
  // pinned one stays.
  await expect(row(page, middle).getByTestId("backup-status-pill")).toHaveText("deleted", { timeout: 30_000 });
  await expect(row(page, middle)).toHaveClass(/row-deleted/);
  await expect(row(page, oldest).getByTestId("backup-status-pill")).toHaveText("succeeded");

  // --- Off again; the audit log has the changes ---------------------------------------------
  await page.getByRole("link", { name: "Settings" }).click();
  await page.getByTestId("schedule-off").click();
  await expect(page.getByTestId("schedule-current")).toContainText("Off");
  await expect(page.getByTestId("schedule-next-run")).toHaveText("—");
  await page.getByRole("link", { name: "Audit log" }).click();
  const audit = page.getByTestId("audit-table");
  await expect(audit.locator("tbody tr").filter({ hasText: "settings.changed" }).first()).toBeVisible();
  await expect(audit.locator("tbody tr").filter({ hasText: "backup.pin" })).toHaveCount(1);
});
