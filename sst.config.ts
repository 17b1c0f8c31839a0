/// <reference path="./.sst/platform/config.d.ts" />

/**
 * The AWS stack: `npx sst deploy --stage <name>`. Its parts live in infra/.
 * The table's keys and indexes come from packages/core (TABLE), like the entities'.
 */
export default $config({
  app(input) {
    return {
      name: "images",
      home: "aws",
      // A production stage keeps its data when removed and cannot be removed by accident.
      removal: input.stage === "production" ? "retain" : "remove",
      protect: input.stage === "production",
    };
  },
  async run() {
    const { table, bucket } = await import("./infra/storage");
    const { userPool, userPoolClient, region, authUrl } = await import("./infra/auth");
    const { httpApi, finishUploadFunction, finishUploadFailures } = await import("./infra/api");
    const { deployGallery, galleryUrl } = await import("./infra/web");
    const { mediaUrl } = await import("./infra/media");
    const { eventBus, tableStreamFailures, webhooks } = await import("./infra/events");
    deployGallery({ apiUrl: httpApi.url, authUrl, userPoolClientId: userPoolClient.id });
    return {
      apiUrl: httpApi.url,
      galleryUrl,
      authUrl,
      region,
      userPoolId: userPool.id,
      userPoolClientId: userPoolClient.id,
      tableName: table.name,
      bucketName: bucket.name,
      // Where rendition URLs start; CloudFront answers only signed ones (README "Delivery").
      mediaUrl,
      // Uploads that finishing gave up on (README: "When finishing fails").
      finishUploadFailuresQueueUrl: finishUploadFailures.url,
      finishUploadFunctionName: finishUploadFunction.name,
      // Image events (README "Events"): the bus, and where what could not be delivered waits.
      eventBusName: eventBus.name,
      tableStreamFailuresQueueUrl: tableStreamFailures.url,
      ...(webhooks ? { webhookFailuresQueueUrl: webhooks.failures.url } : {}),
    };
  },
});
