// Starts a real Lifeboat for a browser test: the binary that `cargo leptos build` made, a
// fresh data directory, port 0, and the PostgreSQL cluster of this test run as its target.
import { expect, Page } from "@playwright/test";
import { execFileSync, spawn, ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

export interface Lifeboat {
  base: string;
  setupUrl: string | null;
  log: () => string;
  stop: () => Promise<void>;
}

const root = resolve(__dirname, "..", "..");

export async function startLifeboat(env: Record<string, string> = {}): Promise<Lifeboat> {
  const target = process.env.LIFEBOAT_TEST_PG_URL;
  if (!target) {
    throw new Error("LIFEBOAT_TEST_PG_URL is not set: run the browser tests through `make test`");
  }
  const dataDir = mkdtempSync(join(tmpdir(), "lifeboat-e2e-"));
  // The release binary that scripts/build.sh (make run, make build, make test) built
  // together with the wasm bundle in target/site: the browser tests use what users run.
  const bin = process.env.LIFEBOAT_BIN || join(root, "target", "release", "lifeboat");
  const child: ChildProcess = spawn(bin, ["serve"], {
    env: {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: process.env.HOME ?? "/root",
      LIFEBOAT_DATA_DIR: dataDir,
      LIFEBOAT_ADDR: "127.0.0.1:0",
      LIFEBOAT_TARGET_URL: target,
      LIFEBOAT_SITE_DIR: join(root, "target", "site"),
      // No scheduled backup in the middle of a test (a test may turn it on).
      LIFEBOAT_SCHEDULE: "off",
      LIFEBOAT_SCHEDULE_OFF_OK: "true",
      ...(process.env.LIFEBOAT_TEST_PG_BIN_DIR
        ? { LIFEBOAT_PG_BIN_DIR: process.env.LIFEBOAT_TEST_PG_BIN_DIR }
        : {}),
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout?.on("data", (d) => (output += d.toString()));
  child.stderr?.on("data", (d) => (output += d.toString()));

  const started = Date.now();
  let base: string | null = null;
  while (!base) {
    const m = output.match(/Lifeboat is listening on (http:\/\/\S+)/);
    if (m) base = m[1];
    else if (child.exitCode !== null) throw new Error(`lifeboat exited early:\n${output}`);
    else if (Date.now() - started > 30_000) throw new Error(`lifeboat did not start:\n${output}`);
    else await new Promise((r) => setTimeout(r, 100));
  }
  await new Promise((r) => setTimeout(r, 100));
  // The token is in the link's fragment (`/setup#token=…`), never in its query.
  const setup = output.match(/(http:\/\/\S+\/setup#token=[0-9a-f]+)/);
  return {
    base,
    setupUrl: setup ? setup[1] : null,
    log: () => output,
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        await exited;
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A PostgreSQL client tool of this test run (LIFEBOAT_TEST_PG_BIN_DIR), else from PATH. */
export function pgBin(name: string): string {
  return process.env.LIFEBOAT_TEST_PG_BIN_DIR ? join(process.env.LIFEBOAT_TEST_PG_BIN_DIR, name) : name;
}

/** Runs `sql` with psql against `url` (stops at the first error); returns what it printed,
 * unaligned and without headers (one value per line). */
export function psql(url: string, sql: string): string {
  return execFileSync(pgBin("psql"), ["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", url, "-c", sql])
    .toString()
    .trim();
}

/** Drags `bytes` as a file named `name` over the drop zone and drops it there. */
export async function dropFile(page: Page, name: string, bytes: Buffer) {
  const dataTransfer = await page.evaluateHandle(
    ({ b64, name }) => {
      const raw = atob(b64);
      const data = new Uint8Array(raw.length);
      for (let i = 0; i < raw.length; i++) data[i] = raw.charCodeAt(i);
      const dt = new DataTransfer();
      dt.items.add(new File([data], name, { type: "application/octet-stream" }));
      return dt;
    },
    { b64: bytes.toString("base64"), name },
  );
  const zone = page.getByTestId("drop-zone");
  await zone.dispatchEvent("dragenter", { dataTransfer });
  await zone.dispatchEvent("dragover", { dataTransfer });
  await expect(zone).toHaveClass(/drop-zone-over/);
  await zone.dispatchEvent("drop", { dataTransfer });
  await expect(zone).not.toHaveClass(/drop-zone-over/);
}

/** Creates the database `name` afresh in the test cluster, owned by a new login role
 * `owner` (not a superuser) when given; returns its URL (as that role, if any). */
export function freshDatabase(name: string, owner?: string, password?: string): string {
  const admin = process.env.LIFEBOAT_TEST_PG_URL!;
  psql(admin, `DROP DATABASE IF EXISTS ${name}`);
  if (!owner) {
    psql(admin, `CREATE DATABASE ${name}`);
    return admin.replace(/\/[^/]*$/, `/${name}`);
  }
  psql(admin, `DROP ROLE IF EXISTS ${owner}`);
  psql(admin, `CREATE ROLE ${owner} LOGIN PASSWORD '${password}'`);
  psql(admin, `CREATE DATABASE ${name} OWNER ${owner}`);
  const url = new URL(admin);
  url.username = owner;
  url.password = password ?? "";
  url.pathname = `/${name}`;
  return url.toString();
}

/** Signs `user` in on `lb`'s login page and waits until the page names them. */
export async function signIn(page: Page, lb: Lifeboat, user: string, password: string) {
  await page.goto(lb.base + "/login");
  await page.getByLabel("Username").fill(user);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByTestId("current-user")).toHaveText(user);
}

/** The main navigation of a signed-in page. */
export function mainNav(page: Page) {
  return page.getByRole("navigation", { name: "Main" });
}
