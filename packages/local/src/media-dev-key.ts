/**
 * DEVELOPMENT ONLY: the CloudFront-style key pair that `npm run dev` (and the tests) sign media
 * URLs with and check them against. Its private key is public (it is in this file), so nothing
 * it signs proves anything: the deployed stack signs with an SST secret and its key group trusts
 * only that secret's public key. This module lives in packages/local, which no Lambda bundle
 * imports, so the key cannot ship by accident.
 */
export const DEVELOPMENT_MEDIA_KEY = {
  /** Shaped like a CloudFront public key id (upper-case letters and digits), and says what it is. */
  keyPairId: "KDEVELOPMENTONLY",
  /** 2048-bit RSA, SPKI PEM: what a CloudFront public key (and the local twin) takes. */
  publicKeyPem: `-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAwv0CRXCUMBjqGAf1Z9Xa
9dtZZFx1XVIRAS5zzjaTBHPTgtNe4/KRq/3W719QjKaMmPrZrcbJf2XpkxoTLgUb
yZAh57cOBVxewiF5Ize4MEJmtHxtxneSebzzhd5VOR8tkTHIHd+6TEal3imcWgnN
zctDKGrMQIa+TwC9MHLWFCS2h7AIqKsUThph3c5GGFtytMvPUMmYiMfV3g2Of3Gz
9zXVpq8KGNNMECZvWcYr1fN6qJtoS4M3EavVGAiww//w4RZCWyBfIQtGpcgsa0gM
UxnfcsbVb6lr8MqubQlc9Bi0zplamouLFl1XA9RoDftzKX3d73l1FxrkzEHHbewr
xwIDAQAB
-----END PUBLIC KEY-----
`,
  /** PKCS#8 PEM. Never deploy: anyone can read it here. */
  privateKeyPem: `-----BEGIN PRIVATE KEY-----
MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQDC/QJFcJQwGOoY
B/Vn1dr121lkXHVdUhEBLnPONpMEc9OC017j8pGr/dbvX1CMpoyY+tmtxsl/ZemT
GhMuBRvJkCHntw4FXF7CIXkjN7gwQma0fG3Gd5J5vPOF3lU5Hy2RMcgd37pMRqXe
KZxaCc3Ny0MoasxAhr5PAL0wctYUJLaHsAioqxROGmHdzkYYW3K0y89QyZiIx9Xe
DY5/cbP3NdWmrwoY00wQJm9ZxivV83qom2hLgzcRq9UYCLDD//DhFkJbIF8hC0al
yCxrSAxTGd9yxtVvqWvwyq5tCVz0GLTOmVqai4sWXVcD1GgN+3Mpfd3veXUXGuTM
Qcdt7CvHAgMBAAECggEAGEQccD/ecU3odC0pYU6//TDbIx5OjNqVuyvoxZUNHtS7
UeC0QnIBpwHkKc4W3Cot/Svaw0Gl+fDY7LGmCWghWShSz998IzanpEk+Jh/dEERz
O6rwjm57ECNvuw08VeuHZDZpzS32pV91bPyItLvbnOza4sDHwpACRxq0cL8Z3U+s
r7ifQx0frKBa0gahE9mUXpgI29B19E9lokeUNpcLnOOPGunXncwNcJBlH0iWaesS
dMYzYlRuBgDykXdd69VOZsiqClsaGkPz4fpUPb7qvwLbCyUTmnRA3FH/x3bAwopa
bmyCKHUUHlrehMkQ++2Fqmt1ijHw6Ztx6wWtgmBbIQKBgQDosntwmk2/9/7k63eW
uze0A4Vn1A2vjwp/hBSaWjEhAig1/+rSuFRQiFwaSYibIZv59TP0eKqS+nKZBJRG
nB28DxTSGgFUtyUuUM0L1JWC2Net0ms2S3G7SUUYFc5LhRGEVJYDXIxEMCQobdrW
ocxgqTWl9p5W5iy8ODCv8ZcGMwKBgQDWg86NZHsfjLiyOz0ZwP7TZy/Sdkoay56k
RDbFv7RDfCxCKdAQd5uh3fygJ0nQ6IZSYITzvoNBNIJp050c10276UMTgJ1U0quF
QBHodvWQ8z174+aljzEu0N04IYpo5xVYoPelbjumNfsBpi8fhBXpco/Izo+weRyA
g0FpmEWoHQKBgG6k/2DpXfLbvs2m0PRRDQmBaxuVjvRdNYawjQNfw2CIoAodJ9EO
aLjqPbEaKeRptLrDxvKFtcWxZHAx5zcz4EedfC7ywpM/imRdc0Ie0QCojtVN6kCk
2u1Mx5fONoteOJgNiE8M4H1Dzs2Sfq3zvTRxANtrSprTU44jwbLHUyJVAoGBAI9L
KLTmhCCFHfNhAuWrOA37hcRu4/2WOvi74GKkNkRGNEJWL/hwDXRJFzHcTMDSMrfg
Za90ebUa4GrUwsS7Rd/aZ8YlSfOZbp3qOIwyusMC2PVjPXUme9IsDzopnY2Jn4a+
r+6//fR/Zpapbhz9XK2+qzGWWgGmRVXLV+yznQQ5AoGAFKYvEWBl+BxVgAE0LAUs
Xcz+xY9M9qoiO1WopHxZuKwCKRpeEjyXc2pVNiq2u8QI9XdVYlIvzE+xSwRhO2f7
ilVo5ujYp6rfvDNfzn8OQZ6qDsQpX/glgYMpCzDUvAv4srZU0kXPP5ja9ONrMs90
fvQO69gY5rZ8gUeh9RTpCJw=
-----END PRIVATE KEY-----
`,
} as const;
