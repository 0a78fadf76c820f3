// The other restore strategies as an administrator meets them: a restore as a copy into a
// new database (the live one untouched), a restore chosen in place, and a target whose role
// may not create databases, where Lifeboat says it restores in place and why.
import { test, expect, Page } from "@playwright/test";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { dropFile, freshDatabase, pgBin, psql, startLifeboat, Lifeboat } from "./lifeboat";

const PASSWORD = "a long enough passphrase";
const DB = "e2e_strat";
const NOCREATE = "e2e_strat_nc";
const COPY = "e2e_strat_copy";
let admin: string;
let url: string;
let ncUrl: string;
let work: string;
let dumpPath: string;
const started: Lifeboat[] = [];

test.beforeAll(async () => {
  admin = process.env.LIFEBOAT_TEST_PG_URL!;
  psql(admin, `DROP DATABASE IF EXISTS ${COPY}`);
  url = freshDatabase(DB);
  psql(url, "CREATE TABLE marker (id int PRIMARY KEY); INSERT INTO marker VALUES (1); CREATE TABLE items AS SELECT g AS id FROM generate_series(1, 500) g;");
  work = mkdtempSync(join(tmpdir(), "lifeboat-e2e-strat-"));
  dumpPath = join(work, `${DB}.dump`);
  execFileSync(pgBin("pg_dump"), ["-Fc", "--no-owner", "--no-acl", "-f", dumpPath, url]);
  psql(url, "INSERT INTO marker VALUES (2)");
  // A database owned by a role without CREATEDB (as on managed services).
  ncUrl = freshDatabase(NOCREATE, "e2e_strat_owner", "owner-password");
  psql(ncUrl, "CREATE TABLE marker (id int PRIMARY KEY); INSERT INTO marker VALUES (7);");
});

test.afterAll(async () => {
  for (const lb of started) await lb.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

async function signedIn(page: Page, target: string): Promise<Lifeboat> {
  const lb = await startLifeboat({ LIFEBOAT_TARGET_URL: target, LIFEBOAT_ADMIN_PASSWORD: PASSWORD });
  started.push(lb);
  await page.goto(lb.base + "/login");
  await page.getByLabel("Username").fill("admin");
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByTestId("current-user")).toHaveText("admin");
  await page.getByRole("link", { name: "Restore", exact: true }).click();
  await expect(page.getByTestId("drop-zone")).toHaveAttribute("data-ready", "true");
  await dropFile(page, `${DB}.dump`, readFileSync(dumpPath));
  await expect(page.getByTestId("upload-summary")).toBeVisible({ timeout: 60_000 });
  await page.getByTestId("upload-summary").getByTestId("restore-open").click();
  return lb;
}

/** Confirms the open dialog by typing `name`; returns the server's answer to the start. */
async function confirmWith(page: Page, name: string) {
  const dialog = page.getByTestId("restore-dialog");
  await dialog.getByTestId("confirm-name").fill(name);
  const answer = page.waitForResponse(
    (r) => r.request().method() === "POST" && new URL(r.url()).pathname === "/api/v1/restores",
  );
  await dialog.getByTestId("restore-confirm").click();
  const resp = await answer;
  expect(resp.status(), await resp.text()).toBe(202);
  const body = await resp.json();
  const result = page.locator(`[data-testid="restore-result"][data-restore-id="${body.restore_id}"]`);
  await expect(result).toBeVisible({ timeout: 90_000 });
  expect(await result.getAttribute("data-outcome"), await page.getByTestId("restore-message").textContent()).toBe(
    "succeeded",
  );
  return body;
}

test("restore as a copy: a new database with the archive, the live one untouched", async ({ page }) => {
  await signedIn(page, url);
  const dialog = page.getByTestId("restore-dialog");
  await dialog.getByTestId("strategy-copy").check();
  await expect(dialog.getByTestId("copy-text")).toBeVisible();
  await dialog.getByTestId("copy-database").fill(COPY);
  // The live database's name does not confirm a copy: the new one's does.
  await dialog.getByTestId("confirm-name").fill(DB);
  await expect(dialog.getByTestId("restore-confirm")).toBeDisabled();
  await expect(dialog.getByTestId("restore-confirm")).toHaveText("Restore as a copy");
  const body = await confirmWith(page, COPY);
  expect(body.strategy).toBe("copy");
  await expect(page.getByTestId("result-strategy")).toContainText(/copy/i);
  await expect(page.getByTestId("result-copy-database")).toHaveText(COPY);
  await expect(page.getByTestId("proof-summary")).toHaveText("2 tables checked, all row counts equal");
  expect(psql(url, "SELECT string_agg(id::text, ',' ORDER BY id) FROM marker")).toBe("1,2");
  expect(psql(admin.replace(/\/[^/]*$/, `/${COPY}`), "SELECT string_agg(id::text, ',' ORDER BY id) FROM marker")).toBe("1");
});

test("restore in place when chosen: no database kept aside", async ({ page }) => {
  await signedIn(page, url);
  const dialog = page.getByTestId("restore-dialog");
  await dialog.getByTestId("strategy-in_place").check();
  const body = await confirmWith(page, DB);
  expect(body.strategy).toBe("in_place");
  await expect(page.getByTestId("result-strategy")).toContainText(/in place/i);
  await expect(page.getByTestId("result-kept-database")).toHaveCount(0);
  expect(psql(url, "SELECT string_agg(id::text, ',' ORDER BY id) FROM marker")).toBe("1");
  await expect(page.getByTestId("kept-empty")).toBeVisible();
});

test("a role without CREATEDB: the dialog and the result say in place, and why", async ({ page }) => {
  await signedIn(page, ncUrl);
  const dialog = page.getByTestId("restore-dialog");
  await expect(dialog.getByTestId("strategy-plan")).toContainText("Here Lifeboat would restore by in place");
  await expect(dialog.getByTestId("strategy-plan")).toContainText("CREATEDB");
  // The archive's objects belong to another role: restored as this one's, as on a managed
  // service.
  await dialog.locator("summary", { hasText: "Advanced options" }).click();
  await dialog.getByTestId("option-no-owner").check();
  await dialog.getByTestId("option-no-acl").check();
  const body = await confirmWith(page, NOCREATE);
  expect(body.strategy).toBe("in_place");
  expect(body.strategy_reason).toContain("CREATEDB");
  await expect(page.getByTestId("result-strategy")).toContainText("CREATEDB");
  expect(psql(ncUrl, "SELECT string_agg(id::text, ',' ORDER BY id) FROM marker")).toBe("1");
});
