#!lua
--[[
  Adds a micro-batch's item popularity deltas from one source partition, exactly once per offset.

  KEYS[1] popularity zset         ({g}:popularity) item -> purchase count
  KEYS[2] global applied hash     ({g}:applied)    o:<topic>:<partition> -> last applied offset

  ARGV[1] applied field           o:<topic>:<partition>
  ARGV[2] batch last offset       advanced even when the batch had no deltas
  ARGV[3] deltas                  JSON array of [offset, itemId, delta], offsets ascending

  Returns
   >= 0  number of deltas applied (deltas at or below the stored offset are skipped)
    -1   ARGV[3] is not a JSON array (nothing written)
]]
local ok, deltas = pcall(cjson.decode, ARGV[3])
if not ok or type(deltas) ~= 'table' then return -1 end

local field = ARGV[1]
local last = tonumber(redis.call('HGET', KEYS[2], field) or '-1')
local batchLast = tonumber(ARGV[2])
if batchLast <= last then return 0 end

local applied = 0
for _, d in ipairs(deltas) do
  if d[1] > last then
    redis.call('ZINCRBY', KEYS[1], d[3], d[2])
    applied = applied + 1
  end
end
redis.call('HSET', KEYS[2], field, batchLast)
return applied
