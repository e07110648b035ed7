#!lua
--[[
  Bookkeeping of a partition's dead letters, so that each is written to the dead-letter topic exactly once even
  when the worker dies around the produce: `begin` before producing, `end` once the produce is acknowledged.
  A replay skips what is at or below the stage's done offset; after a `begin` without `end` the worker reads the
  dead-letter topic back to see which of the pending records landed.

  KEYS[1] partition dead letters  ({p:<topic>:<partition>}:dlq)  <stage> -> done offset, pending:<stage> -> offset,
                                  pending:<stage>:at -> when the pending produce began (ms)

  ARGV[1] mode                    begin | end
  ARGV[2] stage                   decode | late | process (one record is dead-lettered by one stage only)
  ARGV[3] offset                  the last source offset of the records being produced
  ARGV[4] begin only, optional    the producer's clock (ms) before the produce: the read-back after a crash
                                  starts at this time instead of reading the whole dead-letter topic

  Returns 1.
]]
local pending = 'pending:' .. ARGV[2]
if ARGV[1] == 'begin' then
  redis.call('HSET', KEYS[1], pending, ARGV[3])
  if ARGV[4] then redis.call('HSET', KEYS[1], pending .. ':at', ARGV[4]) end
  return 1
end
local done = tonumber(redis.call('HGET', KEYS[1], ARGV[2]) or '-1')
if tonumber(ARGV[3]) > done then redis.call('HSET', KEYS[1], ARGV[2], ARGV[3]) end
redis.call('HDEL', KEYS[1], pending, pending .. ':at')
return 1
