// What the served-job tests share: waiting for a condition, and calling the HTTP API with a token.

/**
 * Polls `cond` every 20 ms until it holds; throws naming `what` after `ms` (a function: called then,
 * so that the error can say where things stood).
 */
export async function until(
  cond: () => boolean | Promise<boolean>,
  what: string | (() => string),
  ms = 10_000,
): Promise<void> {
  const end = Date.now() + ms
  while (!(await cond())) {
    if (Date.now() > end)
      throw new Error(`timed out waiting for ${typeof what === 'function' ? what() : what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

/** Headers of an API call with bearer `token` and a JSON body. */
export function apiHeaders(token: string): { [name: string]: string } {
  return { authorization: `Bearer ${token}`, 'content-type': 'application/json' }
}

/** Calls `method path` on the server at `url` with `headers`; the status and the JSON body (`{}` when empty). */
export async function api(
  url: string,
  headers: { [name: string]: string },
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: { [k: string]: unknown } }> {
  const res = await fetch(new URL(path, url), {
    method,
    headers,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  })
  const text = await res.text()
  return { status: res.status, body: (text === '' ? {} : JSON.parse(text)) as { [k: string]: unknown } }
}
