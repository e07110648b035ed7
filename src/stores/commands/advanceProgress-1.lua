#!lua
--[[
  Records that a partition's micro-batch is fully applied, and notices when Redis lost the state under the
  worker's feet: a worker that already wrote this partition's progress expects to find it.

  KEYS[1] partition progress      ({p:<topic>:<partition>}:progress)

  ARGV[1] expected                the progress this worker wrote last for the partition (-1: none yet)
  ARGV[2] offset                  the micro-batch's last offset

  Returns
   >= 0          the stored progress (never moved backwards: a zombie's late write cannot take it back)
   E_STATE_LOST  the key is gone although this worker wrote it: the state was lost (Redis restarted empty or was reset)
]]
local cur = redis.call('GET', KEYS[1])
if not cur then
  if tonumber(ARGV[1]) >= 0 then return E_STATE_LOST end
  redis.call('SET', KEYS[1], ARGV[2])
  return tonumber(ARGV[2])
end
if tonumber(cur) < tonumber(ARGV[2]) then
  redis.call('SET', KEYS[1], ARGV[2])
  return tonumber(ARGV[2])
end
return tonumber(cur)
