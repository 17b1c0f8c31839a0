import { handle } from "hono/aws-lambda";
import { createAwsClients, createImageStore, loadConfig } from "@images/core";
import { createApp } from "../app.ts";

// Built once per Lambda instance and reused by every invocation it serves.
const config = loadConfig();
const store = createImageStore({ config, clients: createAwsClients(config) });

export const handler = handle(createApp({ config, store }));
