/** The "what limits it" paragraph of BENCHMARKS.md, from profiling (node --cpu-prof); kept by hand. */
export const LIMITS = `**In process** (profiles: \`node --cpu-prof --import tsx bench/profile-target.ts\`). Asking costs about twice as
much as learning. A request gathers ~270 candidates (the collaborative neighbours of the 5 newest items, 5 × 50;
their content neighbours, 5 × 20; ~60 buy-again items from the purchase log, each with an \`exp\`; trending lists),
each one an update of a sparse typed-array accumulator; then a floor under the top 60 (the 60th best score without
trending, a lower bound) drops most of them, and a heap gives the best-first order only as far as the category cap
reads it. Measured alone on a warm cache a request costs ~13 µs; between learning steps ~20 µs, because learning
touches a 64 MB pair table (1.8 M pairs) and the neighbour lists and so evicts the scorer's arrays. Learning
(~9 µs/event) is ~17 pair updates plus ~12 lookups for list refreshes per event in that table (cache misses, which
a prefetch pass overlaps), ~33 neighbour-list offers (one id scan each; the weakest entry is cached) and three
trending counters. The 50,000 events/s aim (20 µs per event for asking and learning) is met by learning alone
(~110,000 events/s) but not with a top-20 request before each event (~34,000 events/s): getting there would mean
computing less — fewer seeds or neighbours, no trending for warm users, a cap on buy-again candidates — which
changes the recommendations and the metrics, so it was not done in this pass (the eval figures stay exactly the same).

**Worker with Redis state.** The recommender is a small share of the worker's time: a worker profile shows the
main thread idle ~45 % of the time (waiting for Redis replies and Kafka fetches, micro-batch after micro-batch, with
partitions handled 3 at a time), the rest spread over Avro decoding, rolling features and segments, the
recommender (~5 %), encoding and producing the lists, and GC (~7 %). Kafka, Redis and the worker share the same 2
CPUs. Start-up (joining the group, reading the 4,058-item catalog, warming the model from Redis) takes ~14 s of a
full replay. The worker sends ~1.1 Redis commands per event (script calls and pipelined reads and writes; within
the 3-per-event budget). The server counts ~30 per event because it also counts the commands that the Lua scripts
run — mostly HINCRBYFLOAT on co-occurrence rows (~5 µs each, ~17 pair increments per event), in row scripts that
keep Redis busy 20–30 ms per call. The worker reaches ~5,000 events/s, below the 15,000 aim. Processing 6
partitions at once instead of 3 made no difference on 120,000 events (4,371 vs 4,499 events/s, one run each);
the next candidates are cheaper row increments (integer fixed point with HINCRBY, ~0.7 µs) and fewer round trips
per micro-batch in the segments stage.`;

/** Before/after of the in-process speed-up pass (measured by hand, not by the bench). */
export const HISTORY = `Before the in-process speed-up pass (commit dd614c2) and after it, \`npx tsx src/cli/main.ts eval --no-baseline\`
on this machine, the two versions run alternately: 13,211 and 13,594 events/s before, 29,505 and 29,661 after
(×2.2). HR@10 0.3034, NDCG@10 0.1921, Recall@20 0.3545, MAP@10 0.1575 and coverage 1.0 are the same. Every
top-20 list asked during the replay and every final neighbour list are identical too (\`npx tsx bench/verify.ts\`
hashes them). The speed-up did not change what is computed: integer-keyed open-addressing pair table instead of a
Map with boxed double keys; cached minimum per neighbour list; trending scopes resolved once (no string keys
per event); interleaved typed-array accumulators; the window filter marked once from the purchase log; a
memoised buy-again recency factor; a provable floor under the top M with a lazily popped heap instead of sorting
the candidates; ids written into a reused buffer for the eval; prefetching of the pair table's slots.`;
