--[[
  JSON arguments (`--@include json-args`).

  decodeTable(json)               the decoded JSON array (or object) of a script argument; nil when the argument
                                  is missing, not JSON, or JSON of something else (a number, a string, null), so
                                  the script can return E_BAD_ARGS before it writes anything
]]
local function decodeTable(json)
  local ok, value = pcall(cjson.decode, json)
  if not ok or type(value) ~= 'table' then return nil end
  return value
end
