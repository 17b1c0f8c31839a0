export { createApp, type App, type AppDeps } from "./app.ts";
export { createTokenVerifier, type TokenVerifier } from "./auth.ts";
export { signDevelopmentToken, DEVELOPMENT_TOKEN } from "./development-token.ts";
export { openApiDocument } from "./routes/system.routes.ts";
export { createLogger } from "./logger.ts";
