import { ScanCommand, type DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";

/**
 * The ids of the images stored before the size ladder (no `renditions` or no `placeholder`), a
 * page at a time: what `npm run renditions:backfill` works through. A Scan, like the store
 * checker's: an operator's tool, never part of serving a request.
 */
export async function* imagesWithoutRenditions(dynamo: DynamoDBDocumentClient, tableName: string) {
  let ExclusiveStartKey: Record<string, unknown> | undefined;
  do {
    const page = await dynamo.send(
      new ScanCommand({
        TableName: tableName,
        ConsistentRead: true,
        FilterExpression: "#entity = :image AND (attribute_not_exists(#renditions) OR attribute_not_exists(#placeholder))",
        ExpressionAttributeNames: { "#entity": "__edb_e__", "#renditions": "renditions", "#placeholder": "placeholder" },
        ExpressionAttributeValues: { ":image": "image" },
        ProjectionExpression: "imageId",
        ExclusiveStartKey,
      }),
    );
    const ids = (page.Items ?? []).map((item) => String(item.imageId));
    if (ids.length > 0) yield ids;
    ExclusiveStartKey = page.LastEvaluatedKey;
  } while (ExclusiveStartKey);
}
