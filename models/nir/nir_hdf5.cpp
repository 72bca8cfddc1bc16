// The HDF5 side of the NIR reader: the file's tree of groups and datasets, nothing interpreted.
// Debian's libhdf5 (1.10) C API; its automatic error printing is switched off and each failure
// becomes a message naming the object.
#include <hdf5.h>

#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <filesystem>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "models/fd_io.hpp"
#include "models/nir/nir_graph.hpp"

// Set by the sanitizer runtimes when they are linked in (a null address otherwise).
extern "C" void __sanitizer_set_death_callback(void (*callback)(void)) __attribute__((weak));

namespace spiketile::nir {

namespace {

// Bounds that keep a damaged or hostile file from asking for unbounded memory or recursion.
constexpr int kMaxNesting = 16;
constexpr int kMaxRank = 8;
constexpr int64_t kMaxElements = int64_t(1) << 27;  // 1 GiB as double
constexpr int64_t kMaxNodes = 100000;

class Handle {
 public:
  Handle(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  ~Handle() {
    if (id_ >= 0) close_(id_);
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  hid_t get() const { return id_; }
  bool ok() const { return id_ >= 0; }

 private:
  hid_t id_;
  herr_t (*close_)(hid_t);
};

struct Reader {
  std::string path;
  std::vector<std::string> problems;
  int64_t nodes_read = 0;

  void problem(const std::string& object, const std::string& what) {
    problems.push_back(fmt::format("'{}': {}", object, what));
  }

  std::vector<std::string> member_names(hid_t group, const std::string& where) {
    std::vector<std::string> names;
    H5G_info_t info;
    if (H5Gget_info(group, &info) < 0) {
      problem(where, "cannot list the group's members");
      return names;
    }
    for (hsize_t i = 0; i < info.nlinks; ++i) {
      const ssize_t length = H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT);
      if (length < 0) {
        problem(where, fmt::format("cannot read the name of member {}", i));
        continue;
      }
      std::string name(std::size_t(length) + 1, '\0');
      H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, i, name.data(), name.size(), H5P_DEFAULT);
      name.resize(std::size_t(length));
      names.push_back(name);
    }
    return names;
  }

  // Only hard links: a soft or external link could point outside the file or back up the tree.
  bool is_hard_link(hid_t group, const std::string& name, const std::string& where) {
    H5L_info_t info;
    if (H5Lget_info(group, name.c_str(), &info, H5P_DEFAULT) < 0) {
      problem(where, "cannot read the link");
      return false;
    }
    if (info.type != H5L_TYPE_HARD) {
      problem(where, "is a soft or external link; a NIR file holds its groups and datasets itself");
      return false;
    }
    return true;
  }

  std::string describe_type(hid_t type) {
    const H5T_class_t c = H5Tget_class(type);
    const std::size_t bytes = H5Tget_size(type);
    if (c == H5T_FLOAT) return fmt::format("float{}", 8 * bytes);
    if (c == H5T_INTEGER) return fmt::format("{}int{}", H5Tget_sign(type) == H5T_SGN_NONE ? "u" : "", 8 * bytes);
    if (c == H5T_STRING) return "string";
    return fmt::format("HDF5 type class {}", int(c));
  }

