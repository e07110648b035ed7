#!lua
--[[
  applyCoocRow for many rows in one call, for a single Redis (on a Redis Cluster the rows of a micro-batch
  live in different slots, so the worker calls applyCoocRow once per row instead). Same semantics per row.

  KEYS[1..n] item row hashes      ({i:<item>}:co)

  ARGV[1] applied field           o:<topic>:<partition>
  ARGV[2] batch last offset
  ARGV[3] deltas                  JSON array, one entry per key: an array of [field, increment], field i:<other item>
                                  or _n (includes/cooc-row.lua)

  Returns
   >= 0        number of fields incremented over all rows (rows that already had the batch are skipped)
   E_BAD_ARGS  ARGV[3] is not a JSON array with one entry per key, each of [i:<item> or _n, number] (nothing written)
]]
--@include json-args
--@include offset-gate
--@include cooc-row
local rows = decodeTable(ARGV[3])
if not rows or #rows ~= #KEYS then return E_BAD_ARGS end
for _, r in ipairs(rows) do
  if type(r) ~= 'table' or not validRowDeltas(r) then return E_BAD_ARGS end
end
local field = ARGV[1]
local batchLast = tonumber(ARGV[2])
local n = 0
for k, key in ipairs(KEYS) do
  n = n + applyBatchOnce(key, field, batchLast, function()
    local incremented = 0
    for _, d in ipairs(rows[k]) do
      redis.call('HINCRBYFLOAT', key, d[1], d[2])
      incremented = incremented + 1
    end
    return incremented
  end)
end
return n
