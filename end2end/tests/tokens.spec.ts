// API tokens on "Your account", as an administrator uses them for a CI job: make one with
// a role and a scope, see it once (with its Copy button and the `curl` example), use it
// the way a script does (a Bearer header, no cookie), revoke it after a confirmation,
// and the same call is then refused. Also: the Security page's enrolment shows a QR code
// that the browser can draw, and the Account page fits a laptop and a phone.
import { test, expect, Page } from "@playwright/test";
import { startLifeboat, Lifeboat, signIn } from "./lifeboat";

let lb: Lifeboat;
const ADMIN_PASSWORD = "a long enough passphrase";

test.beforeAll(async () => {
  lb = await startLifeboat({ LIFEBOAT_ADMIN_PASSWORD: ADMIN_PASSWORD });
});

test.afterAll(async () => {
  await lb?.stop();
});

/** The page fits its width (no sideways scrolling) in light and dark. */
async function expectFits(page: Page, what: string) {
  for (const colorScheme of ["light", "dark"] as const) {
    await page.emulateMedia({ colorScheme });
    const m = await page.evaluate(() => ({
      scrollWidth: document.documentElement.scrollWidth,
      clientWidth: document.documentElement.clientWidth,
    }));
    expect(m.scrollWidth, `${what}, ${colorScheme}: ${JSON.stringify(m)}`).toBeLessThanOrEqual(m.clientWidth);
  }
  await page.emulateMedia({ colorScheme: "light" });
}

test("a token made on the Account page is shown once, works as a Bearer token, and stops when revoked", async ({
  page,
  request,
}) => {
  await signIn(page, lb, "admin", ADMIN_PASSWORD);
  await page.goto(lb.base + "/account");
  const section = page.getByTestId("api-tokens");
  await expect(section.getByTestId("no-tokens")).toBeVisible();

  // An administrator may give a token any role up to their own.
  const form = section.getByTestId("token-form");
  const roles = await form.getByRole("combobox", { name: /^Role/ }).locator("option").allTextContents();
  expect(roles).toEqual(["Administrator", "Operator", "Viewer"]);
  await form.getByLabel("Name", { exact: true }).fill("nightly CI");
  await form.getByRole("combobox", { name: /^Role/ }).selectOption("operator");
  await form.getByRole("checkbox", { name: /backups:read/ }).check();
  await expect(form.getByLabel("Expires")).toHaveValue("30d");
  await form.getByRole("button", { name: "Create token" }).click();

  // Shown once, with a way to copy it and the call a CI job makes.
  const shown = page.getByTestId("new-token");
  await expect(shown).toContainText("you will not see it again");
  const token = await page.getByTestId("new-token-value").inputValue();
  expect(token).toMatch(/^lbt_/);
  await expect(page.getByTestId("copy-token")).toBeVisible();
  const curl = page.getByTestId("curl-example");
  await expect(curl).toContainText("Authorization: Bearer $LIFEBOAT_TOKEN");
  await expect(curl).toContainText(`${lb.base}/api/v1/backups?wait=true`);
  const row = page.getByTestId("token-nightly CI");
  await expect(row).toContainText("Operator");
  await expect(row).toContainText("backups:read");
  await expect(row).toContainText("Never"); // not used yet

  // The token works the way a script sends it: no cookie, no CSRF header.
  const auth = { Authorization: `Bearer ${token}` };
  const before = await request.get(`${lb.base}/api/v1/backups`, { headers: auth });
  expect(before.status()).toBe(200);

  await page.setViewportSize({ width: 1280, height: 900 });
  await expectFits(page, "account with a new token at 1280 px");
  await page.setViewportSize({ width: 400, height: 900 });
  await expectFits(page, "account with a new token at 400 px");
  await page.setViewportSize({ width: 1280, height: 900 });

  // Once the page is left, the token is not shown again; its row stays.
  await page.reload();
  await expect(page.getByTestId("token-nightly CI")).toBeVisible();
  await expect(page.getByTestId("new-token")).toHaveCount(0);
  expect(await page.content()).not.toContain(token);

  // Revoked after a confirmation (Cancel first changes nothing).
  await page.getByTestId("token-nightly CI").getByRole("button", { name: "Revoke" }).click();
  const dialog = page.getByTestId("revoke-token-dialog");
  await expect(dialog).toContainText("nightly CI");
  await dialog.getByRole("button", { name: "Cancel" }).click();
  await expect(dialog).toHaveCount(0);
  expect((await request.get(`${lb.base}/api/v1/backups`, { headers: auth })).status()).toBe(200);

  await page.getByTestId("token-nightly CI").getByRole("button", { name: "Revoke" }).click();
  await page.getByTestId("revoke-token-dialog").getByRole("button", { name: "Revoke token" }).click();
  await expect(page.getByTestId("revoke-token-dialog")).toHaveCount(0);
  await expect(page.getByTestId("token-nightly CI")).toContainText("Revoked");
  const after = await request.get(`${lb.base}/api/v1/backups`, { headers: auth });
  expect(after.status()).toBe(401);
});

test("enrolment on the Security page shows a QR code to scan", async ({ page }) => {
  await signIn(page, lb, "admin", ADMIN_PASSWORD);
  await page.goto(lb.base + "/security");
  await page.getByRole("button", { name: "Set up an authenticator app" }).click();
  const qr = page.getByRole("img", { name: "QR code for your authenticator app" });
  await expect(qr).toBeVisible();
  // Drawn (the page's Content-Security-Policy lets the data: image through), about 200 px.
  await expect.poll(() => qr.evaluate((img: HTMLImageElement) => img.naturalWidth)).toBeGreaterThan(0);
  const box = (await qr.boundingBox())!;
  expect(box.width).toBeGreaterThan(150);
  expect(box.width).toBeLessThanOrEqual(200);
  await expect(page.getByTestId("totp-secret")).toBeVisible();
  // On a phone it stays inside the page, light and dark.
  await page.setViewportSize({ width: 400, height: 800 });
  await expect(qr).toBeVisible();
  expect((await qr.boundingBox())!.width).toBeLessThanOrEqual(200);
  await expectFits(page, "enrolment at 400 px");
});
