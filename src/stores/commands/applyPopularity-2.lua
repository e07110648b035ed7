#!lua
--[[
  Adds a micro-batch's item popularity deltas from one source partition, exactly once per offset.

  KEYS[1] popularity zset         ({g}:popularity) item -> purchase count
  KEYS[2] global applied hash     ({g}:applied)    o:<topic>:<partition> -> last applied offset

  ARGV[1] applied field           o:<topic>:<partition>
  ARGV[2] batch last offset       advanced even when the batch had no deltas
  ARGV[3] deltas                  JSON array of [offset, itemId, delta], offsets ascending

  Returns
   >= 0        number of deltas applied (0 when the batch was applied before; deltas at or below the stored
               offset are skipped)
   E_BAD_ARGS  ARGV[3] is not a JSON array (nothing written)
]]
--@include json-args
--@include offset-gate
local deltas = decodeTable(ARGV[3])
if not deltas then return E_BAD_ARGS end

return applyBatchOnce(KEYS[2], ARGV[1], tonumber(ARGV[2]), function(last)
  return applyAbove(deltas, last, function(d) redis.call('ZINCRBY', KEYS[1], d[3], d[2]) end)
end)
