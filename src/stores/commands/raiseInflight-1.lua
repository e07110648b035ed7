#!lua
--[[
  Adds a cut to a partition's set of in-flight cuts: the last offset of a micro-batch (a full one, or a sub-batch
  of a bisection) that is about to write and may be cut short by a crash. Cuts below the micro-batch's first
  offset are pruned: everything before it is applied (the partition's progress is first - 1), so no replay can
  start below them. A replay after a crash never crosses a remaining cut (batch-handler.ts `microBatch`), which
  keeps the batch-level gates (includes/offset-gate.lua) exact; see the argument in topology/events-chain.ts.

  The set is a sorted set scored by offset. An older deployment kept a single marker as a string: it becomes the
  set's first cut, so an upgrade in the middle of a crash recovery keeps the cut it had.

  KEYS[1] in-flight cuts          ({p:<topic>:<partition>}:inflight)
  ARGV[1] the micro-batch's last offset
  ARGV[2] the micro-batch's first offset (cuts below it are pruned)

  Returns the number of cuts after the call.
]]
if redis.call('TYPE', KEYS[1]).ok == 'string' then
  local old = redis.call('GET', KEYS[1])
  redis.call('DEL', KEYS[1])
  redis.call('ZADD', KEYS[1], tonumber(old), old)
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[2])
redis.call('ZADD', KEYS[1], tonumber(ARGV[1]), ARGV[1])
return redis.call('ZCARD', KEYS[1])
