import { ScanCommand, type DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";

/**
 * The ids of the image items that match `filter` (over `names`), a page at a time, read by a
 * consistent Scan of the whole table: for the operator's backfills, which must see every image.
 */
export async function* imageIdsWhere(
  dynamo: DynamoDBDocumentClient,
  tableName: string,
  filter: string,
  names: Record<string, string>,
) {
  let ExclusiveStartKey: Record<string, unknown> | undefined;
  do {
    const page = await dynamo.send(
      new ScanCommand({
        TableName: tableName,
        ConsistentRead: true,
        FilterExpression: `#entity = :image AND (${filter})`,
        ExpressionAttributeNames: { "#entity": "__edb_e__", ...names },
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
