/**
 * The floor for the cold-start comparison: a handler holding only the AWS SDK clients the
 * service uses (DynamoDB document client, S3, the presigner, presigned POST), built at load as
 * the real handler builds them. No design of this service can load less.
 */
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient, GetCommand, QueryCommand, TransactWriteCommand } from "@aws-sdk/lib-dynamodb";
import { GetObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { createPresignedPost } from "@aws-sdk/s3-presigned-post";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";

const region = process.env.AWS_REGION;
const table = process.env.TABLE_NAME;
const bucket = process.env.BUCKET_NAME;
const dynamo = DynamoDBDocumentClient.from(new DynamoDBClient({ region, maxAttempts: 3 }), {
  marshallOptions: { removeUndefinedValues: true },
});
const s3 = new S3Client({
  region,
  maxAttempts: 3,
  requestChecksumCalculation: "WHEN_REQUIRED",
  responseChecksumValidation: "WHEN_REQUIRED",
});

/** One of each call the service makes, so nothing the service needs is tree-shaken away. */
export async function handler(event: { op: string; key: string }) {
  switch (event.op) {
    case "get":
      return dynamo.send(new GetCommand({ TableName: table, Key: { pk: event.key, sk: event.key } }));
    case "query":
      return dynamo.send(
        new QueryCommand({
          TableName: table,
          KeyConditionExpression: "pk = :pk",
          ExpressionAttributeValues: { ":pk": event.key },
        }),
      );
    case "write":
      return dynamo.send(
        new TransactWriteCommand({
          TransactItems: [{ Put: { TableName: table, Item: { pk: event.key, sk: event.key } } }],
        }),
      );
    case "put":
      return s3.send(new PutObjectCommand({ Bucket: bucket, Key: event.key, Body: event.key }));
    case "link":
      return getSignedUrl(s3, new GetObjectCommand({ Bucket: bucket, Key: event.key }), { expiresIn: 600 });
    default:
      return createPresignedPost(s3, { Bucket: bucket!, Key: event.key, Expires: 600 });
  }
}
