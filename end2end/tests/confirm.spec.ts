// "Confirm it's you": past LIFEBOAT_CONFIRM_PASSWORD_AFTER since the password was last
// given, deleting a backup asks for the password again in a dialog over the delete dialog;
// a wrong password is refused there, Cancel leaves the backup alone, the right password
// lets the delete go through without clicking Delete again.
import { test, expect, Page } from "@playwright/test";
import { freshDatabase, psql, startLifeboat, Lifeboat } from "./lifeboat";

let lb: Lifeboat;
const PASSWORD = "a long enough passphrase";

test.beforeAll(async () => {
  const url = freshDatabase("e2e_confirm");
  psql(url, "CREATE TABLE t AS SELECT g AS id FROM generate_series(1, 1000) g;");
  lb = await startLifeboat({
    LIFEBOAT_TARGET_URL: url,
    LIFEBOAT_ADMIN_PASSWORD: PASSWORD,
    LIFEBOAT_CONFIRM_BACKUP: "false",
    LIFEBOAT_CONFIRM_PASSWORD_AFTER: "3s",
  });
});

test.afterAll(async () => {
  await lb?.stop();
});

async function signIn(page: Page) {
  await page.goto(lb.base + "/login");
  await page.getByLabel("Username").fill("admin");
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByTestId("current-user")).toHaveText("admin");
}

test("deleting a backup asks for the password again once the window has passed", async ({ page }) => {
  test.setTimeout(120_000);
  await signIn(page);
  await page.goto(lb.base + "/backups");
  const succeeded = page.getByTestId("backup-row").filter({
    has: page.getByTestId("backup-status-pill").filter({ hasText: /^succeeded$/ }),
  });
  for (const n of [1, 2]) {
    await page.getByTestId("backup-now").click();
    await expect(succeeded).toHaveCount(n, { timeout: 60_000 });
    await page.waitForTimeout(1100);
  }
  // The older backup's page (the newest is never deleted).
  await succeeded.last().getByTestId("backup-details").click();
  await expect(page.getByTestId("backup-detail")).toBeVisible();
  await page.waitForTimeout(3500);

  await page.getByTestId("delete-backup").click();
  await page.getByTestId("delete-confirm").click();
  const confirm = page.getByTestId("confirm-its-you");
  await expect(confirm).toBeVisible();
  await expect(confirm).toContainText("password");
  await expect(page.getByTestId("confirm-password")).toBeFocused();

  // Cancel: nothing deleted, the delete dialog says why.
  await confirm.getByRole("button", { name: "Cancel" }).click();
  await expect(confirm).toBeHidden();
  await expect(page.getByTestId("delete-error")).toContainText("Confirm it");
  await expect(page.getByTestId("detail-status")).toContainText("succeeded");

  // Again, a wrong password first, then the right one: the delete goes through.
  await page.getByTestId("delete-confirm").click();
  await expect(confirm).toBeVisible();
  await page.getByTestId("confirm-password").fill("not the password");
  await page.getByTestId("confirm-submit").click();
  await expect(page.getByTestId("confirm-error")).toHaveText("Wrong password.");
  await page.getByTestId("confirm-password").fill(PASSWORD);
  await page.getByTestId("confirm-submit").click();
  await expect(confirm).toBeHidden();
  await expect(page.getByTestId("delete-dialog")).toBeHidden();
  await expect(page.getByTestId("backup-notice")).toContainText("was deleted");

  // The audit log has the confirmations, and the delete says when the password was given.
  await page.goto(lb.base + "/audit");
  const actions = page.locator('td[data-label="Action"]');
  await expect(actions.filter({ hasText: "auth.confirm" })).toHaveCount(2);
  const deleted = page.locator("tr", { has: actions.filter({ hasText: "backup.delete" }) });
  await expect(deleted).toContainText("password_confirmed_at");
});
