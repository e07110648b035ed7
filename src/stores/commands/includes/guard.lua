--[[
  The guard, run first by every command (src/stores/scripts.ts inserts it after the shebang and the return code
  constants, ahead of the command's header).
  It takes one key and three arguments ahead of the command's own, then removes them, so the command's own
  KEYS[1] and ARGV[1] are what its header says.

  KEYS[1] slot guard hash         (<prefix>:{<slot tag>}:guard, in the same hash slot as the command's keys)
                                  epoch -> the state's epoch; f:<topic>:<partition> -> highest fence token seen
  ARGV[1] epoch                   the state epoch the worker started on
  ARGV[2] fence field             f:<topic>:<partition> of the partition the write belongs to, or '' for none
  ARGV[3] fence token             the worker's token for that partition (0 when ARGV[2] is '')

  Returns (before the command runs, having written nothing)
   E_STATE_LOST     the guard hash is gone: Redis lost this slot's state (restarted empty, flushed, a node replaced)
   E_STATE_REBUILT  the state was rebuilt under another epoch since the worker started: restart on the new state
   E_FENCED         a newer owner of the partition already wrote to this slot: this worker was revoked (a zombie)
]]
local GUARD = KEYS[1]
local guardEpoch, guardField, guardToken = ARGV[1], ARGV[2], tonumber(ARGV[3])
table.remove(KEYS, 1)
table.remove(ARGV, 1)
table.remove(ARGV, 1)
table.remove(ARGV, 1)
do
  local g = redis.call('HMGET', GUARD, 'epoch', guardField == '' and 'epoch' or guardField)
  if not g[1] then return E_STATE_LOST end
  if g[1] ~= guardEpoch then return E_STATE_REBUILT end
  if guardField ~= '' then
    local seen = tonumber(g[2] or '0')
    if guardToken < seen then return E_FENCED end
    if guardToken > seen then redis.call('HSET', GUARD, guardField, guardToken) end
  end
end