  bool read_dataset(hid_t parent, const std::string& name, const std::string& where, NirArray& out) {
    Handle ds(H5Dopen2(parent, name.c_str(), H5P_DEFAULT), H5Dclose);
    if (!ds.ok()) return problem(where, "cannot open the dataset"), false;
    Handle type(H5Dget_type(ds.get()), H5Tclose);
    Handle space(H5Dget_space(ds.get()), H5Sclose);
    if (!type.ok() || !space.ok()) return problem(where, "cannot read the dataset's type or shape"), false;

    const H5S_class_t space_class = H5Sget_simple_extent_type(space.get());
    if (space_class == H5S_NULL) return problem(where, "is an empty (null) dataset; expected a value"), false;
    const int rank = H5Sget_simple_extent_ndims(space.get());
    if (rank < 0 || rank > kMaxRank)
      return problem(where, fmt::format("has rank {}; at most {} dimensions are read", rank, kMaxRank)), false;
    std::vector<hsize_t> dims(static_cast<std::size_t>(rank));
    if (rank > 0) H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
    int64_t count = 1;
    for (hsize_t d : dims) {
      out.shape.push_back(int64_t(d));
      if (d != 0 && count > kMaxElements / int64_t(d)) count = kMaxElements + 1;
      else count *= int64_t(d);
    }
    if (count > kMaxElements)
      return problem(where, fmt::format("shape {} holds more than {} values, the reader's limit", shape_str(out.shape),
                                        kMaxElements)),
             false;

    const H5T_class_t type_class = H5Tget_class(type.get());
    out.dtype = describe_type(type.get());
    if (type_class == H5T_FLOAT || type_class == H5T_INTEGER) {
      out.values.resize(std::size_t(count));
      if (count > 0 && H5Dread(ds.get(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.values.data()) < 0)
        return problem(where, fmt::format("cannot read its {} values (damaged or unreadable data)", count)), false;
      return true;
    }
    if (type_class != H5T_STRING)
      return problem(where, fmt::format("has {}; expected a float, integer or string dataset", out.dtype)), false;

    const htri_t variable = H5Tis_variable_str(type.get());
    Handle memtype(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_cset(memtype.get(), H5Tget_cset(type.get()));
    if (variable > 0) {
      H5Tset_size(memtype.get(), H5T_VARIABLE);
      std::vector<char*> strings(static_cast<std::size_t>(count), nullptr);
      if (count == 0) return true;
      const bool read = H5Dread(ds.get(), memtype.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, strings.data()) >= 0;
      if (read)
        for (char* s : strings) out.texts.emplace_back(s ? s : "");
      // Also after a failed read: the strings read before the failure were allocated.
      H5Dvlen_reclaim(memtype.get(), space.get(), H5P_DEFAULT, strings.data());
      if (!read) return problem(where, "cannot read its strings (damaged or unreadable data)"), false;
      return true;
    }
    const std::size_t width = H5Tget_size(type.get());
    if (width == 0 || width > 1 << 20) return problem(where, fmt::format("has fixed strings of {} bytes", width)), false;
    if (uint64_t(count) * width > uint64_t(kMaxElements))
      return problem(where, fmt::format("holds {} strings of {} bytes, more than the reader's limit of {} bytes", count, width,
                                        kMaxElements)),
             false;
    H5Tset_size(memtype.get(), width);
    std::vector<char> buffer(std::size_t(count) * width);
    if (count > 0 && H5Dread(ds.get(), memtype.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, buffer.data()) < 0)
      return problem(where, "cannot read its strings (damaged or unreadable data)"), false;
    for (int64_t i = 0; i < count; ++i) {
      std::string s(buffer.data() + i * int64_t(width), width);
      s.resize(s.find_last_not_of(std::string("\0 ", 2)) + 1);  // NUL or space padding
      out.texts.push_back(s);
    }
    return true;
  }

  // A node group: 'type' and one dataset per parameter; a NIRGraph also 'nodes' and 'edges'.
  void read_node(hid_t group, const std::string& where, int depth, NirFileNode& node) {
    if (depth > kMaxNesting) return problem(where, fmt::format("graphs nested deeper than {} levels", kMaxNesting));
    if (++nodes_read > kMaxNodes) return problem(where, fmt::format("more than {} nodes in the file", kMaxNodes));
    for (const std::string& name : member_names(group, where)) {
      const std::string at = where + "/" + name;
      if (!is_hard_link(group, name, at)) continue;
      Handle object(H5Oopen(group, name.c_str(), H5P_DEFAULT), H5Oclose);
      if (!object.ok()) {
        problem(at, "cannot open");
        continue;
      }
      const H5I_type_t kind = H5Iget_type(object.get());
      if (kind == H5I_GROUP) {
        if (name == "metadata") continue;  // free-form; NIR says backends must not rely on it
        if (name != "nodes") {
          problem(at, "is a group; a node holds datasets (and a graph its 'nodes' group)");
          continue;
        }
        for (const std::string& child : member_names(object.get(), at)) {
          const std::string child_at = at + "/" + child;
          if (!is_hard_link(object.get(), child, child_at)) continue;
          Handle child_group(H5Gopen2(object.get(), child.c_str(), H5P_DEFAULT), H5Gclose);
          if (!child_group.ok()) {
            problem(child_at, "is not a group; every member of 'nodes' is a node");
            continue;
          }
          node.nodes.emplace_back(child, NirFileNode{});
          read_node(child_group.get(), child_at, depth + 1, node.nodes.back().second);
        }
      } else if (kind == H5I_DATASET) {
        NirArray value;
        if (!read_dataset(group, name, at, value)) continue;
        if (name == "type") {
          if (!value.is_string() || value.texts.size() != 1) problem(at, "expected one string, the node's type");
          else node.type = value.texts[0];
        } else if (name == "edges") {
          read_edges(value, at, node);
        } else {
          node.params.emplace(name, std::move(value));
        }
      } else {
        problem(at, "is neither a group nor a dataset");
      }
    }
    if (node.type.empty() && std::none_of(problems.begin(), problems.end(),
                                          [&](const std::string& p) { return p.rfind("'" + where + "/type'", 0) == 0; }))
      problem(where, "has no 'type' dataset; every NIR node names its type");
  }

  void read_edges(const NirArray& value, const std::string& where, NirFileNode& node) {
    if (!value.is_string())
      return problem(where, fmt::format("is {}; expected [E, 2] strings (source id, target id)", value.dtype));
    if (value.shape.size() == 1 && value.shape[0] == 0) return;  // a graph without edges
    if (value.shape.size() != 2 || value.shape[1] != 2)
      return problem(where, fmt::format("has shape {}; expected [E, 2] (source id, target id)", shape_str(value.shape)));
    for (std::size_t e = 0; e + 1 < value.texts.size(); e += 2) node.edges.emplace_back(value.texts[e], value.texts[e + 1]);
  }
};

}  // namespace

bool looks_like_nir(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char signature[8] = {};
  in.read(signature, 8);
  return in && std::string(signature, 8) == std::string("\x89HDF\r\n\x1a\n", 8);
}

namespace {

// ---- the HDF5 walk runs in a child process ---------------------------------------------------
// libhdf5 is not hardened against damaged files: fuzzing found it writing out of bounds (a
// negative-size memcpy in H5HG_read on a damaged global heap) where it reads variable-length
// strings, which every NIR file holds. A file is therefore read by a forked child that sends the
// tree back as CBOR; a child that crashes or is killed becomes an error naming the file and the
// signal, and the caller's process never runs libhdf5 at all.

nlohmann::json to_json(const NirFileNode& node) {
  nlohmann::json params = nlohmann::json::object();
  for (const auto& [name, a] : node.params)
    params[name] = {{"shape", a.shape}, {"values", a.values}, {"dtype", a.dtype}, {"texts", a.texts}};
  nlohmann::json nodes = nlohmann::json::array();
  for (const auto& entry : node.nodes) nodes.push_back({entry.first, to_json(entry.second)});
  return {{"type", node.type}, {"params", params}, {"nodes", nodes}, {"edges", node.edges}};
}

NirFileNode from_json(const nlohmann::json& j) {
  NirFileNode node;
  node.type = j.at("type").get<std::string>();
  for (const auto& [name, a] : j.at("params").items())
    node.params[name] = NirArray{a.at("shape").get<Shape>(), a.at("values").get<std::vector<double>>(),
                                 a.at("dtype").get<std::string>(), a.at("texts").get<std::vector<std::string>>()};
  for (const auto& entry : j.at("nodes")) node.nodes.emplace_back(entry.at(0).get<std::string>(), from_json(entry.at(1)));
  node.edges = j.at("edges").get<std::vector<std::pair<std::string, std::string>>>();
  return node;
}

std::vector<uint8_t> encode(const NirFile& file, const std::vector<std::string>& problems) {
  if (!problems.empty()) return nlohmann::json::to_cbor(nlohmann::json{{"problems", problems}});
  return nlohmann::json::to_cbor(
      nlohmann::json{{"version", file.version}, {"notes", file.notes}, {"root", to_json(file.root)}});
}

// A real NIR file is read in milliseconds; a damaged one may never finish.
constexpr uintmax_t kReadDeadlineBaseMs = 5000;

}  // namespace

NirFile read_nir_file(const std::string& path) {
  if (!std::ifstream(path)) throw NirError(path, {"cannot open the file"});
  if (!looks_like_nir(path)) throw NirError(path, {"not an HDF5 file (a NIR graph is HDF5; no HDF5 signature at byte 0)"});
  int channel[2];
  if (::pipe(channel) != 0) throw NirError(path, {fmt::format("cannot create a pipe for the reader: {}", std::strerror(errno))});
  std::fflush(nullptr);  // nothing buffered in the parent is written twice by the child
  const pid_t child = ::fork();
  if (child < 0) {
    ::close(channel[0]);
    ::close(channel[1]);
    throw NirError(path, {fmt::format("cannot start the reader process: {}", std::strerror(errno))});
  }
  if (child == 0) {
    // The child dies by its own signal, not through handlers it inherited (a fuzzer's crash
    // handler would report libhdf5's fault as the parent's).
    for (int sig : {SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL}) ::signal(sig, SIG_DFL);
    if (&__sanitizer_set_death_callback) __sanitizer_set_death_callback(nullptr);
    ::close(channel[0]);
    std::vector<uint8_t> bytes;
    try {
      bytes = encode(read_nir_file_in_process(path), {});
    } catch (const NirError& e) {
      bytes = encode({}, e.problems());
    } catch (const std::exception& e) {
      bytes = encode({}, {e.what()});
    }
    ::_exit(write_all(channel[1], bytes.data(), bytes.size()) ? 0 : 3);
  }
  ::close(channel[1]);
  // libhdf5 can also loop forever on a damaged file (fuzzing found one in its global-heap
  // loader): the child gets a deadline that grows with the file, far above any real read.
  const auto size = std::filesystem::file_size(path);
  const int deadline_ms = int(std::min<uintmax_t>(kReadDeadlineBaseMs + size / (10u << 20) * 1000u, 3600u * 1000u));
  const auto started = std::chrono::steady_clock::now();
  std::vector<uint8_t> bytes;
  uint8_t buffer[65536];
  bool timed_out = false;
  for (;;) {
    const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
    pollfd ready{channel[0], POLLIN, 0};
    const int left = deadline_ms - int(elapsed.count());
    if (left <= 0 || ::poll(&ready, 1, left) == 0) {
      timed_out = true;
      break;
    }
    const ssize_t n = ::read(channel[0], buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    bytes.insert(bytes.end(), buffer, buffer + n);
  }
  ::close(channel[0]);
  if (timed_out) ::kill(child, SIGKILL);
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  if (timed_out)
    throw NirError(path, {fmt::format("libhdf5 did not finish reading it within {:.0f} s: the file is damaged in a way "
                                      "that makes the HDF5 library loop",
                                      deadline_ms / 1000.0)});
  if (WIFSIGNALED(status))
    throw NirError(path, {fmt::format("libhdf5 crashed reading it ({}): the file is damaged in a way the HDF5 library does "
                                      "not check",
                                      strsignal(WTERMSIG(status)))});
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    throw NirError(path, {fmt::format("the reader process failed (exit status {}): the HDF5 library could not read the "
                                      "file",
                                      WIFEXITED(status) ? WEXITSTATUS(status) : -1)});
  nlohmann::json j;
  try {
    j = nlohmann::json::from_cbor(bytes);
  } catch (const nlohmann::json::exception& e) {
    throw NirError(path, {fmt::format("the reader process sent no readable result ({})", e.what())});
  }
  if (j.contains("problems")) throw NirError(path, j.at("problems").get<std::vector<std::string>>());
  NirFile result;
  result.path = path;
  result.version = j.at("version").get<std::string>();
  result.notes = j.at("notes").get<std::vector<std::string>>();
  result.root = from_json(j.at("root"));
  return result;
}

NirFile read_nir_file_in_process(const std::string& path) {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  if (!std::ifstream(path)) throw NirError(path, {"cannot open the file"});
  if (!looks_like_nir(path)) throw NirError(path, {"not an HDF5 file (a NIR graph is HDF5; no HDF5 signature at byte 0)"});
  Handle file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  if (!file.ok()) throw NirError(path, {"HDF5 cannot open it (damaged file?)"});

  Reader reader{path, {}, 0};
  NirFile result;
  result.path = path;
  if (H5Lexists(file.get(), "version", H5P_DEFAULT) > 0) {
    NirArray version;
    if (reader.read_dataset(file.get(), "version", "/version", version)) {
      if (!version.is_string() || version.texts.size() != 1) reader.problem("/version", "expected one string, e.g. 0.2.0");
      else result.version = version.texts[0];
    }
  } else {
    result.notes.push_back("the file names no format version ('version' dataset); read as NIR 0.2");
  }
  if (H5Lexists(file.get(), "node", H5P_DEFAULT) > 0 && reader.is_hard_link(file.get(), "node", "/node")) {
    Handle root(H5Gopen2(file.get(), "node", H5P_DEFAULT), H5Gclose);
    if (!root.ok()) reader.problem("/node", "is not a group; it holds the top-level graph");
    else reader.read_node(root.get(), "/node", 0, result.root);
  } else if (reader.problems.empty() || reader.problems.back().rfind("'/node'", 0) != 0) {
    reader.problem("/node", "missing; a NIR file holds its top-level graph in the group 'node'");
  }
  if (!reader.problems.empty()) throw NirError(path, reader.problems);
  return result;
}

}  // namespace spiketile::nir
