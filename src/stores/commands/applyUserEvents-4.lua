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

-- The records above the stored offset; a reset among them deletes everything the earlier ones did, so only the
-- records after the last reset are applied, after the DEL. They are then applied combined, with the result of
-- applying them one by one: one HINCRBY per type, firstSeen/lastSeen read and written once, each distinct item
-- moved to the head of the recent list once in the order of its last occurrence, one ZADD GT per purchased item
-- with its latest time. (Per record that was ~8 commands; combined it is ~3 per distinct item.)
local fresh = {}
if applyAbove(records, last, function(r) fresh[#fresh + 1] = r end) == 0 then return 0 end
local from = 1
for i, r in ipairs(fresh) do
  if r[2] == '!reset' then from = i + 1 end
end
if from > 1 then redis.call('DEL', KEYS[1], KEYS[2], KEYS[3]) end

local counts, types = {}, {}
local minT, maxT
local lastAt, order = {}, {}
local bought = {}
for i = from, #fresh do
  local _, etype, item, t = fresh[i][1], fresh[i][2], fresh[i][3], fresh[i][4]
  if not counts[etype] then counts[etype] = 0; types[#types + 1] = etype end
  counts[etype] = counts[etype] + 1
  if not minT or t < minT then minT = t end
  if not maxT or t > maxT then maxT = t end
  if item then
    if not lastAt[item] then order[#order + 1] = item end
    lastAt[item] = i
    if etype == 'purchase' and (not bought[item] or t > bought[item]) then bought[item] = t end
  end
end

if #types > 0 then
  for _, etype in ipairs(types) do redis.call('HINCRBY', KEYS[1], etype, counts[etype]) end
  local seen = tonumber(redis.call('HGET', KEYS[1], 'lastSeen') or '0')
  if maxT > seen then redis.call('HSET', KEYS[1], 'lastSeen', maxT) end
  local first = redis.call('HGET', KEYS[1], 'firstSeen')
  if not first or minT < tonumber(first) then redis.call('HSET', KEYS[1], 'firstSeen', minT) end
end
if #order > 0 then
  table.sort(order, function(a, b) return lastAt[a] < lastAt[b] end)
  for _, item in ipairs(order) do
    redis.call('LREM', KEYS[2], 0, item)
    redis.call('LPUSH', KEYS[2], item)
    -- ZADD GT adds a new member, or raises a member's score only when the time is later
    -- (Redis 6.2+); a time not above -1 was never stored, as one by one (the absent score read as -1)
    if bought[item] and bought[item] > -1 then redis.call('ZADD', KEYS[3], 'GT', bought[item], item) end
  end
end
redis.call('LTRIM', KEYS[2], 0, cap - 1)
redis.call('HSET', KEYS[4], field, fresh[#fresh][1])
return #fresh
