// A fast, deterministic 64-bit hash of strings and numbers, returned as two 32-bit halves.
// The sketches (HyperLogLog, Count-Min) index by it; the same value hashes the same everywhere.

/** A value the sketches accept: a string, or a number (integers and floats alike). */
export type Hashable = string | number

const C1 = 0xcc9e2d51
const C2 = 0x1b873593
const SEED_HI = 0x9747b28c
const SEED_LO = 0x5bd1e995

const F64 = new Float64Array(1)
const U32 = new Uint32Array(F64.buffer)

/**
 * The low 32 bits (signed) of the last hash computed by `hash64`, `hashString` or `hashNumber`.
 * Read it right after the call (the hash functions return the high 32 bits).
 */
export let hashLow = 0

/**
 * MurmurHash3's final avalanche on 32 bits: every input bit flips each output bit with ~1/2 probability.
 * Returns a signed 32-bit integer (kept signed so that V8 stores it unboxed).
 */
export function fmix32(h: number): number {
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  return h ^ (h >>> 16)
}

function mixBlock(h: number, k: number): number {
  k = Math.imul(k, C1)
  k = (k << 15) | (k >>> 17)
  k = Math.imul(k, C2)
  h ^= k
  h = (h << 13) | (h >>> 19)
  return (Math.imul(h, 5) + 0xe6546b64) | 0
}

/**
 * Hashes a string's UTF-16 code units, two per 32-bit block, into two independent MurmurHash3-style
 * accumulators. Returns the high 32 bits as a signed 32-bit integer; the low 32 bits are left in `hashLow`.
 */
export function hashString(s: string): number {
  const n = s.length
  let h1 = SEED_HI
  let h2 = SEED_LO
  let i = 0
  for (; i + 1 < n; i += 2) {
    const k = s.charCodeAt(i) | (s.charCodeAt(i + 1) << 16)
    h1 = mixBlock(h1, k)
    h2 = mixBlock(h2, k ^ 0x5851f42d)
  }
  if (i < n) {
    const k = s.charCodeAt(i)
    h1 = mixBlock(h1, k)
    h2 = mixBlock(h2, k ^ 0x5851f42d)
  }
  h1 ^= n
  h2 ^= n
  h1 = (h1 + h2) | 0
  h2 = (h2 + h1) | 0
  h1 = fmix32(h1)
  h2 = fmix32(h2)
  h1 = (h1 + h2) | 0
  h2 = (h2 + h1) | 0
  hashLow = h2
  return h1
}

/**
 * Hashes a number by its value: integers in the safe range hash by their 64-bit two's-complement
 * halves, other numbers by their IEEE-754 bits (`-0` hashes as `0`). Returns the high 32 bits as a
 * signed 32-bit integer; the low 32 bits are left in `hashLow`.
 */
export function hashNumber(x: number): number {
  let lo: number
  let hi: number
  if (x >= 0 && x <= 0xffffffff && x === x >>> 0) {
    lo = x
    hi = 0
  } else if (Number.isSafeInteger(x)) {
    lo = x >>> 0
    hi = Math.floor(x / 4294967296) | 0
  } else {
    F64[0] = x === 0 ? 0 : x
    lo = U32[0]!
    hi = U32[1]! ^ 0x7ff00000
  }
  let h1 = fmix32(Math.imul(lo ^ SEED_HI, C1) ^ ((hi << 16) | (hi >>> 16)))
  let h2 = fmix32(Math.imul(hi ^ SEED_LO, C2) ^ h1 ^ lo)
  h1 = fmix32((h1 + Math.imul(h2, 5)) | 0)
  h2 = (h2 + h1) | 0
  hashLow = h2
  return h1
}

/** Hashes a string or a number (see `hashString`, `hashNumber`). Returns the high half; the low one is in `hashLow`. */
export function hash64(value: Hashable): number {
  return typeof value === 'number' ? hashNumber(value) : hashString(value)
}
