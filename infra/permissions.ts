/**
 * What each deployed function may do: the IAM actions of the calls its code makes, on the
 * resources it makes them on, and nothing else. SST's `link` would grant `dynamodb:*` on the
 * table and its indexes and `s3:*` on the bucket and its objects, so infra/api.ts passes the names
 * by environment and the rights by these lists instead.
 *
 * Pure (no SST globals), so that the tests can check these lists against the code:
 * infra/permissions.test.ts finds every SDK call in packages/core/src and watches each function's
 * code at work on the emulators; infra/program.test.ts checks the policies the stack declares.
 */

/** The resources a function's rights can be on. */
export const TARGETS = ["table", "indexes", "bucket", "objects", "failures", "stream", "bus"] as const;
export type Target = (typeof TARGETS)[number];

/**
 * A call the code makes, by the name of its SDK operation, and what IAM wants for it. A
 * transaction's items are checked one by one as the single-item operations they are (DynamoDB
 * has no IAM action for TransactWriteItems itself); a presigned request acts with its signer's
 * rights, so the function that signs it needs the operation's action.
 */
export const ACTIONS_OF_CALL = {
  GetItem: { table: ["dynamodb:GetItem"] },
  PutItem: { table: ["dynamodb:PutItem"] },
  UpdateItem: { table: ["dynamodb:UpdateItem"] },
  DeleteItem: { table: ["dynamodb:DeleteItem"] },
  ConditionCheckItem: { table: ["dynamodb:ConditionCheckItem"] },
  BatchGetItem: { table: ["dynamodb:BatchGetItem"] },
  BatchWriteItem: { table: ["dynamodb:BatchWriteItem"] },
  Scan: { table: ["dynamodb:Scan"] },
  /** A Query of the base table's own key. */
  Query: { table: ["dynamodb:Query"] },
  /** A Query of a global secondary index (every listing). */
  QueryIndex: { indexes: ["dynamodb:Query"] },
  PutObject: { objects: ["s3:PutObject"] },
  /** GetObject and HeadObject answer 404 for a missing key only with s3:ListBucket; else 403. */
  GetObject: { objects: ["s3:GetObject"], bucket: ["s3:ListBucket"] },
  HeadObject: { objects: ["s3:GetObject"], bucket: ["s3:ListBucket"] },
  DeleteObject: { objects: ["s3:DeleteObject"] },
  /** Bulk delete: checked as s3:DeleteObject for each key. */
  DeleteObjects: { objects: ["s3:DeleteObject"] },
  HeadBucket: { bucket: ["s3:ListBucket"] },
  ListObjectsV2: { bucket: ["s3:ListBucket"] },
  /** lib-storage's Upload sends a body of unknown length in parts, and aborts them if one fails. */
  CreateMultipartUpload: { objects: ["s3:PutObject"] },
  UploadPart: { objects: ["s3:PutObject"] },
  CompleteMultipartUpload: { objects: ["s3:PutObject"] },
  AbortMultipartUpload: { objects: ["s3:AbortMultipartUpload"] },
  /** A presigned GET link (downloads, thumbnails). */
  PresignGetObject: { objects: ["s3:GetObject"] },
  /** A presigned POST form (large uploads straight to S3). */
  PresignPostObject: { objects: ["s3:PutObject"] },
  /** Lambda sends a failed asynchronous event to the failure destination with the function's role. */
  SendToFailureQueue: { failures: ["sqs:SendMessage"] },
  /** Lambda's event source mapping reads the table's stream with the function's role. */
  ReadStream: {
    stream: ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams"],
  },
  /** Image events onto the bus (packages/core/src/events/event-bus.ts). */
  PutEvents: { bus: ["events:PutEvents"] },
} as const satisfies Record<string, Partial<Record<Target, readonly string[]>>>;

export type Call = keyof typeof ACTIONS_OF_CALL;

/** What the API function's code calls (packages/api/src/handlers/api.ts: every route). */
export const API_FUNCTION_CALLS = [
  // Images, tag items, upload records, idempotency records, rate windows, the month catalog.
  "GetItem",
  "PutItem",
  "UpdateItem",
  "DeleteItem",
  // POST /images/check reads the caller's digest items, up to 100 at a time; a page of all images
  // or of a tag reads its images (gsi1 holds keys and merge attributes only).
  "BatchGetItem",
  // Every listing reads a GSI.
  "QueryIndex",
  // Direct uploads store their bytes; deletes and refused uploads remove them.
  "PutObject",
  "DeleteObjects",
  // GET /health.
  "HeadBucket",
  "PresignGetObject",
  "PresignPostObject",
] as const satisfies readonly Call[];

/** What the finishing function's code calls (packages/api/src/handlers/finish-upload.ts). */
export const FINISH_UPLOAD_FUNCTION_CALLS = [
  "GetItem",
  "PutItem",
  "UpdateItem",
  "DeleteItem",
  // Checks the posted file's size, then downloads it.
  "HeadObject",
  "GetObject",
  // The thumbnail in one request, the re-encoded file in parts.
  "PutObject",
  "CreateMultipartUpload",
  "UploadPart",
  "CompleteMultipartUpload",
  "AbortMultipartUpload",
  "DeleteObjects",
  "SendToFailureQueue",
] as const satisfies readonly Call[];

/**
 * What the table's stream consumer calls (packages/api/src/handlers/table-stream.ts): the events
 * onto the bus; for a TTL purge, the image's tag items by a Query of its partition, their
 * deletes and its objects' delete, or for a staged record the image it may belong to (a read)
 * and the objects no image names. Lambda reads the stream and sends what fails to the queue.
 */
export const TABLE_STREAM_FUNCTION_CALLS = [
  "PutEvents",
  "GetItem",
  "Query",
  "DeleteItem",
  "DeleteObjects",
  "ReadStream",
  "SendToFailureQueue",
] as const satisfies readonly Call[];

/** The calls Lambda makes with a function's role, not its code. */
export const LAMBDA_SIDE_CALLS = ["SendToFailureQueue", "ReadStream"] as const satisfies readonly Call[];

/** The actions `calls` need, by target, each list sorted and without repeats. */
export function actionsOf(calls: readonly Call[]): Partial<Record<Target, string[]>> {
  const out: Partial<Record<Target, Set<string>>> = {};
  for (const call of calls) {
    for (const [target, actions] of Object.entries(ACTIONS_OF_CALL[call]) as [Target, readonly string[]][]) {
      const set = (out[target] ??= new Set());
      for (const action of actions) set.add(action);
    }
  }
  return Object.fromEntries(TARGETS.flatMap((target) => (out[target] ? [[target, [...out[target]].sort()]] : [])));
}

/** The ARNs each target stands for in one deployment. */
export type TargetArns<A> = Partial<Record<Target, A[]>>;

/** One policy statement (SST's FunctionPermissionArgs): these actions on these resources. */
export interface Statement<A> {
  actions: string[];
  resources: A[];
}

/**
 * The `permissions` of a function whose code makes `calls`: one statement per target. A target
 * with rights but no ARNs stops the deploy rather than grant them on nothing in particular.
 */
export function permissionsFor<A>(calls: readonly Call[], arns: TargetArns<A>): Statement<A>[] {
  return (Object.entries(actionsOf(calls)) as [Target, string[]][]).map(([target, actions]) => {
    const resources = arns[target];
    if (!resources || resources.length === 0) throw new Error(`no ARN for ${target}, which ${actions.join(", ")} need`);
    return { actions, resources };
  });
}
