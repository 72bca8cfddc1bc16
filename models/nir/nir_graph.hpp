// NIR (Neuromorphic Intermediate Representation) graphs: the exchange format of the spiking-network
// ecosystem (docs/nir.md; facts in ../shared/reference/nir.md). A file is read in two steps:
//   read_nir_file()    HDF5 -> NirFileNode, the file's tree as it is stored (nir_hdf5.cpp);
//   build_nir_graph()  NirFileNode -> NirGraph: nested graphs flattened, every node's parameters
//                      checked against its primitive's table, shapes inferred along the edges,
//                      recurrent edges found, an evaluation order fixed (nir_graph.cpp).
// Every problem found is reported at once, each naming the node, what is wrong and what was expected.
#pragma once

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace spiketile::nir {

using Shape = std::vector<int64_t>;
int64_t element_count(const Shape& shape);
std::string shape_str(const Shape& shape);

// One stored dataset: any float or integer dtype is read as double (exact for every integer a
// shape or kernel size can hold), or a string.
struct NirArray {
  Shape shape;                 // {} for a scalar
  std::vector<double> values;  // row-major
  std::string dtype;           // as stored: "float32", "float64", "int64", ... or "string"
  std::vector<std::string> texts;  // a string dataset's values, row-major

  bool is_string() const { return dtype == "string"; }
  bool is_integer() const { return dtype.rfind("int", 0) == 0 || dtype.rfind("uint", 0) == 0; }
  int64_t size() const { return int64_t(values.size()); }
};

// A group of the file: a node (type + parameters) or a graph (also nodes + edges).
struct NirFileNode {
  std::string type;
  std::map<std::string, NirArray> params;
  std::vector<std::pair<std::string, NirFileNode>> nodes;  // a NIRGraph's nodes, in the file's order
  std::vector<std::pair<std::string, std::string>> edges;
};

struct NirFile {
  std::string path;
  std::string version;  // the root dataset 'version'
  NirFileNode root;     // the root group 'node'
  std::vector<std::string> notes;  // accepted, but worth saying (a missing version, say)
};

// The primitives of the NIR reference table (one entry each in nir_primitives()).
enum class Op {
  Input, Output, Affine, Linear, Scale, Threshold, I, IF, LI, LIF, CubaLI, CubaLIF,
  Conv1d, Conv2d, SumPool2d, AvgPool2d, Flatten, Delay,
};

enum class ParamKind { FloatArray, IntArray, IntScalar, IntOrString };

struct ParamSpec {
  const char* name;
  ParamKind kind;
  bool required;
  const char* meaning;
};

// One primitive: its NIR type name, parameters and the computation (docs/nir.md renders these).
struct Primitive {
  Op op;
  const char* type;
  std::vector<ParamSpec> params;
  const char* computation;
  bool neuron;  // carries state from step to step
  bool spiking; // its output is spikes (0/1)
};
const std::vector<Primitive>& nir_primitives();
const Primitive& primitive(Op op);

// Geometry of a convolution or pooling node, resolved from its parameters and input shape.
struct Window {
  std::vector<int64_t> kernel, stride, padding, dilation;  // one entry per spatial dim
  int64_t groups = 1;
};

struct Node {
  std::string id;  // nested nodes: "<graph id>.<node id>"
  Op op;
  std::map<std::string, NirArray> params;
  Shape input_shape, output_shape;
  Window window;   // Conv1d, Conv2d, SumPool2d, AvgPool2d
  int64_t parameter_count() const;  // float parameter values (weights, biases, neuron constants)
  const std::vector<double>& values(const std::string& name) const { return params.at(name).values; }
  bool has(const std::string& name) const { return params.count(name) != 0; }
};

struct Edge {
  int from, to;
  // Closes a cycle: carries the source's output of the previous time step (zeros at step 0).
  bool recurrent = false;
};

struct Graph {
  std::string path, version;
  std::vector<Node> nodes;
  std::vector<Edge> edges;
  std::vector<int> order;            // evaluation order: every non-recurrent edge goes forward
  std::vector<int> inputs, outputs;  // Input and Output nodes, in order of id
  std::vector<std::string> notes;    // what the reader accepted but a user should know

  int find(const std::string& id) const;  // -1 if absent
  const Node& node(const std::string& id) const;
  std::vector<int> sources_of(int node) const;  // indices into edges
  std::vector<std::vector<std::string>> cycles() const;  // one per recurrent edge: the loop it closes
  int64_t parameter_count() const;
};

// Every problem of a file in one message: "FILE: N problems:\n  node 'x' (Affine): ...".
class NirError : public std::runtime_error {
 public:
  NirError(const std::string& path, const std::vector<std::string>& problems);
  const std::vector<std::string>& problems() const { return problems_; }

 private:
  std::vector<std::string> problems_;
};

// HDF5 -> tree. A file that is not HDF5, lacks 'node', or holds a dataset of an unsupported type
// is a NirError naming the object. The HDF5 library runs in a forked child process, so a damaged
// file that crashes libhdf5 (which does not check everything it reads) is an error, not a crash.
NirFile read_nir_file(const std::string& path);
// The same walk in this process (what the child runs; for tests of the walk itself).
NirFile read_nir_file_in_process(const std::string& path);
Graph build_nir_graph(const NirFile& file);
inline Graph read_nir(const std::string& path) { return build_nir_graph(read_nir_file(path)); }

// Whether a path names a NIR file by its signature (HDF5's), for commands that take either a
// checkpoint or a graph.
bool looks_like_nir(const std::string& path);

// The primitive table of docs/nir.md, rendered from nir_primitives() (a test keeps the doc equal).
std::string primitives_markdown();

// What 'spiketile inspect graph.nir' prints: nodes, shapes, parameter counts, edges, cycles.
std::string describe(const Graph& graph);

}  // namespace spiketile::nir
