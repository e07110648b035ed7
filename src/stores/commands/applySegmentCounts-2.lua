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
   >= 0  number of deltas applied (those at or below the stored value are skipped)
    -1   ARGV[3] is not a JSON array (nothing written)
]]
local ok, deltas = pcall(cjson.decode, ARGV[3])
if not ok or type(deltas) ~= 'table' then return -1 end

local last = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '-1')
local applied = 0
for _, d in ipairs(deltas) do
  if d[1] > last then
    redis.call('HINCRBY', KEYS[1], d[2], d[3])
    applied = applied + 1
  end
end
if tonumber(ARGV[2]) > last then redis.call('HSET', KEYS[2], ARGV[1], ARGV[2]) end
return applied
