#!lua
--[[
  Applies one user's events of a micro-batch, exactly once per source partition offset.

  KEYS[1] user counts hash        ({u:<id>}:counts)  event counts by type, firstSeen, lastSeen
  KEYS[2] user recent list        ({u:<id>}:recent)  distinct recent items, newest first
  KEYS[3] user purchased zset     ({u:<id>}:purchased) item -> last purchase time
  KEYS[4] user applied hash       ({u:<id>}:applied) o:<topic>:<partition> -> last applied offset

  ARGV[1] applied field           o:<topic>:<partition>
  ARGV[2] recent cap              distinct recent items to keep
  ARGV[3] records                 JSON array of [offset, type, itemId or false, eventTime], offsets ascending, of
                                  three kinds, applied in offset order:
                                  - an event: type is its event type; counted, its item moved to the head of the
                                    recent list, a purchase's item and time kept in the purchased zset;
                                  - type '!reset' (RESET_RECORD in src/stages/ingest/plan.ts): the user's rights
                                    reset (erasure, consent withdrawn) — counts, recent and purchased are deleted at
                                    that offset, and the record itself is not counted;
                                  - type '!merge' (MERGE_RECORD): identity stitching — the third element is the JSON
                                    of an anonymous profile's ActivitySnapshot (src/domain/profile.ts)
                                    {counts, firstSeen, lastSeen, recent, purchased}, merged at that offset: each
                                    count added (HINCRBY; fields firstSeen/lastSeen of counts ignored, zeros
                                    skipped), firstSeen lowered and lastSeen raised to the snapshot's when it has
                                    them (not null), its recent items (newest first) moved to the head of the recent
                                    list in their order, ahead of the user's own (more recent than them), and each
                                    [item, time] of purchased added with ZADD GT; the record itself is not counted

  Returns
   >= 0        number of records applied, resets and merges included (records at or below the stored offset are
               skipped: replays are no-ops, a reset or merge the state already reflects included)
   E_BAD_ARGS  ARGV[3] is not a JSON array, or a merge record of it (replayed or not) does not hold an activity
               snapshot of the shape above (a bug in the caller; nothing written)

  The #!lua shebang makes Redis refuse the script under OOM before it writes anything.
]]
--@include json-args
--@include offset-gate
local records = decodeTable(ARGV[3])
if not records then return E_BAD_ARGS end

