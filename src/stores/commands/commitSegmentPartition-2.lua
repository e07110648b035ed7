#!lua
--[[
  Writes a partition's segment state after all user writes of a micro-batch succeeded: the event-time watermark,
  the last offset, the too-late offsets and changes not yet known to be emitted, and the timer index. A
  compare-and-set on (offset, watermark) as read before the batch makes it exactly once under replays and
  refuses a concurrent (zombie) writer.

  KEYS[1] partition segment state ({p:<topic>:<partition>}:segstate)  wm, o, wall, late, pending
  KEYS[2] partition timer index   ({p:<topic>:<partition>}:timers)    user id -> due event time

  ARGV[1] expected offset         as read ('-1' when none)
  ARGV[2] expected watermark      as read ('' when none)
  ARGV[3] new offset
  ARGV[4] new watermark           ('' when still none)
  ARGV[5] wall clock              ms when the watermark last moved
  ARGV[6] late                    JSON array of too-late offsets after the progress offset
  ARGV[7] pending                 JSON array of changes after the progress offset
  ARGV[8] timer updates           JSON array of [userId, due or false] (false removes the user's timer)

  Returns
   >= 0  number of timer updates written
   -21   the stored offset or watermark is not the expected one (nothing written; retry the micro-batch)
    -1   ARGV[8] is not a JSON array (nothing written)
]]
local ok, timers = pcall(cjson.decode, ARGV[8])
if not ok or type(timers) ~= 'table' then return -1 end

local o = redis.call('HGET', KEYS[1], 'o') or '-1'
local wm = redis.call('HGET', KEYS[1], 'wm') or ''
if o ~= ARGV[1] or wm ~= ARGV[2] then return -21 end

redis.call('HSET', KEYS[1], 'o', ARGV[3], 'wall', ARGV[5], 'late', ARGV[6], 'pending', ARGV[7])
if ARGV[4] ~= '' then redis.call('HSET', KEYS[1], 'wm', ARGV[4]) end

for _, t in ipairs(timers) do
  if t[2] then redis.call('ZADD', KEYS[2], t[2], t[1]) else redis.call('ZREM', KEYS[2], t[1]) end
end
return #timers
