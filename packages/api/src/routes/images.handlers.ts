import type { OpenAPIHono, z } from "@hono/zod-openapi";
import type { ImageStore } from "@images/core";
import type { AppEnv } from "../app-env.ts";
import {
  deleteImage,
  getImage,
  listImages,
  updateImage,
  UploadForm,
  uploadImage,
  UploadRequest,
} from "./images.routes.ts";

/** `tags` as a repeated field, one comma-separated value, or both. */
function splitTags(tags: string | string[] | undefined): string[] {
  return [tags ?? []]
    .flat()
    .flatMap((value) => value.split(","))
    .map((tag) => tag.trim())
    .filter((tag) => tag !== "");
}

export function registerImageRoutes(app: OpenAPIHono<AppEnv>, store: ImageStore): void {
  app.openapi(uploadImage, async (c) => {
    const idempotencyKey = c.req.valid("header")["idempotency-key"];
    if (c.get("bodyKind") === "json") {
      const body = c.req.valid("json") as z.infer<typeof UploadRequest>;
      const started = await store.startLargeUpload(
        c.get("userId"),
        {
          title: body.title,
          description: body.description,
          tags: body.tags,
          contentType: body.content_type,
          sizeBytes: body.size_bytes,
        },
        { idempotencyKey },
      );
      return c.json(started, 201);
    }
    // The route has two bodies; the validator for the request's own content type is the one that ran.
    const form = c.req.valid("form") as z.infer<typeof UploadForm>;
    const image = await store.create(
      {
        userId: c.get("userId"),
        title: form.title,
        description: form.description,
        tags: splitTags(form.tags),
        bytes: new Uint8Array(await form.file.arrayBuffer()),
      },
      { idempotencyKey },
    );
    return c.json(image, 201);
  });

  app.openapi(listImages, async (c) => {
    const query = c.req.valid("query");
    const page = await store.list({
      userId: query.user_id,
      tag: query.tag,
      from: query.from,
      to: query.to,
      limit: query.limit,
      cursor: query.cursor,
    });
    return c.json({ items: page.items, next_cursor: page.nextCursor }, 200);
  });

  app.openapi(getImage, async (c) => {
    return c.json(await store.getWithLinks(c.req.valid("param").image_id, c.get("userId")), 200);
  });

  app.openapi(updateImage, async (c) => {
    const image = await store.update(c.req.valid("param").image_id, c.get("userId"), c.req.valid("json"));
    return c.json(image, 200);
  });

  app.openapi(deleteImage, async (c) => {
    await store.remove(c.req.valid("param").image_id, c.get("userId"));
    return c.body(null, 204);
  });
}
