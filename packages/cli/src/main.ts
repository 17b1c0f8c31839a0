import { Command, InvalidArgumentError, Option } from "commander";
import { edit, get, list, login, logout, remove, upload, UsageError, type Io } from "./commands.ts";
import { ApiProblem } from "@images/client";
import { describeProblem } from "./problem.ts";
import cliPackage from "../package.json" with { type: "json" };

/** `images`: the Images API from the command line. Every command prints problems and exits 1. */
const io: Io = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
  progressStream: process.stderr,
};

const positiveInteger = (value: string) => {
  const number = Number(value);
  if (!Number.isInteger(number) || number < 1) throw new InvalidArgumentError("must be a whole number, 1 or more");
  return number;
};
const repeatable = (value: string, previous: string[] = []) => [...previous, value];

const program = new Command("images")
  .description("Upload, list, view, edit and delete images on the Images API.")
  .version(cliPackage.version, "-V, --version", "print the version of images")
  .showHelpAfterError()
  .configureOutput({ writeErr: (text) => process.stderr.write(text) });

/** Every command takes --url: the API for this once (IMAGES_URL likewise), over the one login kept. */
const URL_HELP = "the API's base URL (default: IMAGES_URL, else the one login kept, else http://127.0.0.1:3000)";
const command = (name: string) => program.command(name).option("--url <base>", URL_HELP);

command("login")
  .description("store a token for the API (in ~/.config/images/config.json, or IMAGES_CONFIG)")
  .option("--user <user_id>", "local development: get a token for this user from npm run dev")
  .option("--token <token>", "a bearer token (deployed: a Cognito ID token)")
  .action((options) => run(() => login(options, io)));

command("logout")
  .description("forget the stored token; the API's URL is kept for the next login")
  .action((options) => run(() => logout(options, io)));

command("upload")
  .description("upload image files, and the image files inside folders")
  .argument("<paths...>", "files or folders")
  .option("--title <title>", "the title of every file (default: each file's name)")
  .option("--description <text>", "a description for every file")
  .addOption(
    new Option("--tag <tag>", "a tag for every file (repeat for several)").argParser(repeatable).default([], "none"),
  )
  .option("--concurrency <n>", "files sent at the same time", positiveInteger, 3)
  .option("--again", "send files the account already has too (by default they are skipped)")
  .option("--json", "print the results as JSON")
  .action((paths: string[], options) => run(() => upload(paths, options, io)));

command("list")
  .alias("ls")
  .description("list images, newest first; filters combine")
  .option("--user <user_id>", "only this owner's images")
  .option("--tag <tag>", "only images with this tag")
  .option("--from <date>", "uploaded at or after (2026-11-01 or an ISO time)")
  .option("--to <date>", "uploaded at or before (a date alone means that whole day)")
  .option("--limit <n>", "images a page (1-100, default 20)", positiveInteger)
  .option("--cursor <cursor>", "start at this page (the cursor a previous list printed)")
  .option("--all", "follow the cursors to the last page")
  .option("--json", "print { items, next_cursor } as JSON")
  .action((options) => run(() => list(options, io)));

command("get")
  .description("show one image; with -o, download its bytes; with --size, one of its renditions")
  .argument("<image_id>")
  .option(
    "-o, --output <file>",
    "save the original here (checked against its sha256); with --size, the rendition (default <id>-<width>.webp)",
  )
  .option(
    "--size <px>",
    "save the WebP rendition nearest to <px> on the long side: the smallest at or above it, else the largest " +
      "(checked against its size_bytes)",
    positiveInteger,
  )
  .option("--json", "print the metadata as JSON")
  .action((imageId: string, options) => run(() => get(imageId, options, io)));

command("edit")
  .description("change the title, description or tags of one of your images")
  .argument("<image_id>")
  .option("--title <title>", "the new title")
  .addOption(new Option("--description <text>", "the new description").conflicts("clearDescription"))
  .option("--clear-description", "remove the description")
  .addOption(
    new Option("--tag <tag>", "the new tags (repeat; replaces all)").argParser(repeatable).conflicts("clearTags"),
  )
  .option("--clear-tags", "remove every tag")
  .option("--json", "print the edited image as JSON")
  .action((imageId: string, options) => run(() => edit(imageId, options, io)));

command("rm")
  .description("delete images you own")
  .argument("<image_ids...>")
  .action((imageIds: string[], options) => run(() => remove(imageIds, options, io)));

async function run(command: () => Promise<number>): Promise<void> {
  try {
    process.exitCode = await command();
  } catch (error) {
    process.exitCode = 1;
    if (error instanceof ApiProblem) {
      for (const line of describeProblem(error.problem)) io.err(`images: ${line}`);
    } else if (error instanceof UsageError) {
      io.err(`images: ${error.message}`);
    } else if (isFileError(error)) {
      io.err(`images: ${error.path}: ${FILE_ERRORS[error.code]}`);
    } else if (error instanceof TypeError && error.cause instanceof Error) {
      // fetch's network failures: the cause says what happened (ECONNREFUSED, a DNS failure...).
      io.err(`images: cannot reach the API: ${error.cause.message}`);
    } else {
      io.err(`images: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
}

/** What a file a person named turned out to be, in a line (-o into a missing folder, say). */
const FILE_ERRORS: Record<string, string> = {
  ENOENT: "no such file or folder",
  EACCES: "permission denied",
  EISDIR: "is a folder, not a file",
  ENOTDIR: "a part of the path is not a folder",
};
function isFileError(error: unknown): error is NodeJS.ErrnoException & { path: string; code: string } {
  const { code, path } = (error ?? {}) as NodeJS.ErrnoException;
  return typeof path === "string" && typeof code === "string" && code in FILE_ERRORS;
}

await program.parseAsync(process.argv);
