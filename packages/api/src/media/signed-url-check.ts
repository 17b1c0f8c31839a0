import { createPublicKey, verify } from "node:crypto";
import { CLOUDFRONT_SIGNING_PARAMS, cannedPolicy, fromCloudFrontBase64 } from "@images/core/storage/media-signer";

export type SignedUrlCheck = { ok: true } | { ok: false; detail: string };

const SIGNING_PARAMS = new Set<string>(CLOUDFRONT_SIGNING_PARAMS);

const refuse = (detail: string): SignedUrlCheck => ({ ok: false, detail });

const decodeParam = (value: string): string | undefined => {
  try {
    return decodeURIComponent(value);
  } catch {
    return undefined;
  }
};

/**
 * CloudFront's check of a canned-policy signed URL, for a distribution whose trusted key group
 * holds one public key: the URL names that key pair, its signature (RSA or ECDSA, SHA-1 or with
 * `Hash-Algorithm=SHA256`) covers the canned policy of the URL without its signing parameters,
 * and `Expires` is still ahead.
 *
 * `url` must be the URL as the client sent it (scheme, Host, request target), not a parsed and
 * re-serialised one: CloudFront compares the text, so `%7e` and `~`, or `a/../b` and `b`, differ.
 *
 * Where it differs from CloudFront: a custom policy (`Policy=`) is refused, not evaluated (the
 * service signs canned policies only); a signing parameter given twice, or a signature whose
 * base64 is not canonical (a changed unused bit in its last character), is refused, where
 * CloudFront may decode it to the same bytes and accept it.
 */
export function createSignedUrlCheck(options: { publicKeyPem: string; keyPairId: string; now: () => Date }) {
  const publicKey = createPublicKey(options.publicKeyPem);

  return function checkSignedUrl(url: string): SignedUrlCheck {
    const queryStart = url.indexOf("?");
    const base = queryStart === -1 ? url : url.slice(0, queryStart);
    const kept: string[] = [];
    const signing = new Map<string, string>();
    for (const pair of queryStart === -1 ? [] : url.slice(queryStart + 1).split("&")) {
      const equals = pair.indexOf("=");
      const name = equals === -1 ? pair : pair.slice(0, equals);
      if (!SIGNING_PARAMS.has(name)) {
        kept.push(pair);
        continue;
      }
      const value = decodeParam(equals === -1 ? "" : pair.slice(equals + 1));
      if (value === undefined || signing.has(name))
        return refuse(`the URL's ${name} parameter is malformed or repeated`);
      signing.set(name, value);
    }
    if (signing.has("Policy")) return refuse("a custom policy is not accepted here, only a canned one");
    const expires = signing.get("Expires");
    const signature = signing.get("Signature");
    const keyPairId = signing.get("Key-Pair-Id");
    if (!expires || !signature || !keyPairId) {
      return refuse("the URL is not signed: it needs Expires, Signature and Key-Pair-Id");
    }
    if (keyPairId !== options.keyPairId) return refuse("the URL is signed with a key pair that is not trusted here");
    if (!/^[0-9]{1,12}$/.test(expires)) return refuse("the URL's Expires is not a time in epoch seconds");
    const algorithm = signing.get("Hash-Algorithm") ?? "SHA1";
    if (algorithm !== "SHA1" && algorithm !== "SHA256") return refuse("the URL's Hash-Algorithm is not SHA1 or SHA256");
    const signatureBytes = fromCloudFrontBase64(signature);
    if (!signatureBytes) return refuse("the URL's Signature is not CloudFront base64");

    const resource = kept.length > 0 ? `${base}?${kept.join("&")}` : base;
    const policy = Buffer.from(cannedPolicy(resource, Number(expires)));
    let authentic = false;
    try {
      authentic = verify(algorithm === "SHA256" ? "sha256" : "sha1", policy, publicKey, signatureBytes);
    } catch {
      // A signature of the wrong shape for the key (an ECDSA one that is not DER) is no signature.
    }
    if (!authentic) return refuse("the URL's signature does not match it");
    // DateLessThan: the URL is good strictly before Expires.
    if (options.now().getTime() >= Number(expires) * 1000) {
      return refuse(`the URL expired at ${new Date(Number(expires) * 1000).toISOString()}`);
    }
    return { ok: true };
  };
}
