import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { imageIdsWhere } from "./image-scan.ts";

/**
 * The ids of the images stored before the size ladder (no `renditions` or no `placeholder`), a
 * page at a time: what `npm run renditions:backfill` works through. A Scan, like the store
 * checker's: an operator's tool, never part of serving a request.
 */
export const imagesWithoutRenditions = (dynamo: DynamoDBDocumentClient, tableName: string) =>
  imageIdsWhere(dynamo, tableName, "attribute_not_exists(#renditions) OR attribute_not_exists(#placeholder)", {
    "#renditions": "renditions",
    "#placeholder": "placeholder",
  });
