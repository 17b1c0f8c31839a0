import type { OpenAPIHono, z } from "@hono/zod-openapi";
import { AppError, type ImageStore } from "@images/core";
import type { AppEnv } from "../app-env.ts";
import {
  checkImages,
  deleteImage,
  getImage,
  listImages,
  restoreImage,
  trashImage,
  updateImage,
  UploadForm,
  uploadImage,
  UploadRequest,
} from "./images.routes.ts";

/** The filters the trash listing does not take. */
const NOT_WITH_TRASHED = ["user_id", "tag", "from", "to"] as const;

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
    const onDuplicate = c.req.valid("query").on_duplicate;
    if (c.get("bodyKind") === "json") {
      const body = c.req.valid("json") as z.infer<typeof UploadRequest>;
      const started = await store.uploadLarge(
        c.get("userId"),
        {
          title: body.title,
          description: body.description,
          tags: body.tags,
          contentType: body.content_type,
          sizeBytes: body.size_bytes,
          sha256: body.sha256,
        },
        { idempotencyKey, onDuplicate },
      );
      return started.existing ? c.json(started.value as never, 200) : c.json(started.value, 201);
    }
    // The route has two bodies; the validator for the request's own content type is the one that ran.
    const form = c.req.valid("form") as z.infer<typeof UploadForm>;
    const outcome = await store.uploadDirect(
      {
        userId: c.get("userId"),
        title: form.title,
        description: form.description,
        tags: splitTags(form.tags),
        bytes: new Uint8Array(await form.file.arrayBuffer()),
      },
      { idempotencyKey, onDuplicate },
    );
    return outcome.existing ? c.json(outcome.image, 200) : c.json(outcome.image, 201);
  });

  app.openapi(listImages, async (c) => {
    const query = c.req.valid("query");
    if (query.trashed === "true") {
      const given = NOT_WITH_TRASHED.filter((name) => query[name] !== undefined);
      if (given.length > 0) {
        const message = "is not taken with trashed=true (the trash is the caller's own, most recently trashed first)";
        throw new AppError("invalid", `${given[0]}: ${message}`, { issues: given.map((path) => ({ path, message })) });
      }
      const trash = await store.listTrash({ userId: c.get("userId"), limit: query.limit, cursor: query.cursor });
      return c.json({ items: trash.items, next_cursor: trash.nextCursor }, 200);
    }
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

  app.openapi(trashImage, async (c) => {
    return c.json(await store.trash(c.req.valid("param").image_id, c.get("userId")), 200);
  });

  app.openapi(restoreImage, async (c) => {
    return c.json(await store.restore(c.req.valid("param").image_id, c.get("userId")), 200);
  });

  app.openapi(checkImages, async (c) => {
    const known = await store.checkDigests(c.get("userId"), c.req.valid("json").sha256);
    return c.json({ known: known.map(({ sha256, imageId }) => ({ sha256, image_id: imageId })) }, 200);
  });

  app.openapi(deleteImage, async (c) => {
    await store.remove(c.req.valid("param").image_id, c.get("userId"));
    return c.body(null, 204);
  });
}
