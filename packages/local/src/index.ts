export { startLocalAws, type LocalAws, type LocalAwsOptions, type ObjectCreatedEvent } from "./start-local-aws.ts";
export { ensureBucket, ensureTable } from "./bootstrap.ts";
export { DEVELOPMENT_MEDIA_KEY } from "./media-dev-key.ts";
export type { ChangeFeed, ChangeFeedRecord, ChangeListener } from "./change-feed.ts";
