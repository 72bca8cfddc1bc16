// Writes small NIR files with the HDF5 C API the way h5py does (variable-length UTF-8 strings,
// float32/float64 and int64 datasets), so the C++ tests can build well-formed and malformed
// graphs without Python.
#pragma once

#include <hdf5.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace spiketile::nir::testing {

class NirFileWriter {
 public:
  explicit NirFileWriter(const std::string& path, const std::string& version = "0.2.0") {
    file_ = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (file_ < 0) throw std::runtime_error("cannot create " + path);
    if (!version.empty()) string(file_, "version", version);
    root_ = H5Gcreate2(file_, "node", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  }
  ~NirFileWriter() {
    for (auto it = open_.rbegin(); it != open_.rend(); ++it) H5Gclose(*it);
    H5Gclose(root_);
    H5Fclose(file_);
  }

  hid_t root() const { return root_; }

  // A group under `parent` (a graph's node, or its 'nodes' group).
  hid_t group(hid_t parent, const std::string& name) {
    const hid_t g = H5Gcreate2(parent, name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    open_.push_back(g);
    return g;
  }

  // A graph group: type NIRGraph, a 'nodes' group (returned) and the edges.
  hid_t graph(hid_t graph_group, const std::vector<std::pair<std::string, std::string>>& edges) {
    string(graph_group, "type", "NIRGraph");
    std::vector<std::string> flat;
    for (const auto& [a, b] : edges) {
      flat.push_back(a);
      flat.push_back(b);
    }
    strings(graph_group, "edges", flat, {hsize_t(edges.size()), 2});
    return group(graph_group, "nodes");
  }

  hid_t node(hid_t nodes, const std::string& id, const std::string& type) {
    const hid_t g = group(nodes, id);
    string(g, "type", type);
    return g;
  }

  void string(hid_t where, const std::string& name, const std::string& value) { strings(where, name, {value}, {}); }

  void strings(hid_t where, const std::string& name, const std::vector<std::string>& values, std::vector<hsize_t> dims) {
    const hid_t type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, H5T_VARIABLE);
    H5Tset_cset(type, H5T_CSET_UTF8);
    const hid_t space = dims.empty() ? H5Screate(H5S_SCALAR) : H5Screate_simple(int(dims.size()), dims.data(), nullptr);
    const hid_t ds = H5Dcreate2(where, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    std::vector<const char*> pointers;
    for (const auto& v : values) pointers.push_back(v.c_str());
    if (!pointers.empty()) H5Dwrite(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, pointers.data());
    H5Dclose(ds);
    H5Sclose(space);
    H5Tclose(type);
  }

  // Floats stored as float32 (or float64 with `wide`); dims {} is a scalar.
  void floats(hid_t where, const std::string& name, const std::vector<double>& values, std::vector<hsize_t> dims,
              bool wide = false) {
    write(where, name, wide ? H5T_IEEE_F64LE : H5T_IEEE_F32LE, H5T_NATIVE_DOUBLE, values.data(), dims);
  }
  void ints(hid_t where, const std::string& name, const std::vector<int64_t>& values, std::vector<hsize_t> dims) {
    write(where, name, H5T_STD_I64LE, H5T_NATIVE_INT64, values.data(), dims);
  }

 private:
  void write(hid_t where, const std::string& name, hid_t file_type, hid_t memory_type, const void* data,
             const std::vector<hsize_t>& dims) {
    const hid_t space = dims.empty() ? H5Screate(H5S_SCALAR) : H5Screate_simple(int(dims.size()), dims.data(), nullptr);
    const hid_t ds = H5Dcreate2(where, name.c_str(), file_type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(ds, memory_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
    H5Dclose(ds);
    H5Sclose(space);
  }

  hid_t file_ = -1, root_ = -1;
  std::vector<hid_t> open_;
};

}  // namespace spiketile::nir::testing
