local n = tonumber(arg[1]) or 1000000
local parts, seen, cnt = {}, {}, 0
for i = 0, n - 1 do
  local k = "key" .. tostring(i % 100000) .. ":" .. tostring(i)
  parts[#parts + 1] = k
  local sk = "key" .. tostring(i % 100000)
  if seen[sk] == nil then cnt = cnt + 1 end
  seen[sk] = i
end
local s = table.concat(parts, ",")
print(#s, cnt)
