import { Entity, Service } from "electrodb";
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { catalogSchema } from "./catalog.entity.ts";
import { digestSchema } from "./digest.entity.ts";
import { idempotencySchema } from "./idempotency.entity.ts";
import { imageDeletionSchema } from "./image-deletion.entity.ts";
import { imageTagSchema } from "./image-tag.entity.ts";
import { imageSchema } from "./image.entity.ts";
import { rateWindowSchema } from "./rate-window.entity.ts";
import { stagedObjectsSchema } from "./staged-objects.entity.ts";
import { uploadSchema } from "./upload.entity.ts";

/** The entities bound to one table and client; built per store so stores never share state. */
export function createDb(client: DynamoDBDocumentClient, table: string) {
  const config = { client, table };
  return new Service(
    {
      image: new Entity(imageSchema, config),
      imageTag: new Entity(imageTagSchema, config),
      imageDeletion: new Entity(imageDeletionSchema, config),
      stagedObjects: new Entity(stagedObjectsSchema, config),
      catalog: new Entity(catalogSchema, config),
      idempotency: new Entity(idempotencySchema, config),
      upload: new Entity(uploadSchema, config),
      rateWindow: new Entity(rateWindowSchema, config),
      digest: new Entity(digestSchema, config),
    },
    config,
  );
}

export type Db = ReturnType<typeof createDb>;
