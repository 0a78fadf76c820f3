// What each role sees: the pages offer a control only to the roles the server lets
// through. The admin adds a viewer and an operator (through the API, each with a one-time
// link used at once) and takes a backup; the viewer sees it listed, with Download, Restore
// and Back up now disabled and saying why, and /restore says which role it needs; the
// operator downloads it, and has no Settings.
import { test, expect, Page, APIRequestContext } from "@playwright/test";
import { psql, startLifeboat, Lifeboat, signIn, mainNav } from "./lifeboat";

let lb: Lifeboat;
const DB = "e2e_roles";
const ADMIN_PASSWORD = "a long enough passphrase";
const VIEWER_PASSWORD = "the viewer's long passphrase";
const OPERATOR_PASSWORD = "the operator's long passphrase";

test.beforeAll(async () => {
  const admin = process.env.LIFEBOAT_TEST_PG_URL!;
  psql(admin, `DROP DATABASE IF EXISTS ${DB}`);
  psql(admin, `CREATE DATABASE ${DB}`);
  const url = admin.replace(/\/[^/]*$/, `/${DB}`);
  psql(url, "CREATE TABLE t AS SELECT g AS id FROM generate_series(1, 1000) g;");
  lb = await startLifeboat({
    LIFEBOAT_TARGET_URL: url,
    LIFEBOAT_ADMIN_PASSWORD: ADMIN_PASSWORD,
    LIFEBOAT_CONFIRM_BACKUP: "false",
  });
});

test.afterAll(async () => {
  await lb?.stop();
});

const CHANGE = { "X-Requested-With": "lifeboat" };

/** Adds `username` with `role` as the signed-in admin of `api`, and sets its password
 * through the one-time link the server answers with. */
async function addPerson(api: APIRequestContext, username: string, role: string, password: string) {
  const added = await api.post(lb.base + "/api/v1/users", {
    headers: CHANGE,
    data: { username, role },
  });
  expect(added.status(), await added.text()).toBe(201);
  const url: string = (await added.json()).invitation.url;
  const token = url.split("#token=")[1];
  expect(token, url).toBeTruthy();
  const accepted = await api.post(lb.base + "/api/v1/invitations/accept", {
    headers: CHANGE,
    data: { token, password },
  });
  expect(accepted.ok(), await accepted.text()).toBeTruthy();
}

