import { chmod, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, join } from "node:path";

/** What `images login` keeps: where the API is, and the bearer token to send it (gone after `logout`). */
export interface StoredConfig {
  base_url: string;
  token?: string;
  /** The token's subject, shown by `login` and used by nothing else. */
  user_id?: string;
}

export const DEFAULT_BASE_URL = "http://127.0.0.1:3000";

/** IMAGES_CONFIG names the file; else $XDG_CONFIG_HOME/images/config.json, else ~/.config/images/config.json. */
export function configPath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.IMAGES_CONFIG) return env.IMAGES_CONFIG;
  const base = env.XDG_CONFIG_HOME || join(homedir(), ".config");
  return join(base, "images", "config.json");
}

export async function readConfig(path = configPath()): Promise<StoredConfig | undefined> {
  const text = await readFile(path, "utf8").catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") return undefined;
    throw error;
  });
  if (text === undefined) return undefined;
  const parsed = JSON.parse(text) as Partial<StoredConfig>;
  if (typeof parsed.base_url !== "string" || (parsed.token !== undefined && typeof parsed.token !== "string")) {
    throw new Error(`${path} is not a login this version understands: run images login again`);
  }
  return parsed as StoredConfig;
}

/** Written readable by its owner only: it holds a bearer token. */
export async function writeConfig(config: StoredConfig, path = configPath()): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await writeFile(path, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  await chmod(path, 0o600);
}

export async function removeConfig(path = configPath()): Promise<void> {
  await rm(path, { force: true });
}

/** The API's base URL without trailing slashes, from --url, else IMAGES_URL, else the stored one, else the default. */
export function baseUrlOf(
  url: string | undefined,
  stored: StoredConfig | undefined,
  env: NodeJS.ProcessEnv = process.env,
): string {
  return (url || env.IMAGES_URL || stored?.base_url || DEFAULT_BASE_URL).replace(/\/+$/, "");
}

/** The `sub` of a JWT, read without checking it (the API checks it). */
export function tokenSubject(token: string): string | undefined {
  const payload = token.split(".")[1];
  if (!payload) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as { sub?: unknown };
    return typeof claims.sub === "string" ? claims.sub : undefined;
  } catch {
    return undefined;
  }
}
