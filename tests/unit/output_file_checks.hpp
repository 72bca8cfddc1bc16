// What an output file may leave behind: the temporaries OutputFile creates beside its target.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace spiketile::testing_output {

// Files in the target's folder named as OutputFile names its temporaries (".XXXXXX.<name>").
inline std::vector<std::string> temporaries_beside(const std::string& target) {
  namespace fs = std::filesystem;
  const fs::path path(target);
  const std::string suffix = "." + path.filename().string();
  std::vector<std::string> found;
  const fs::path folder = path.has_parent_path() ? path.parent_path() : fs::path(".");
  for (const auto& entry : fs::directory_iterator(folder)) {
    const std::string name = entry.path().filename().string();
    if (name.size() == 7 + suffix.size() && name[0] == '.' && name.compare(7, suffix.size(), suffix) == 0)
      found.push_back(entry.path().string());
  }
  return found;
}

}  // namespace spiketile::testing_output
