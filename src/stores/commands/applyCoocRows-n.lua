#!lua
--[[
  applyCoocRow for many rows in one call, for a single Redis (on a Redis Cluster the rows of a micro-batch
  live in different slots, so the worker calls applyCoocRow once per row instead). Same semantics per row.

  KEYS[1..n] item row hashes      ({i:<item>}:co)

  ARGV[1] applied field           o:<topic>:<partition>
  ARGV[2] batch last offset
  ARGV[3] deltas                  JSON array, one entry per key: an array of [field, increment]

  Returns
   >= 0  number of fields incremented over all rows (rows that already had the batch are skipped)
    -1   ARGV[3] is not a JSON array with one entry per key (nothing written)
]]
local ok, rows = pcall(cjson.decode, ARGV[3])
if not ok or type(rows) ~= 'table' or #rows ~= #KEYS then return -1 end
local field = ARGV[1]
local batchLast = tonumber(ARGV[2])
local n = 0
for k, key in ipairs(KEYS) do
  local last = tonumber(redis.call('HGET', key, field) or '-1')
  if batchLast > last then
    for _, d in ipairs(rows[k]) do
      redis.call('HINCRBYFLOAT', key, d[1], d[2])
      n = n + 1
    end
    redis.call('HSET', key, field, batchLast)
  end
end
return n
