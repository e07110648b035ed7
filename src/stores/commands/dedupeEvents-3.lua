#!lua
--[[
  Decides which events of a micro-batch repeat an event id already applied on the partition within the window
  (DUPLICATE_EVENT), exactly once: a replay of the same records gets the same decisions.

  KEYS[1] partition dedupe window ({p:<topic>:<partition>}:dedupe)        event id -> offset of its last applied record
  KEYS[2] dedupe bookkeeping      ({p:<topic>:<partition>}:dedupe-state)  o -> last offset decided,
                                                                          dups -> JSON array of duplicate offsets > progress
  KEYS[3] partition progress      ({p:<topic>:<partition>}:progress)      read only: offsets at or below it are done

  ARGV[1] window                  offsets: a record at offset k repeats an id applied at offset j when k - window <= j < k
  ARGV[2] batch last offset
  ARGV[3] records                 JSON array of [offset, eventId], offsets ascending

  Returns
   array         the offsets of the batch's duplicates, ascending (possibly empty)
   E_BAD_ARGS    ARGV[3] is not a JSON array (nothing written)

  Exactly once: a record above `o` is decided now (and a non-duplicate recorded under its id); a record at or below
  `o` was decided by an earlier attempt, whose duplicates are kept in `dups` until the partition's progress passes
  them, so a replay after a crash answers as the first attempt did even when the window has moved since. Bounded:
  ids whose offset fell out of the window behind `o` are removed, so the set holds at most window + 1 ids, and
  `dups` only the duplicates of the micro-batches not yet complete.
]]
--@include json-args
local records = decodeTable(ARGV[3])
if not records then return E_BAD_ARGS end
local window = tonumber(ARGV[1])
local batchLast = tonumber(ARGV[2])
local progress = tonumber(redis.call('GET', KEYS[3]) or '-1')
local o = tonumber(redis.call('HGET', KEYS[2], 'o') or '-1')
local stored = decodeTable(redis.call('HGET', KEYS[2], 'dups') or '[]') or {}

local known = {}
local keep = {}
for _, k in ipairs(stored) do
  if k > progress then
    known[k] = true
    keep[#keep + 1] = k
  end
end

local out = {}
for _, r in ipairs(records) do
  local k, id = r[1], r[2]
  if k <= o then
    if known[k] then out[#out + 1] = k end
  else
    local s = redis.call('ZSCORE', KEYS[1], id)
    local j = s and tonumber(s)
    if j and j < k and k - j <= window then
      out[#out + 1] = k
      keep[#keep + 1] = k
    else
      redis.call('ZADD', KEYS[1], k, id)
    end
  end
end

if batchLast > o then o = batchLast end
-- cjson encodes an empty table as {}: keep the stored value an array.
redis.call('HSET', KEYS[2], 'o', o, 'dups', #keep == 0 and '[]' or cjson.encode(keep))
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. (o - window))
return out
