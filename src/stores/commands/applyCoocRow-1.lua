#!lua
--[[
  Adds a micro-batch's combined co-occurrence deltas to one item row, once per source partition batch.
  Each pair (a, b) lives in the row of the smaller item id (string order), so it is written once, under the field
  "i:<b>"; the row also holds the item's norm under the field "_n" (includes/cooc-row.lua has the layout). Increments commute, so several workers (partitions)
  may update one row; each partition's progress in the row is kept apart.

  KEYS[1] item row hash           ({i:<item>}:co)  i:<other item> -> count, "_n" -> norm, o:<topic>:<partition> -> offset

  ARGV[1] applied field           o:<topic>:<partition>
  ARGV[2] batch last offset       the micro-batch's last source offset
  ARGV[3] deltas                  JSON array of [field, increment], field i:<other item> or _n

  Returns
   >= 0        number of fields incremented (0 when this batch was already applied to the row)
   E_BAD_ARGS  ARGV[3] is not a JSON array of [i:<item> or _n, number] (nothing written)

  Exactly once: the worker cuts micro-batches so that a replay never straddles the end of a batch that may
  have been partly applied (the partition's in-flight marker), so "stored offset >= batch end" means
  "this batch's deltas are in the row".
]]
--@include json-args
--@include offset-gate
--@include cooc-row
local deltas = decodeTable(ARGV[3])
if not deltas or not validRowDeltas(deltas) then return E_BAD_ARGS end
return applyBatchOnce(KEYS[1], ARGV[1], tonumber(ARGV[2]), function()
  for _, d in ipairs(deltas) do
    redis.call('HINCRBYFLOAT', KEYS[1], d[1], d[2])
  end
  return #deltas
end)
