// First run as a new administrator would do it: open the setup link Lifeboat printed,
// create the account, sign in, find the login in the audit log, sign out.
import { test, expect } from "@playwright/test";
import { startLifeboat, Lifeboat } from "./lifeboat";

let lb: Lifeboat;

test.beforeAll(async () => {
  lb = await startLifeboat();
});

test.afterAll(async () => {
  await lb?.stop();
});

const PASSWORD = "a long enough passphrase";

test("setup link → sign in → audit shows the login → sign out", async ({ page }) => {
  expect(lb.setupUrl, "Lifeboat prints a one-time setup link on first run").toBeTruthy();

  // Before setup, the login page says how to get in.
  await page.goto(lb.base + "/login");
  await expect(page.getByTestId("setup-needed")).toBeVisible();

  await page.goto(lb.setupUrl!);
  await expect(page.getByRole("heading", { name: "Create the first administrator" })).toBeVisible();
  await page.getByLabel("Username").fill("admin");
  await page.getByLabel("Password", { exact: true }).fill("too short");
  await page.getByLabel("Repeat the password").fill("too short");
  await page.getByRole("button", { name: "Create administrator" }).click();
  await expect(page.getByRole("alert")).toContainText("at least 12 characters");

  await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
  await page.getByLabel("Repeat the password").fill(PASSWORD);
  await page.getByRole("button", { name: "Create administrator" }).click();
  await expect(page.getByTestId("setup-done")).toBeVisible();

  // The link is used up. (Going to the same address with a fragment would only scroll
  // the page that is open; leave it first so that the setup page loads afresh.)
  await page.goto(lb.base + "/login");
  await page.goto(lb.setupUrl!);
  await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
  await page.getByLabel("Repeat the password").fill(PASSWORD);
  await page.getByRole("button", { name: "Create administrator" }).click();
  await expect(page.getByRole("alert")).toContainText("Setup is already done");

  // A wrong password first: the page says so without saying which part was wrong.
  await page.goto(lb.base + "/login");
  await page.getByLabel("Username").fill("admin");
  await page.getByLabel("Password").fill("not the password");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("alert")).toHaveText("Wrong username or password.");

  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByTestId("current-user")).toHaveText("admin");
  await expect(page.getByTestId("ready-summary")).toContainText("Ready");

  await page.getByRole("link", { name: "Audit log" }).click();
  await expect(page).toHaveURL(/\/audit$/);
  const table = page.getByTestId("audit-table");
  const loginRow = table.locator("tbody tr").filter({ hasText: "auth.login" }).filter({ hasText: "success" });
  await expect(loginRow.first()).toBeVisible();
  await expect(loginRow.first()).toContainText("admin");
  await expect(table.locator("tbody tr").filter({ hasText: "setup.completed" })).toHaveCount(1);

  // Filter to failures: only the wrong-password attempt remains.
  await page.getByLabel("Outcome").selectOption("failure");
  await expect(page).toHaveURL(/outcome=failure/);
  await expect(table.locator("tbody tr")).toHaveCount(1);
  await expect(table.locator("tbody tr").first()).toContainText("wrong username or password");

  await page.getByRole("button", { name: "Log out" }).click();
  await expect(page).toHaveURL(/\/login$/);

  // Signed out: the audit page sends the browser back to the login page.
  await page.goto(lb.base + "/audit");
  await expect(page).toHaveURL(/\/login\?next=%2Faudit/);
});

test("the layout works on a narrow window", async ({ page }) => {
  await page.setViewportSize({ width: 420, height: 800 });
  await page.goto(lb.base + "/login");
  await page.getByLabel("Username").fill("admin");
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByTestId("current-user")).toBeVisible();
  const nav = page.getByRole("navigation", { name: "Main" });
  await expect(nav).toBeVisible();
  const box = await nav.boundingBox();
  expect(box!.width).toBeLessThanOrEqual(420);
  // Nothing wider than the window: no horizontal scrolling of the page.
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow).toBeLessThanOrEqual(0);
});
