// `allocbench list`: the workloads with their parameters, and the allocators found here.
#pragma once

#include <string>
#include <vector>

namespace allocbench {

int list_command(const std::vector<std::string>& args);

}  // namespace allocbench
