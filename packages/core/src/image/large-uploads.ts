// The large-upload steps live in start-large-upload.ts, finish-upload.ts, discard-upload.ts and
// upload-records.ts. This name stays only until events/image-events.ts imports uploadToImageInfo
// from records.ts (coord.md); then it goes.
export { uploadToImageInfo } from "./records.ts";
