// Functions generated at run time (`new Function`): the per-task loops and the compiled SQL
// expressions. Each is compiled from a source text of its own.

/** Functions generated so far in this thread: numbers each one's source. */
let generated = 0

/**
 * Compiles `body` as the body of a function of `params`, calls that function with `args`, and
 * returns what it returns: typically a function closing over `args`.
 *
 * Every call compiles a source text of its own (a first-line comment numbers it). V8 caches what
 * it compiles from a source text, and every function made from one text shares one set of type
 * feedback. Two tasks generating the same loop would then show each other's processors, key
 * functions and steps at the loop's call sites: the calls go polymorphic, and the JIT no longer
 * specializes the loop to what it closes over. A loop generated "for each task, so that its call
 * sees one function and inlines it" is only that with a source of its own. Same-text closures ran
 * 1.9–2.8 × slower than unique-text ones in a loop calling one method of five classes (see
 * docs/performance.md, "Generated code of its own").
 */
export function generate<F>(params: readonly string[], body: string, args: readonly unknown[]): F {
  const make = new Function(...params, generatedSource(body)) as (...a: unknown[]) => F
  return make(...args)
}

/** The source text `generate` compiles for `body`: the body under a comment no other call shares. */
export function generatedSource(body: string): string {
  generated++
  return `// generated #${generated}\n${body}`
}
