// g++'s input: a translation unit of templated classes over the standard library and many
// functions that instantiate them, the kind of code that makes a compiler allocate.
#include <fmt/format.h>

#include "harness/programs/inputs.h"

namespace allocbench::programs {

std::string cxx_translation_unit(int64_t scale) {
  Lcg random(3);
  std::string code = R"(#include <algorithm>
#include <map>
#include <memory>
#include <numeric>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

template <typename T, int N>
struct Fold {
  static T apply(const std::vector<T>& v) { return Fold<T, N - 1>::apply(v) + (v.empty() ? T{} : v[N % v.size()]); }
};
template <typename T>
struct Fold<T, 0> {
  static T apply(const std::vector<T>&) { return T{}; }
};
)";
  for (int64_t i = 0; i < scale; ++i) {
    const uint64_t depth = 8 + random.below(24);
    code += fmt::format(R"(
template <typename K, typename V>
struct Table{0} {{
  std::map<K, std::vector<V>> rows;
  std::unordered_map<std::string, std::tuple<K, V, int>> names;
  void add(const K& k, const V& v) {{ rows[k].push_back(v); names[std::to_string(rows.size())] = {{k, v, {1}}}; }}
  V total() const {{
    V sum{{}};
    for (const auto& [k, vs] : rows) sum = std::accumulate(vs.begin(), vs.end(), sum);
    return sum;
  }}
}};
long function{0}(int n) {{
  Table{0}<int, long> table;
  std::vector<long> values(n);
  std::iota(values.begin(), values.end(), {2});
  std::sort(values.begin(), values.end(), [](long a, long b) {{ return a % {3} < b % {3}; }});
  for (int i = 0; i < n; ++i) table.add(i % {3}, values[i]);
  auto text = std::make_unique<std::string>(std::to_string(table.total()));
  return Fold<long, {4}>::apply(values) + static_cast<long>(text->size());
}}
)",
                        i, random.below(100), random.below(1000), 2 + random.below(50), depth);
  }
  code += "long all(int n) {\n  long sum = 0;\n";
  for (int64_t i = 0; i < scale; ++i) code += fmt::format("  sum += function{}(n);\n", i);
  code += "  return sum;\n}\n";
  return code;
}

}  // namespace allocbench::programs
