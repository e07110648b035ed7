#!lua
--[[
  Adds count deltas from one source partition to a hash, exactly once per source offset (or punctuation
  sequence), as applyPopularity does for item popularity. Used for the segment member counts ({g}:segcounts with
  {g}:segapplied) and the experiments' per-variant counts ({g}:experiments with {g}:expapplied).

  KEYS[1] counts hash             field -> count (e.g. segment id -> members)
  KEYS[2] applied hash            o:<topic>:<partition> / t:<topic>:<partition> -> last applied

  ARGV[1] applied field
  ARGV[2] last                    the batch's last offset (or the punctuation's sequence)
  ARGV[3] deltas                  JSON array of [offset or sequence, field, integer delta], ascending

  Returns
   >= 0        number of deltas applied (those at or below the stored value are skipped)
   E_BAD_ARGS  ARGV[3] is not a JSON array (nothing written)

  Unlike applyPopularity it gates each delta, not the batch, and stores ARGV[2] as given.
]]
--@include json-args
--@include offset-gate
local deltas = decodeTable(ARGV[3])
if not deltas then return E_BAD_ARGS end

local last = appliedOffset(KEYS[2], ARGV[1])
local applied = applyAbove(deltas, last, function(d) redis.call('HINCRBY', KEYS[1], d[2], d[3]) end)
if tonumber(ARGV[2]) > last then redis.call('HSET', KEYS[2], ARGV[1], ARGV[2]) end
return applied
