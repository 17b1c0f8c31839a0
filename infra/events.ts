import { environment, link, nodejs } from "./api";
import { permissionsFor, TABLE_STREAM_FUNCTION_CALLS, type TargetArns } from "./permissions";
import { architecture, runtime, webhookEndpoints } from "./settings";
import { bucketObjectsArn, table } from "./storage";

/**
 * Image events (README "Events"): the table's stream, with the items before and after each
 * change, feeds one function that turns each change into a CloudEvent and puts it on the bus;
 * each configured webhook endpoint gets every event from the bus by an API destination.
 *
 * The names below are also in packages/core/src/events (event-bus.ts: BUS_SOURCE; image-events.ts:
 * IMAGE_EVENT_TYPES), not imported from there: those modules bring the SDK into the config SST
 * evaluates (see infra/storage.ts); infra/program.test.ts checks that they agree.
 */
export const BUS_SOURCE = "images";
export const EVENT_TYPES = [
  "image.ready",
  "image.failed",
  "image.updated",
  "image.trashed",
  "image.restored",
  "image.deleted",
];

/** SQS's longest retention: what lands in a failure queue stays two weeks. */
const FAILURE_RETENTION_SECONDS = 14 * 24 * 3600;
const keptTwoWeeks: sst.aws.QueueArgs = {
  transform: {
    queue: (args) => {
      args.messageRetentionSeconds = FAILURE_RETENTION_SECONDS;
    },
  },
};

/** Where the events go; rules on it pick them by `source` and `detail-type` (the event's type). */
export const eventBus = new sst.aws.Bus("ImageEvents");

/**
 * What the stream function gave up on: Lambda's record of each batch it stopped retrying (its
 * shard and sequence numbers, not the records: those stay in the stream for 24 hours, to read
 * again from there).
 */
export const tableStreamFailures = new sst.aws.Queue("TableStreamFailures", keptTwoWeeks);

/**
 * Signs webhook deliveries (Standard Webhooks: "whsec_" and the base64 of the key), only when
 * WEBHOOK_ENDPOINTS names any: `npx sst secret set WebhookSecret whsec_... --stage <name>`.
 * packages/core/src/config.ts reads it by link.
 */
export const webhookSecret = webhookEndpoints.length > 0 ? new sst.Secret("WebhookSecret") : undefined;

const arns: TargetArns<$util.Input<string>> = {
  table: [table.arn],
  bus: [eventBus.arn],
  objects: [bucketObjectsArn],
  stream: [table.nodes.table.streamArn],
  failures: [tableStreamFailures.arn],
};

/** The stream's consumer (packages/api/src/handlers/table-stream.ts). */
export const tableStreamFunction = new sst.aws.Function("TableStreamFunction", {
  handler: "packages/api/src/handlers/table-stream.handler",
  runtime,
  architecture,
  timeout: "1 minute",
  memory: "512 MB",
  link: webhookSecret ? [...link, webhookSecret] : link,
  permissions: permissionsFor(TABLE_STREAM_FUNCTION_CALLS, arns),
  environment: { ...environment, EVENT_BUS_NAME: eventBus.name },
  nodejs,
});

/**
 * A batch that fails is split in two until the record at fault is alone (bisect); the function
 * also names the first record it could not finish (ReportBatchItemFailures), so what came
 * before it is not sent again. After 10 retries of one record, or a day, its batch goes to the
 * failure queue and the shard moves on. Records of one item reach the function in order.
 */
export const STREAM_RETRIES = 10;
export const tableStreamMapping = new aws.lambda.EventSourceMapping("TableStreamMapping", {
  eventSourceArn: table.nodes.table.streamArn,
  functionName: tableStreamFunction.arn,
  // From the oldest record the stream holds: a function deployed after the table loses none.
  startingPosition: "TRIM_HORIZON",
  batchSize: 100,
  maximumBatchingWindowInSeconds: 1,
  bisectBatchOnFunctionError: true,
  functionResponseTypes: ["ReportBatchItemFailures"],
  maximumRetryAttempts: STREAM_RETRIES,
  maximumRecordAgeInSeconds: 24 * 3600,
  destinationConfig: { onFailure: { destinationArn: tableStreamFailures.arn } },
});

