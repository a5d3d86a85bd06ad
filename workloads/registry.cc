// The list of workloads and the parameter resolution they share.
#include <charconv>
#include <cmath>
#include <sstream>
#include <string>

#include "workloads/workload.h"

namespace allocbench {

double Params::get(const std::string& name) const {
  auto found = values_.find(name);
  if (found == values_.end()) throw ParamError("no parameter named '" + name + "'");
  return found->second;
}

const std::vector<const Workload*>& all_workloads() {
  static const std::vector<const Workload*> workloads = {
      &kThreadtest, &kShbench, &kLarson,    &kCacheScratch, &kCacheThrash, &kProdcons,
      &kBarnesHut,  &kSizeMix, &kMassAlloc, &kLargeBuffers, &kNoop};
  return workloads;
}

const Workload* find_workload(std::string_view name) {
  for (const Workload* workload : all_workloads()) {
    if (workload->name == name) return workload;
  }
  return nullptr;
}

std::string workload_names() {
  std::string names;
  for (const Workload* workload : all_workloads()) {
    if (workload->name == "noop") continue;
    if (!names.empty()) names += ", ";
    names += workload->name;
  }
  return names;
}

namespace {

std::string known_params(const Workload& workload) {
  std::string names;
  for (const ParamSpec& spec : workload.params) {
    if (!names.empty()) names += ", ";
    names += "--" + spec.name;
  }
  return names.empty() ? "none" : names;
}

// A bound as a user types it: 1 and 1048576, not 1.000000 and 1048576.000000.
std::string bound_text(double value) {
  if (value == std::floor(value) && std::fabs(value) < 1e18) {
    return std::to_string(static_cast<long long>(value));
  }
  std::ostringstream text;
  text << value;
  return text.str();
}

double parse_value(const Workload& workload, const ParamSpec& spec, const std::string& text) {
  double value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, error] = std::from_chars(text.data(), end, value);
  if (error != std::errc() || ptr != end || !std::isfinite(value)) {
    throw ParamError(workload.name + ": --" + spec.name + ": '" + text + "' is not a number");
  }
  if (spec.integer && value != std::floor(value)) {
    throw ParamError(workload.name + ": --" + spec.name + ": '" + text + "' is not an integer");
  }
  if (value < spec.min_value || value > spec.max_value) {
    throw ParamError(workload.name + ": --" + spec.name + ": " + text + " is outside [" +
                     bound_text(spec.min_value) + ", " + bound_text(spec.max_value) + "]");
  }
  return value;
}

}  // namespace

Params resolve_params(const Workload& workload,
                      const std::map<std::string, std::string>& overrides) {
  Params params;
  for (const ParamSpec& spec : workload.params) params.set(spec.name, spec.default_value);
  for (const auto& [name, text] : overrides) {
    const ParamSpec* spec = nullptr;
    for (const ParamSpec& candidate : workload.params) {
      if (candidate.name == name) spec = &candidate;
    }
    if (spec == nullptr) {
      throw ParamError(workload.name + " has no parameter --" + name +
                       " (it has: " + known_params(workload) + ")");
    }
    params.set(name, parse_value(workload, *spec, text));
  }
  if (workload.check != nullptr) {
    std::string problem = workload.check(params);
    if (!problem.empty()) throw ParamError(workload.name + ": " + problem);
  }
  return params;
}

}  // namespace allocbench
