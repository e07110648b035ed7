--[[
  The offset gate (`--@include offset-gate`): how a script applies what a source partition's micro-batch adds to
  state exactly once. The partition's progress in that state is kept apart from other partitions', in a field of
  a hash (the "applied field", o:<topic>:<partition>): what is at or below it was applied before, so a replay
  writes nothing.

  appliedOffset(hash, field)      the last offset applied from the partition: hash[field] as a number, -1 if none
  applyAbove(items, last, apply)  calls apply(item) for each item whose offset item[1] is above `last`, in order;
                                  returns how many it applied (for per-offset items: a replay may overlap)
  applyBatchOnce(hash, field, batchLast, apply)
                                  for a whole batch: when batchLast is above hash[field], calls apply(last) with
                                  the stored offset, then records batchLast (a number) in hash[field] and returns
                                  what apply returned; returns 0 and writes nothing when the batch was applied
]]
local function appliedOffset(hash, field)
  return tonumber(redis.call('HGET', hash, field) or '-1')
end

local function applyAbove(items, last, apply)
  local n = 0
  for _, item in ipairs(items) do
    if item[1] > last then
      n = n + 1
      apply(item)
    end
  end
  return n
end

local function applyBatchOnce(hash, field, batchLast, apply)
  local last = appliedOffset(hash, field)
  if batchLast <= last then return 0 end
  local n = apply(last)
  redis.call('HSET', hash, field, batchLast)
  return n
end
