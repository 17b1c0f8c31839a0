import { readFileSync } from "node:fs";
import { join } from "node:path";
import { bucket, grantMediaDistribution } from "./storage";

/**
 * Rendition delivery: a CloudFront distribution of its own in front of the private bucket
 * (SST's Router and Cdn take no trusted key group). It reads the bucket through Origin Access
 * Control, which the bucket policy allows on renditions/* only and for this distribution only
 * (infra/storage.ts), and answers a request only when it carries a URL signed by the key in
 * MEDIA_KEY_GROUP. Its cache key holds the path alone: every signed URL of one object, whatever
 * its Expires, Signature and Key-Pair-Id, shares one cached copy.
 */

/**
 * The public half of the key pair that signs rendition URLs, as PEM (RSA 2048). The file is the
 * operator's: README "Delivery through CloudFront (deployed)" says how to make a pair, replace
 * the file and set the private half as the MediaPrivateKey secret.
 */
export const MEDIA_PUBLIC_KEY_FILE = "infra/media-public-key.pem";

/** The private half, which the API function signs with (packages/core/src/config.ts reads it). */
export const mediaPrivateKey = new sst.Secret("MediaPrivateKey");

export const mediaPublicKey = new aws.cloudfront.PublicKey("MediaPublicKey", {
  comment: `${$app.name} ${$app.stage}: signs rendition URLs`,
  encodedKey: readFileSync(join($cli.paths.root, MEDIA_PUBLIC_KEY_FILE), "utf8"),
});

export const mediaKeyGroup = new aws.cloudfront.KeyGroup("MediaKeyGroup", {
  comment: `${$app.name} ${$app.stage}: rendition URL signers`,
  items: [mediaPublicKey.id],
});

/** CloudFront signs its requests to S3 (SigV4) always; the bucket allows no one else. */
const originAccessControl = new aws.cloudfront.OriginAccessControl("MediaOriginAccessControl", {
  description: `${$app.name} ${$app.stage}: CloudFront reads renditions`,
  originAccessControlOriginType: "s3",
  signingBehavior: "always",
  signingProtocol: "sigv4",
});

/** A year: what the objects' `Cache-Control: public, max-age=31536000, immutable` asks for. */
const YEAR_SECONDS = 31_536_000;

/**
 * Nothing of the request but its path (and the normalised Accept-Encoding that compression needs)
 * is in the cache key, and nothing else reaches S3. The TTLs leave the objects' Cache-Control in
 * charge (min 0), up to a year, and a year for an object that says nothing.
 */
const cachePolicy = new aws.cloudfront.CachePolicy("MediaCachePolicy", {
  comment: "Renditions: path only in the cache key; the objects' Cache-Control, up to a year",
  minTtl: 0,
  defaultTtl: YEAR_SECONDS,
  maxTtl: YEAR_SECONDS,
  parametersInCacheKeyAndForwardedToOrigin: {
    queryStringsConfig: { queryStringBehavior: "none" },
    headersConfig: { headerBehavior: "none" },
    cookiesConfig: { cookieBehavior: "none" },
    enableAcceptEncodingGzip: true,
    enableAcceptEncodingBrotli: true,
  },
});

/** The bytes are images: never sniffed as anything else, and only ever over HTTPS. */
const responseHeadersPolicy = new aws.cloudfront.ResponseHeadersPolicy("MediaResponseHeadersPolicy", {
  comment: "Renditions: nosniff and HSTS",
  securityHeadersConfig: {
    contentTypeOptions: { override: true },
    strictTransportSecurity: { accessControlMaxAgeSec: YEAR_SECONDS, includeSubdomains: true, override: true },
  },
});

const ORIGIN_ID = "images-bucket";

export const mediaDistribution = new aws.cloudfront.Distribution("MediaDistribution", {
  comment: `${$app.name} ${$app.stage}: renditions, by signed URL`,
  enabled: true,
  isIpv6Enabled: true,
  httpVersion: "http2and3",
  // North America and Europe: the cheapest class. "PriceClass_All" serves every edge.
  priceClass: "PriceClass_100",
  origins: [
    {
      originId: ORIGIN_ID,
      // The regional name: OAC signs for the bucket's own region.
      domainName: bucket.nodes.bucket.bucketRegionalDomainName,
      originAccessControlId: originAccessControl.id,
    },
  ],
  // The URL's path is the object's key (renditions/<hh>/<image>/<width>.webp): no origin path. Any
  // other key is refused by S3 (the bucket policy allows renditions/* alone).
  defaultCacheBehavior: {
    targetOriginId: ORIGIN_ID,
    viewerProtocolPolicy: "redirect-to-https",
    allowedMethods: ["GET", "HEAD"],
    cachedMethods: ["GET", "HEAD"],
    compress: true,
    cachePolicyId: cachePolicy.id,
    responseHeadersPolicyId: responseHeadersPolicy.id,
    trustedKeyGroups: [mediaKeyGroup.id],
  },
  restrictions: { geoRestriction: { restrictionType: "none" } },
  viewerCertificate: { cloudfrontDefaultCertificate: true },
});

// The bucket's policy names this distribution; it is declared before it (infra/storage.ts).
grantMediaDistribution(mediaDistribution.arn);

/** Where rendition URLs start: https://<distribution domain> (the key follows, renditions/...). */
export const mediaUrl = $interpolate`https://${mediaDistribution.domainName}`;

/** What the API function reads to sign rendition URLs (packages/core/src/config.ts). */
export const mediaEnvironment = {
  MEDIA_BASE_URL: mediaUrl,
  MEDIA_KEY_PAIR_ID: mediaPublicKey.id,
};
