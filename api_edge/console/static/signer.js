// SDK-HMAC-SHA256 request signing in the browser, exactly as the edge verifies it
// (api_edge/auth.py) and as openstage/signing.py signs: the canonical request is
//   METHOD \n canonical_uri \n canonical_query \n canonical_headers \n signed_headers \n sha256hex(body)
// string_to_sign = "SDK-HMAC-SHA256\n" + X-Sdk-Date + "\n" + sha256hex(canonical_request)
// signature = hex(HMAC-SHA256(SK, string_to_sign)).
// WebCrypto (crypto.subtle) where the page is a secure context (https, localhost, 127.0.0.1);
// elsewhere (plain http to another host) a small SHA-256 in JavaScript gives the same bytes.

const enc = new TextEncoder();
const hex = (bytes) => Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, "0")).join("");

// --- SHA-256 / HMAC without WebCrypto (FIPS 180-4) ----------------------------------------------
const K = new Uint32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

export function sha256Bytes(data) {
  const bytes = data instanceof Uint8Array ? data : new Uint8Array(data);
  const bitLen = bytes.length * 8;
  const padded = new Uint8Array(((bytes.length + 9 + 63) >> 6) << 6);
  padded.set(bytes);
  padded[bytes.length] = 0x80;
  const view = new DataView(padded.buffer);
  view.setUint32(padded.length - 4, bitLen >>> 0);
  view.setUint32(padded.length - 8, Math.floor(bitLen / 2 ** 32));
  const h = new Uint32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);
  const w = new Uint32Array(64);
  const rotr = (x, n) => (x >>> n) | (x << (32 - n));
  for (let off = 0; off < padded.length; off += 64) {
    for (let i = 0; i < 16; i++) w[i] = view.getUint32(off + i * 4);
    for (let i = 16; i < 64; i++) {
      const s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >>> 3);
      const s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >>> 10);
      w[i] = (w[i - 16] + s0 + w[i - 7] + s1) >>> 0;
    }
    let [a, b, c, d, e, f, g, hh] = h;
    for (let i = 0; i < 64; i++) {
      const S1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25);
      const ch = (e & f) ^ (~e & g);
      const t1 = (hh + S1 + ch + K[i] + w[i]) >>> 0;
      const S0 = rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22);
      const maj = (a & b) ^ (a & c) ^ (b & c);
      const t2 = (S0 + maj) >>> 0;
      hh = g; g = f; f = e; e = (d + t1) >>> 0; d = c; c = b; b = a; a = (t1 + t2) >>> 0;
    }
    h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += hh;
  }
  const out = new Uint8Array(32);
  const ov = new DataView(out.buffer);
  h.forEach((v, i) => ov.setUint32(i * 4, v));
  return out;
}

export function hmacBytes(key, message) {
  let k = key.length > 64 ? sha256Bytes(key) : key;
  const block = new Uint8Array(64);
  block.set(k);
  const ipad = block.map((b) => b ^ 0x36);
  const opad = block.map((b) => b ^ 0x5c);
  const inner = sha256Bytes(concat(ipad, message));
  return sha256Bytes(concat(opad, inner));
}

function concat(a, b) {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

const subtle = globalThis.crypto && globalThis.crypto.subtle;

export async function sha256Hex(data) {
  const bytes = typeof data === "string" ? enc.encode(data) : data;
  if (subtle) return hex(await subtle.digest("SHA-256", bytes));
  return hex(sha256Bytes(bytes));
}

export async function hmacHex(key, message) {
  const k = enc.encode(key);
  const m = enc.encode(message);
  if (subtle) {
    const cryptoKey = await subtle.importKey("raw", k, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    return hex(await subtle.sign("HMAC", cryptoKey, m));
  }
  return hex(hmacBytes(k, m));
}

// --- canonical forms (mirror api_edge/auth.py) ----------------------------------------------------
// Python's quote(s, safe="~"): everything but A-Z a-z 0-9 _ . - ~ is percent-encoded (UTF-8).
export function quote(s) {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase());
}

function unquote(s) {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

export function canonicalUri(path) {
  let uri = unquote(path).split("/").map(quote).join("/");
  if (!uri.endsWith("/")) uri += "/";
  return uri;
}

export function canonicalQuery(search) {
  const pairs = Array.from(new URLSearchParams(search));
  const cmp = (x, y) => (x < y ? -1 : x > y ? 1 : 0);
  pairs.sort((p, q) => cmp(p[0], q[0]) || cmp(p[1], q[1]));
  return pairs.map(([k, v]) => `${quote(k)}=${quote(v)}`).join("&");
}

export function sdkDate(now = new Date()) {
  return now.toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
}

// The headers of a signed request: the given ones, X-Sdk-Date and Authorization (host is the
// one the browser sends: the page's own).
export async function signRequest({ method, url, headers = {}, body = "", ak, sk, now }) {
  const u = new URL(url, location.href);
  const date = sdkDate(now);
  const all = { ...headers, "X-Sdk-Date": date };
  const lower = { host: u.host };
  for (const [k, v] of Object.entries(all)) lower[k.toLowerCase()] = String(v);
  const names = Object.keys(lower).sort();
  const canonicalHeaders = names.map((n) => `${n}:${lower[n].trim()}\n`).join("");
  const canonical = [
    method.toUpperCase(),
    canonicalUri(u.pathname),
    canonicalQuery(u.search),
    canonicalHeaders,
    names.join(";"),
    await sha256Hex(enc.encode(body || "")),
  ].join("\n");
  const toSign = `SDK-HMAC-SHA256\n${date}\n${await sha256Hex(canonical)}`;
  const signature = await hmacHex(sk, toSign);
  return {
    ...all,
    Authorization: `SDK-HMAC-SHA256 Access=${ak}, SignedHeaders=${names.join(";")}, Signature=${signature}`,
  };
}
