export { loadConfig, ConfigError, type Config } from "./config.ts";
export { AppError, isAppError, type ErrorKind, type Issue } from "./errors.ts";
export { createAwsClients, type AwsClients } from "./aws/clients.ts";
export { isLocalHost, EndpointGuardError } from "./aws/endpoint-guard.ts";
export { TABLE, describeTableForCreate } from "./db/table.ts";
export { createImageStore, type ImageStore, type CreateImageInput, type CreateOptions } from "./image/image-store.ts";
export * from "./image/image.schema.ts";
export { ACCEPTED_TYPES, THUMBNAIL_MAX_SIDE, processImage, sniffImageType } from "./image/processing.ts";
