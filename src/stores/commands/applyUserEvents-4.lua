#!lua
--[[
  Applies one user's events of a micro-batch, exactly once per source partition offset.

  KEYS[1] user counts hash        ({u:<id>}:counts)  event counts by type, firstSeen, lastSeen
  KEYS[2] user recent list        ({u:<id>}:recent)  distinct recent items, newest first
  KEYS[3] user purchased zset     ({u:<id>}:purchased) item -> last purchase time
  KEYS[4] user applied hash       ({u:<id>}:applied) o:<topic>:<partition> -> last applied offset

  ARGV[1] applied field           o:<topic>:<partition>
  ARGV[2] recent cap              distinct recent items to keep
  ARGV[3] records                 JSON array of [offset, type, itemId or false, eventTime], offsets ascending;
                                  type '!reset' (RESET_RECORD in src/stages/ingest/plan.ts): the user's rights reset
                                  (erasure, consent withdrawn) — counts, recent and purchased are deleted at that
                                  offset, and the record itself is not counted

  Returns
   >= 0        number of records applied, resets included (records at or below the stored offset are skipped:
               replays are no-ops, a reset the state already reflects included)
   E_BAD_ARGS  ARGV[3] is not a JSON array (a bug in the caller; nothing written)

  The #!lua shebang makes Redis refuse the script under OOM before it writes anything.
]]
--@include json-args
--@include offset-gate
local records = decodeTable(ARGV[3])
if not records then return E_BAD_ARGS end

local field = ARGV[1]
local cap = tonumber(ARGV[2])
local last = appliedOffset(KEYS[4], field)
local newest = last

local applied = applyAbove(records, last, function(r)
  local offset, etype, item, t = r[1], r[2], r[3], r[4]
  newest = offset
  if etype == '!reset' then
    -- Later records of the batch start from empty; the applied offset stays (it gates the replays).
    redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
    return
  end
  redis.call('HINCRBY', KEYS[1], etype, 1)
  local seen = tonumber(redis.call('HGET', KEYS[1], 'lastSeen') or '0')
  if t > seen then redis.call('HSET', KEYS[1], 'lastSeen', t) end
  local first = redis.call('HGET', KEYS[1], 'firstSeen')
  if not first or t < tonumber(first) then redis.call('HSET', KEYS[1], 'firstSeen', t) end
  if item then
    redis.call('LREM', KEYS[2], 0, item)
    redis.call('LPUSH', KEYS[2], item)
    if etype == 'purchase' then
      local prev = tonumber(redis.call('ZSCORE', KEYS[3], item) or '-1')
      if t > prev then redis.call('ZADD', KEYS[3], t, item) end
    end
  end
end)

if applied > 0 then
  redis.call('LTRIM', KEYS[2], 0, cap - 1)
  redis.call('HSET', KEYS[4], field, newest)
end
return applied
