import { UserId } from "@images/core";
import { signDevelopmentToken } from "../src/development-token.ts";

/** `npm run --silent token -- <user_id>`: a bearer token the local service accepts. */
const userId = process.argv[2];
const parsed = UserId.safeParse(userId);
if (!parsed.success) {
  console.error("usage: npm run --silent token -- <user_id>   (1-128 letters, digits or . _ @ + : -)");
  process.exit(2);
}
console.log(await signDevelopmentToken(parsed.data));
