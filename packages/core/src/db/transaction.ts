/**
 * ElectroDB answers a cancelled transaction with `{ canceled: true }` instead of throwing.
 * A write that did not happen must not look like one that did, so this turns it back into
 * the error DynamoDB gave, with one reason per action, for the store's error mapping.
 */
export class TransactionCanceledError extends Error {
  override name = "TransactionCanceledException";
  constructor(readonly CancellationReasons: { Code: string; Message?: string }[]) {
    super(`transaction cancelled: ${CancellationReasons.map((reason) => reason.Code).join(", ")}`);
  }
}

interface WriteTransactionResult {
  canceled: boolean;
  data: { code: string; message?: string }[];
}

export async function commitTransaction(pending: Promise<WriteTransactionResult>): Promise<void> {
  const result = await pending;
  if (result.canceled) {
    throw new TransactionCanceledError(result.data.map(({ code, message }) => ({ Code: code, Message: message })));
  }
}
