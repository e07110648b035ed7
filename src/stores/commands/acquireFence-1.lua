#!lua
--[[
  Gives the caller a new fence token for a partition it was just assigned: higher than any token before, and
  recorded at once in the partition's own slot, so the previous owner's progress and segment writes for the
  partition are refused from now on (other slots refuse it as soon as the new owner writes there).

  KEYS[1] partition fence counter ({p:<topic>:<partition>}:fence)
  ARGV[1] fence field             f:<topic>:<partition>

  Returns the new token (>= 1).
]]
local token = redis.call('INCR', KEYS[1])
local seen = tonumber(redis.call('HGET', GUARD, ARGV[1]) or '0')
if token <= seen then
  -- The counter is behind the guard (it cannot be, short of a partial restore): jump past what was seen.
  token = seen + 1
  redis.call('SET', KEYS[1], token)
end
redis.call('HSET', GUARD, ARGV[1], token)
return token