/** EventBridge's limits for a target: 185 retries at most, over 24 hours at most. */
export const WEBHOOK_RETRY_POLICY = { maximumRetryAttempts: 185, maximumEventAgeInSeconds: 24 * 3600 };

/**
 * The webhooks. An API destination cannot compute an HMAC, so the stream function signs each
 * event and puts the signature beside it in the entry's detail; each target sends
 * `$.detail.event` as the body (the JSON of the event, which is what was signed: the function
 * signs the event's JSON.stringify, compact, in its own key order) and takes the three Standard
 * Webhooks headers from the detail by path.
 */
export function declareWebhooks(endpoints: readonly string[]) {
  if (endpoints.length === 0) return undefined;
  // API destinations need a connection with some authorization; the signature is what proves the
  // sender, so this key names the stage and is no secret.
  const connection = new aws.cloudwatch.EventConnection("WebhookConnection", {
    authorizationType: "API_KEY",
    authParameters: { apiKey: { key: "x-images-source", value: `${$app.name}/${$app.stage}` } },
  });
  const rule = new aws.cloudwatch.EventRule("WebhookRule", {
    eventBusName: eventBus.name,
    eventPattern: JSON.stringify({ source: [BUS_SOURCE], "detail-type": EVENT_TYPES }),
  });
  const failures = new sst.aws.Queue("WebhookFailures", keptTwoWeeks);
  new aws.sqs.QueuePolicy("WebhookFailuresPolicy", {
    queueUrl: failures.url,
    policy: $jsonStringify({
      Version: "2012-10-17",
      Statement: [
        {
          Effect: "Allow",
          Principal: { Service: "events.amazonaws.com" },
          Action: "sqs:SendMessage",
          Resource: failures.arn,
          Condition: { ArnEquals: { "aws:SourceArn": rule.arn } },
        },
      ],
    }),
  });
  const destinations = endpoints.map(
    (url, index) =>
      new aws.cloudwatch.EventApiDestination(`Webhook${index}`, {
        connectionArn: connection.arn,
        httpMethod: "POST",
        invocationEndpoint: url,
        invocationRateLimitPerSecond: 50,
      }),
  );
  const role = new aws.iam.Role("WebhookInvokeRole", {
    assumeRolePolicy: $jsonStringify({
      Version: "2012-10-17",
      Statement: [{ Effect: "Allow", Principal: { Service: "events.amazonaws.com" }, Action: "sts:AssumeRole" }],
    }),
    inlinePolicies: [
      {
        name: "invoke-webhooks",
        policy: $jsonStringify({
          Version: "2012-10-17",
          Statement: [
            {
              Effect: "Allow",
              Action: "events:InvokeApiDestination",
              Resource: destinations.map((destination) => destination.arn),
            },
          ],
        }),
      },
    ],
  });
  destinations.forEach(
    (destination, index) =>
      new aws.cloudwatch.EventTarget(`Webhook${index}Target`, {
        rule: rule.name,
        eventBusName: eventBus.name,
        arn: destination.arn,
        roleArn: role.arn,
        inputPath: "$.detail.event",
        httpTarget: {
          headerParameters: {
            "content-type": "application/cloudevents+json; charset=utf-8",
            "webhook-id": "$.detail.webhook.id",
            "webhook-timestamp": "$.detail.webhook.timestamp",
            "webhook-signature": "$.detail.webhook.signature",
          },
        },
        retryPolicy: WEBHOOK_RETRY_POLICY,
        deadLetterConfig: { arn: failures.arn },
      }),
  );
  return { failures };
}

export const webhooks = declareWebhooks(webhookEndpoints);
