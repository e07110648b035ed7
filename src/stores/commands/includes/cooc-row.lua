--[[
  The field layout of a co-occurrence row (`--@include cooc-row`), the same as Keys.coocItemField and
  Keys.COOC_NORM_FIELD: a pair's field is `i:<other item id>`, the norm's is `_n`, and the applied offsets are
  `o:<topic>:<partition>`. Item ids are input; only the `i:` namespace keeps an item named `_n` or
  `o:attune.events:3` from overwriting the norm or an applied offset, so the script refuses any other delta field.

  validRowDeltas(deltas)          true when deltas is an array of [field, number] with field `i:...` or `_n`
]]
local function validRowDeltas(deltas)
  for _, d in ipairs(deltas) do
    if type(d) ~= 'table' or type(d[1]) ~= 'string' or type(d[2]) ~= 'number' then return false end
    if d[1] ~= '_n' and string.sub(d[1], 1, 2) ~= 'i:' then return false end
  end
  return true
end
