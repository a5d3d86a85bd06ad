// Ruby's input, after the rbstress idea of mimalloc-bench: objects, strings, arrays and hashes
// of many sizes made and dropped so the garbage collector and malloc churn; prints checksums.
#include <fmt/format.h>

#include "harness/programs/inputs.h"

namespace allocbench::programs {

std::string ruby_script(int64_t scale) {
  return fmt::format("SCALE = {}\n", scale) + R"(
Item = Struct.new(:id, :name, :tags, :payload)

sum = 0
keep = []
(20 * SCALE).times do |round|
  items = Array.new(2000) do |i|
    n = round * 2000 + i
    Item.new(n, "item-#{n}" * (1 + n % 7), (0...(n % 9)).map { |k| "t#{k}" }, "x" * (n % 300))
  end
  index = {}
  items.each { |it| (index[it.name[0, 8]] ||= []) << it.id }
  text = items.map { |it| "#{it.id}:#{it.tags.join('|')}" }.join(",")
  sum = (sum + text.bytesize + index.size + items.sum { |it| it.payload.size }) % 1_000_000_007
  keep << items[round % items.size]
  keep.shift if keep.size > 100
  parts = text.split(",").map(&:upcase).sort
  sum = (sum + parts.first.size + parts.last.size) % 1_000_000_007
end
puts "sum #{sum}"
puts "kept #{keep.size} #{keep.map(&:id).sum}"
)";
}

}  // namespace allocbench::programs
