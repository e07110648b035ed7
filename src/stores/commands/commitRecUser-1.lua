#!lua
--[[
  Stores a user's recommender state (history, purchase log, country, last emitted list's hash) if nobody
  else moved it since the worker read it (compare-and-set on the applied offset).

  KEYS[1] user recommender hash   ({u:<id>}:rec)  "s" -> state JSON, o:<topic>:<partition> -> applied offset

  ARGV[1] applied field           o:<topic>:<partition>
  ARGV[2] expected offset         what the worker read (-1 when there was none)
  ARGV[3] new offset              the last source offset the new state reflects
  ARGV[4] state                   JSON

  Returns
   1                    stored
   E_REC_USER_CONFLICT  the stored offset is not the expected one (a concurrent or replayed write): re-read and retry
]]
local cur = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '-1')
if cur ~= tonumber(ARGV[2]) then return E_REC_USER_CONFLICT end
redis.call('HSET', KEYS[1], 's', ARGV[4], ARGV[1], ARGV[3])
return 1
