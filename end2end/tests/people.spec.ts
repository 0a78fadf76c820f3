// People and roles as an administrator sets them up: the admin invites an operator on the
// People page and passes on the one-time link; the operator chooses a password through
// it, signs in, has no People or Settings (the server refuses them too), backs up, and
// changes the password on "Your account"; the admin then signs the operator out
// everywhere, and the operator's page returns to sign-in.
import { test, expect, Page } from "@playwright/test";
import { psql, startLifeboat, Lifeboat, signIn, mainNav } from "./lifeboat";

let lb: Lifeboat;
const DB = "e2e_people";
const ADMIN_PASSWORD = "a long enough passphrase";
const OPERATOR_PASSWORD = "the operator's first passphrase";
const OPERATOR_NEW_PASSWORD = "the operator's second passphrase";

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

test("an admin invites an operator, who backs up and changes the password, then is signed out", async ({
  browser,
}) => {
  test.setTimeout(180_000);
  const adminContext = await browser.newContext();
  const admin = await adminContext.newPage();
  await signIn(admin, lb, "admin", ADMIN_PASSWORD);

  // --- The admin adds a person and gets a one-time link ----------------------------------
  await mainNav(admin).getByRole("link", { name: "People" }).click();
  await expect(admin).toHaveURL(/\/people$/);
  await expect(admin.getByTestId("person-admin")).toBeVisible();
  const form = admin.getByTestId("invite-form");
  await form.getByLabel("Username").fill("olivia");
  await form.getByLabel("Role").selectOption("operator");
  await form.getByRole("button", { name: "Add person" }).click();
  const link = admin.getByTestId("invitation-link");
  await expect(link).toHaveValue(/\/invite#token=/);
  const url = await link.inputValue();
  await expect(admin.getByTestId("person-olivia")).toContainText("Invited");

  // --- The operator uses the link, then signs in ----------------------------------------
  const operatorContext = await browser.newContext();
  const operator = await operatorContext.newPage();
  await operator.goto(url.replace(/^https?:\/\/[^/]+/, lb.base));
  await expect(operator.getByTestId("invite-for")).toContainText("olivia");
  await operator.getByLabel("Password", { exact: true }).fill(OPERATOR_PASSWORD);
  await operator.getByLabel("Repeat the password").fill(OPERATOR_PASSWORD);
  await operator.getByRole("button", { name: "Set password" }).click();
  await expect(operator.getByTestId("invite-done")).toBeVisible();
  // The link works once (from another page: the same address would only change the hash).
  await operator.goto(`${lb.base}/login`);
  await operator.goto(url.replace(/^https?:\/\/[^/]+/, lb.base));
  await expect(operator.getByRole("alert")).toContainText("already been used");

  await signIn(operator, lb, "olivia", OPERATOR_PASSWORD);
  await expect(admin.getByTestId("person-olivia")).toBeVisible();

  // --- No People, no Settings --------------------------------------------------------------
  await expect(mainNav(operator).getByRole("link", { name: "People" })).toHaveCount(0);
  await expect(mainNav(operator).getByRole("link", { name: "Settings" })).toHaveCount(0);
  await operator.goto(lb.base + "/people");
  await expect(operator.getByRole("alert")).toContainText("Administrator role");
  await operator.goto(lb.base + "/settings");
  await expect(operator.getByRole("alert").first()).toContainText("Administrator role");

  // --- The operator backs up ---------------------------------------------------------------
  await operator.goto(lb.base + "/backups");
  await operator.getByTestId("backup-now").click();
  await expect(
    operator.getByTestId("backup-row").filter({
      has: operator.getByTestId("backup-status-pill").filter({ hasText: /^succeeded$/ }),
    }),
  ).toHaveCount(1, { timeout: 90_000 });

  // --- …and changes the password -----------------------------------------------------------
  await mainNav(operator).getByRole("link", { name: "Your account" }).click();
  await expect(operator).toHaveURL(/\/account$/);
  await expect(operator.getByTestId("sessions-table")).toContainText("(this session)");
  const pw = operator.getByTestId("password-form");
  await pw.getByLabel("Current password").fill(OPERATOR_PASSWORD);
  await pw.getByLabel("New password", { exact: true }).fill(OPERATOR_NEW_PASSWORD);
  await pw.getByLabel("Repeat the new password").fill(OPERATOR_NEW_PASSWORD);
  await pw.getByRole("button", { name: "Change password" }).click();
  await expect(operator.getByTestId("account-message")).toContainText("Your password is changed");

  // --- The admin signs the operator out everywhere -----------------------------------------
  await admin.reload();
  const row = admin.getByTestId("person-olivia");
  await expect(row).toContainText("Active");
  await row.getByRole("button", { name: "Sign out everywhere" }).click();
  await expect(admin.getByText("olivia is signed out everywhere.")).toBeVisible();
  await expect(admin.getByTestId("person-olivia").locator("td").nth(3)).toHaveText("0");

  // The operator's next step lands on the sign-in page, remembering where it was.
  await operator.reload();
  await expect(operator).toHaveURL(/\/login\?next=%2Faccount/);
  await signIn(operator, lb, "olivia", OPERATOR_NEW_PASSWORD);

  // Everything above is in the audit log, filtered by who acted.
  await admin.goto(lb.base + "/audit?actor=olivia");
  await expect(admin.getByTestId("audit-table")).toContainText("auth.password_changed");
  await expect(admin.getByTestId("audit-table")).not.toContainText("user.created");

  await adminContext.close();
  await operatorContext.close();
});
