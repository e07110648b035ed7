#!lua
--[[
  Adds the segment member count deltas of a micro-batch (or a punctuation) from one source partition, exactly
  once per source offset (or punctuation sequence), as applyPopularity does for item popularity.

  KEYS[1] segment counts hash     ({g}:segcounts)  segment id -> members
  KEYS[2] applied hash            ({g}:segapplied) o:<topic>:<partition> / t:<topic>:<partition> -> last applied

  ARGV[1] applied field
  ARGV[2] last                    the batch's last offset (or the punctuation's sequence)
  ARGV[3] deltas                  JSON array of [offset or sequence, segmentId, +1 or -1], ascending

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
