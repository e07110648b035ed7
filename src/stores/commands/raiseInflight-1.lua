#!lua
--[[
  Raises a partition's in-flight marker: the highest last offset of any micro-batch that may have been
  written in part. Never lowers it, so a crash during a replay does not forget an earlier, longer attempt.

  KEYS[1] in-flight marker        ({p:<topic>:<partition>}:inflight)
  ARGV[1] the micro-batch's last offset

  Returns the marker's value after the call.
]]
local cur = tonumber(redis.call('GET', KEYS[1]) or '-1')
local want = tonumber(ARGV[1])
if want > cur then
  redis.call('SET', KEYS[1], ARGV[1])
  return want
end
return cur