-- Every merge snapshot is decoded and checked before anything is written: a bad one fails the whole call, never
-- half of it (a Redis error half-way through a script keeps what the script wrote before it).
local function isTime(x) return type(x) == 'number' and x == x and x > -math.huge and x < math.huge end
local function isCount(x) return isTime(x) and x >= 0 and x == math.floor(x) end
local function snapshotOf(json)
  local a = decodeTable(json)
  if not a or type(a.counts) ~= 'table' or type(a.recent) ~= 'table' or type(a.purchased) ~= 'table' then return nil end
  local s = { types = {}, counts = a.counts, recent = a.recent, purchased = a.purchased }
  for etype, n in pairs(a.counts) do
    if type(etype) ~= 'string' or not isCount(n) then return nil end
    if n > 0 and etype ~= 'firstSeen' and etype ~= 'lastSeen' then s.types[#s.types + 1] = etype end
  end
  table.sort(s.types) -- pairs has no order; the commands do
  for _, k in ipairs({ 'firstSeen', 'lastSeen' }) do
    if isTime(a[k]) then s[k] = a[k] elseif a[k] ~= nil and a[k] ~= cjson.null then return nil end
  end
  for _, item in ipairs(a.recent) do if type(item) ~= 'string' then return nil end end
  for _, p in ipairs(a.purchased) do
    if type(p) ~= 'table' or type(p[1]) ~= 'string' or not isTime(p[2]) then return nil end
  end
  return s
end
-- r[5] of a merge record: its snapshot
for _, r in ipairs(records) do
  if type(r) == 'table' and r[2] == '!merge' then
    r[5] = snapshotOf(r[3])
    if not r[5] then return E_BAD_ARGS end
  end
end

local field = ARGV[1]
local cap = tonumber(ARGV[2])
local last = appliedOffset(KEYS[4], field)

-- The records above the stored offset; a reset among them deletes everything the earlier ones did, so only the
-- records after the last reset are applied, after the DEL.
local fresh = {}
if applyAbove(records, last, function(r) fresh[#fresh + 1] = r end) == 0 then return 0 end
local from = 1
for i, r in ipairs(fresh) do
  if r[2] == '!reset' then from = i + 1 end
end
if from > 1 then redis.call('DEL', KEYS[1], KEYS[2], KEYS[3]) end

-- lastSeen raised to maxT, firstSeen lowered to minT (nil: left as it is); an absent lastSeen reads as 0, so a time
-- not above 0 is never stored as lastSeen (as it never was), an absent firstSeen is always set
local function raiseSeen(minT, maxT)
  if maxT then
    local seen = tonumber(redis.call('HGET', KEYS[1], 'lastSeen') or '0')
    if maxT > seen then redis.call('HSET', KEYS[1], 'lastSeen', maxT) end
  end
  if minT then
    local first = redis.call('HGET', KEYS[1], 'firstSeen')
    if not first or minT < tonumber(first) then redis.call('HSET', KEYS[1], 'firstSeen', minT) end
  end
end

-- A run of events (no reset or merge among them), applied combined, with the result of applying them one by one:
-- one HINCRBY per type, firstSeen/lastSeen read and written once, each distinct item moved to the head of the
-- recent list once in the order of its last occurrence, one ZADD GT per purchased item with its latest time.
-- (Per record that was ~8 commands; combined it is ~3 per distinct item.)
local function applyRun(i0, i1)
  if i1 < i0 then return end
  local counts, types = {}, {}
  local minT, maxT
  local lastAt, order = {}, {}
  local bought = {}
  for i = i0, i1 do
    local etype, item, t = fresh[i][2], fresh[i][3], fresh[i][4]
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
  for _, etype in ipairs(types) do redis.call('HINCRBY', KEYS[1], etype, counts[etype]) end
  raiseSeen(minT, maxT)
  table.sort(order, function(a, b) return lastAt[a] < lastAt[b] end)
  for _, item in ipairs(order) do
    redis.call('LREM', KEYS[2], 0, item)
    redis.call('LPUSH', KEYS[2], item)
    -- ZADD GT adds a new member, or raises a member's score only when the time is later
    -- (Redis 6.2+); a time not above -1 was never stored, as one by one (the absent score read as -1)
    if bought[item] and bought[item] > -1 then redis.call('ZADD', KEYS[3], 'GT', bought[item], item) end
  end
end

-- A merge: the anonymous activity added to the user's (the snapshot checked above).
local function applyMerge(a)
  for _, etype in ipairs(a.types) do redis.call('HINCRBY', KEYS[1], etype, a.counts[etype]) end
  raiseSeen(a.firstSeen, a.lastSeen)
  -- the snapshot's newest item last to the head, so the head reads in the snapshot's order
  for j = #a.recent, 1, -1 do
    redis.call('LREM', KEYS[2], 0, a.recent[j])
    redis.call('LPUSH', KEYS[2], a.recent[j])
  end
  for _, p in ipairs(a.purchased) do redis.call('ZADD', KEYS[3], 'GT', p[2], p[1]) end
end

-- In offset order: each run of events combined, then the merge that ends it.
local runFrom = from
for i = from, #fresh do
  if fresh[i][2] == '!merge' then
    applyRun(runFrom, i - 1)
    applyMerge(fresh[i][5])
    runFrom = i + 1
  end
end
applyRun(runFrom, #fresh)
redis.call('LTRIM', KEYS[2], 0, cap - 1)
redis.call('HSET', KEYS[4], field, fresh[#fresh][1])
return #fresh
