// Lua's input: binary trees (many small tables), string building, and a string-keyed table
// rebuilt many times; it prints checksums.
#include <fmt/format.h>

#include "harness/programs/inputs.h"

namespace allocbench::programs {

std::string lua_script(int64_t scale) {
  return fmt::format("local scale = {}\n", scale) + R"(
local function tree(depth)
  if depth == 0 then return {} end
  depth = depth - 1
  return { tree(depth), tree(depth) }
end
local function check(node)
  if node[1] == nil then return 1 end
  return 1 + check(node[1]) + check(node[2])
end

local total = 0
local long_lived = tree(14)
for round = 1, scale do
  for depth = 4, 12, 2 do
    for i = 1, 2 ^ (12 - depth) do total = total + check(tree(depth)) end
  end
end
print("trees", total, check(long_lived))

local parts, words = {}, 0
for i = 1, 20000 * scale do
  local s = string.format("%d:%s", i, string.rep(string.char(97 + i % 26), i % 37))
  parts[#parts + 1] = s:upper()
  if #parts == 500 then
    local joined = table.concat(parts, ",")
    words = (words + #joined) % 1000000007
    parts = {}
  end
end
print("strings", words)

local sum = 0
for round = 1, 4 * scale do
  local index = {}
  for i = 1, 20000 do index["key" .. (i * 7919 % 20011)] = { i, tostring(i) } end
  for i = 1, 20000, 3 do index["key" .. i] = nil end
  for k, v in pairs(index) do sum = (sum + v[1] + #k) % 1000000007 end
end
print("tables", sum)
)";
}

}  // namespace allocbench::programs
