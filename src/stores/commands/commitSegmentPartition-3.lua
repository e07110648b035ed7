#!lua
--[[
  Writes a partition's segment state after all user writes of a micro-batch (or a punctuation, or one chunk of a
  rules re-evaluation) succeeded: the event-time watermark, the last offset, the too-late offsets and changes not
  yet known to be emitted, the timer index, the index of the partition's known users and the per-partition member
  sets. A compare-and-set on (offset, watermark) as read before the batch makes it exactly once under replays and
  refuses a concurrent (zombie) writer. Every key is in the partition's slot {p:<topic>:<partition>}; member set
  keys are built from ARGV[11] (same hash tag) because their number depends on the rule file.

  KEYS[1] partition segment state ({p:<topic>:<partition>}:segstate)  wm, o, wall, late, pending, rules, rgen, msets
  KEYS[2] partition timer index   ({p:<topic>:<partition>}:timers)    user id -> due event time
  KEYS[3] partition known users   ({p:<topic>:<partition>}:users)     ids of users with feature state

  ARGV[1] expected offset         as read ('-1' when none)
  ARGV[2] expected watermark      as read ('' when none)
  ARGV[3] new offset
  ARGV[4] new watermark           ('' when still none)
  ARGV[5] wall clock              ms when the watermark last moved
  ARGV[6] late                    JSON array of too-late offsets after the progress offset
  ARGV[7] pending                 JSON array of changes after the progress offset
  ARGV[8] timer updates           JSON array of [userId, due or false] (false removes the user's timer)
  ARGV[9] known users             JSON array of user ids to add to KEYS[3]
  ARGV[10] member updates         JSON array of [segmentId, userId, 1 (member) or 0] — state, not deltas: idempotent
  ARGV[11] member key prefix      '<prefix>:{p:<topic>:<partition>}:members:'
  ARGV[12] rules fingerprint      '' to leave it; otherwise stored (end of a re-evaluation), rgen is incremented
                                  and the member sets of segments in the old `msets` but not in ARGV[13] are deleted
  ARGV[13] member segments        JSON array of the segment ids with member sets (with ARGV[12])

  Returns
   >= 0                          number of timer updates written
   E_SEGMENT_PARTITION_CONFLICT  the stored offset or watermark is not the expected one (nothing written; retry the
                                 micro-batch)
   E_BAD_ARGS                    a JSON argument is not an array (nothing written)
]]
--@include json-args
local timers = decodeTable(ARGV[8])
if not timers then return E_BAD_ARGS end
local users = decodeTable(ARGV[9])
if not users then return E_BAD_ARGS end
local members = decodeTable(ARGV[10])
if not members then return E_BAD_ARGS end
local msets = nil
if ARGV[12] ~= '' then
  msets = decodeTable(ARGV[13])
  if not msets then return E_BAD_ARGS end
end

local o = redis.call('HGET', KEYS[1], 'o') or '-1'
local wm = redis.call('HGET', KEYS[1], 'wm') or ''
if o ~= ARGV[1] or wm ~= ARGV[2] then return E_SEGMENT_PARTITION_CONFLICT end

redis.call('HSET', KEYS[1], 'o', ARGV[3], 'wall', ARGV[5], 'late', ARGV[6], 'pending', ARGV[7])
if ARGV[4] ~= '' then redis.call('HSET', KEYS[1], 'wm', ARGV[4]) end

for _, t in ipairs(timers) do
  if t[2] then redis.call('ZADD', KEYS[2], t[2], t[1]) else redis.call('ZREM', KEYS[2], t[1]) end
end
for i = 1, #users, 1000 do
  redis.call('SADD', KEYS[3], unpack(users, i, math.min(i + 999, #users)))
end
for _, m in ipairs(members) do
  if m[3] == 1 then redis.call('SADD', ARGV[11] .. m[1], m[2]) else redis.call('SREM', ARGV[11] .. m[1], m[2]) end
end
if msets then
  local keep = {}
  for _, s in ipairs(msets) do keep[s] = true end
  local old = redis.call('HGET', KEYS[1], 'msets')
  local prev = old and decodeTable(old)
  if prev then
    for _, s in ipairs(prev) do
      if not keep[s] then redis.call('DEL', ARGV[11] .. s) end
    end
  end
  redis.call('HSET', KEYS[1], 'rules', ARGV[12], 'msets', ARGV[13])
  redis.call('HINCRBY', KEYS[1], 'rgen', 1)
end
return #timers