test("a viewer sees backups but cannot download, restore or back up; an operator can download", async ({
  browser,
}) => {
  test.setTimeout(180_000);

  // --- The admin adds a viewer and an operator, and takes a backup -----------------------
  const adminContext = await browser.newContext();
  const admin = await adminContext.newPage();
  await signIn(admin, lb, "admin", ADMIN_PASSWORD);
  await addPerson(admin.request, "vera", "viewer", VIEWER_PASSWORD);
  await addPerson(admin.request, "otto", "operator", OPERATOR_PASSWORD);
  await admin.goto(lb.base + "/backups");
  await admin.getByTestId("backup-now").click();
  const done = (page: Page) =>
    page.getByTestId("backup-row").filter({
      has: page.getByTestId("backup-status-pill").filter({ hasText: /^succeeded$/ }),
    });
  await expect(done(admin)).toHaveCount(1, { timeout: 90_000 });
  await expect(done(admin).getByTestId("backup-download")).toHaveAttribute("href", /\/download$/);
  await adminContext.close();

  // --- The viewer: the backup is listed, nothing that changes it or reads its file --------
  const viewerContext = await browser.newContext();
  const viewer = await viewerContext.newPage();
  await signIn(viewer, lb, "vera", VIEWER_PASSWORD);
  await expect(mainNav(viewer).getByRole("link", { name: "Restore", exact: true })).toHaveCount(0);
  await expect(mainNav(viewer).getByRole("link", { name: "Settings" })).toHaveCount(0);
  await expect(mainNav(viewer).getByRole("link", { name: "People" })).toHaveCount(0);

  const backUp = viewer.getByTestId("backup-now");
  await expect(backUp).toBeDisabled();
  await expect(backUp).toHaveAttribute("aria-disabled", "true");
  await expect(backUp).toHaveAttribute("title", "Backing up needs the Operator role; you are a viewer.");

  await viewer.goto(lb.base + "/backups");
  const row = done(viewer);
  await expect(row).toHaveCount(1);
  await expect(viewer.getByTestId("viewer-note")).toHaveText(
    "Viewers can see backups but not download or change them.",
  );
  const download = row.getByTestId("backup-download");
  await expect(download).toBeDisabled();
  await expect(download).not.toHaveAttribute("href", /.*/);
  await expect(download).toHaveAttribute("title", "Downloading needs the Operator role; you are a viewer.");
  const restore = row.getByTestId("restore-backup");
  await expect(restore).toBeDisabled();
  await expect(restore).toHaveAttribute("title", "Restoring needs the Operator role; you are a viewer.");

  // The detail page: the same, and the controls that change the backup say why too.
  await row.getByTestId("backup-details").click();
  await expect(viewer.getByTestId("backup-detail")).toBeVisible();
  await expect(viewer.getByTestId("viewer-note")).toBeVisible();
  await expect(viewer.getByTestId("backup-download")).toBeDisabled();
  await expect(viewer.getByTestId("backup-metadata")).toBeDisabled();
  await expect(viewer.getByTestId("pin-toggle")).toBeDisabled();
  await expect(viewer.getByTestId("pin-toggle")).toHaveAttribute(
    "title",
    "Pinning a backup needs the Operator role; you are a viewer.",
  );
  await expect(viewer.getByTestId("delete-backup")).toBeDisabled();
  await expect(viewer.getByTestId("delete-backup")).toHaveAttribute(
    "title",
    "Deleting a backup needs the Administrator role; you are a viewer.",
  );
  await expect(viewer.getByTestId("test-restore")).toBeDisabled();

  // /restore by its address: which role it needs, not a form the server would refuse.
  await viewer.goto(lb.base + "/restore");
  const needed = viewer.getByTestId("role-needed");
  await expect(needed).toBeVisible();
  await expect(needed).toHaveAttribute("role", "alert");
  await expect(viewer.getByTestId("role-needed-reason")).toHaveText(
    "Restoring needs the Operator role; you are a viewer.",
  );
  await expect(viewer.getByTestId("drop-zone")).toHaveCount(0);
  await viewerContext.close();

  // --- The operator: downloads, no Settings, no delete ---------------------------------------
  const operatorContext = await browser.newContext();
  const operator = await operatorContext.newPage();
  await signIn(operator, lb, "otto", OPERATOR_PASSWORD);
  await expect(mainNav(operator).getByRole("link", { name: "Settings" })).toHaveCount(0);
  await expect(mainNav(operator).getByRole("link", { name: "Restore", exact: true })).toBeVisible();
  await expect(operator.getByTestId("backup-now")).toBeEnabled();
  await operator.goto(lb.base + "/backups");
  await expect(operator.getByTestId("viewer-note")).toHaveCount(0);
  const opRow = done(operator);
  await expect(opRow).toHaveCount(1);
  const opDownload = opRow.getByTestId("backup-download");
  await expect(opDownload).toHaveAttribute("href", /\/download$/);
  const [file] = await Promise.all([operator.waitForEvent("download"), opDownload.click()]);
  expect(file.suggestedFilename()).toMatch(/\.dump$/);
  await expect(opRow.getByTestId("restore-backup")).toHaveAttribute("href", /\/restore\?backup=\d+$/);

  await opRow.getByTestId("backup-details").click();
  await expect(operator.getByTestId("pin-toggle")).toBeEnabled();
  await expect(operator.getByTestId("delete-backup")).toBeDisabled();
  await expect(operator.getByTestId("delete-backup")).toHaveAttribute(
    "title",
    "Deleting a backup needs the Administrator role; you are an operator.",
  );

  await operator.goto(lb.base + "/settings");
  await expect(operator.getByTestId("role-needed-reason")).toHaveText(
    "Settings need the Administrator role; you are an operator.",
  );
  await operatorContext.close();
});
