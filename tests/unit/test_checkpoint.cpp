// Checkpoint loading (.pth written by torch.save, .safetensors) against fixtures made by
// scripts/make_loader_fixtures.py, whose expected values numpy computed from the stored bits.
// Malformed inputs are derived at run time: fixtures truncated or corrupted in a temp folder,
// or re-zipped with a hand-written zip writer (so the CRCs match and the deeper check fires).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>

#include <fmt/format.h>

#include "models/checkpoint_io.hpp"
#include "models/tensor_file.hpp"
#include "models/zip_archive.hpp"

namespace spiketile {
namespace {

namespace fs = std::filesystem;
using namespace std::string_literals;

const fs::path kLoaderData = fs::path(SPIKETILE_TEST_DATA) / "loader";

// ---------------------------------------------------------------- helpers

std::string read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void write_bytes(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << path;
}

class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::path(::testing::TempDir()) / "spiketile_checkpoint_XXXXXX").string();
    path_ = ::mkdtemp(pattern.data());
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  fs::path operator/(const std::string& name) const { return path_ / name; }

 private:
  fs::path path_;
};

const nlohmann::json& expected_values() {
  static const nlohmann::json expected = nlohmann::json::parse(read_bytes(kLoaderData / "expected.json"));
  return expected;
}

uint32_t float_bits(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  return bits;
}

DType dtype_from_name(const std::string& name) {
  if (name == "float16") return DType::F16;
  if (name == "bfloat16") return DType::BF16;
  if (name == "float64") return DType::F64;
  return DType::F32;
}

void expect_matches_expected(const TensorFile& file, const nlohmann::json& expected) {
  EXPECT_EQ(file.order, expected["order"].get<std::vector<std::string>>());
  ASSERT_EQ(file.tensors.size(), expected["tensors"].size());
  for (const auto& [name, spec] : expected["tensors"].items()) {
    SCOPED_TRACE(name);
    ASSERT_TRUE(file.has(name));
    const Tensor& tensor = file.at(name);
    EXPECT_EQ(tensor.shape, spec["shape"].get<std::vector<int64_t>>());
    EXPECT_EQ(tensor.source_dtype, dtype_from_name(spec["dtype"]));
    const auto bits = spec["f32_bits"].get<std::vector<uint32_t>>();
    ASSERT_EQ(tensor.data.size(), bits.size());
    ASSERT_EQ(tensor.numel(), static_cast<int64_t>(bits.size()));
    for (std::size_t i = 0; i < bits.size(); ++i) {
      ASSERT_EQ(float_bits(tensor.data[i]), bits[i]) << "element " << i << " = " << tensor.data[i];
    }
  }
}

bool same_tensors(const TensorFile& a, const TensorFile& b) {
  if (a.order != b.order || a.tensors.size() != b.tensors.size()) return false;
  for (const auto& [name, tensor] : a.tensors) {
    const auto it = b.tensors.find(name);
    if (it == b.tensors.end() || it->second.shape != tensor.shape || it->second.data.size() != tensor.data.size() ||
        (!tensor.data.empty() &&
         std::memcmp(it->second.data.data(), tensor.data.data(), tensor.data.size() * sizeof(float)) != 0)) {
      return false;
    }
  }
  return true;
}

// Runs `load` and checks it throws a CheckpointError whose message contains every fragment.
void expect_checkpoint_error(const std::function<void()>& load, const std::vector<std::string>& fragments) {
  try {
    load();
    ADD_FAILURE() << "no CheckpointError thrown";
  } catch (const CheckpointError& e) {
    const std::string message = e.what();
    for (const std::string& fragment : fragments) {
      EXPECT_NE(message.find(fragment), std::string::npos) << "message lacks '" << fragment << "': " << message;
    }
  } catch (const std::exception& e) {
    ADD_FAILURE() << "wrong exception type: " << e.what();
  }
}

// ---------------------------------------------------------------- a small zip writer

struct ZipMember {
  std::string name;
  std::string data;
  uint16_t method = 0;   // written as is; data is never compressed
};

void put16(std::string& out, uint64_t v) { for (int i = 0; i < 2; ++i) out.push_back(static_cast<char>(v >> (8 * i))); }
void put32(std::string& out, uint64_t v) { for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>(v >> (8 * i))); }
void put64(std::string& out, uint64_t v) { for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>(v >> (8 * i))); }

// With `zip64`, every size and offset goes through zip64 extra fields and the zip64 end
// records, as writers do for archives over 4 GB.
std::string build_zip(const std::vector<ZipMember>& members, bool zip64 = false) {
  std::string out;
  std::vector<uint64_t> offsets;
  for (const ZipMember& m : members) {
    offsets.push_back(out.size());
    const uint32_t crc = checkpoint_io::crc32(m.data.data(), m.data.size());
    put32(out, 0x04034b50);
    put16(out, zip64 ? 45 : 20);
    put16(out, 0);
    put16(out, m.method);
    put32(out, 0);   // time, date
    put32(out, crc);
    put32(out, zip64 ? 0xFFFFFFFF : m.data.size());
    put32(out, zip64 ? 0xFFFFFFFF : m.data.size());
    put16(out, m.name.size());
    put16(out, zip64 ? 20 : 0);
    out += m.name;
    if (zip64) {
      put16(out, 1);
      put16(out, 16);
      put64(out, m.data.size());
      put64(out, m.data.size());
    }
    out += m.data;
  }
  const uint64_t directory_offset = out.size();
  for (std::size_t i = 0; i < members.size(); ++i) {
    const ZipMember& m = members[i];
    put32(out, 0x02014b50);
    put16(out, 45);
    put16(out, zip64 ? 45 : 20);
    put16(out, 0);
    put16(out, m.method);
    put32(out, 0);
    put32(out, checkpoint_io::crc32(m.data.data(), m.data.size()));
    put32(out, zip64 ? 0xFFFFFFFF : m.data.size());
    put32(out, zip64 ? 0xFFFFFFFF : m.data.size());
    put16(out, m.name.size());
    put16(out, zip64 ? 28 : 0);
    put16(out, 0);   // comment
    put16(out, 0);   // disk
    put16(out, 0);
    put32(out, 0);
    put32(out, zip64 ? 0xFFFFFFFF : offsets[i]);
    out += m.name;
    if (zip64) {
      put16(out, 1);
      put16(out, 24);
      put64(out, m.data.size());
      put64(out, m.data.size());
      put64(out, offsets[i]);
    }
  }
  const uint64_t directory_size = out.size() - directory_offset;
  if (zip64) {
    const uint64_t record_offset = out.size();
    put32(out, 0x06064b50);
    put64(out, 44);
    put16(out, 45);
    put16(out, 45);
    put32(out, 0);
    put32(out, 0);
    put64(out, members.size());
    put64(out, members.size());
    put64(out, directory_size);
    put64(out, directory_offset);
    put32(out, 0x07064b50);
    put32(out, 0);
    put64(out, record_offset);
    put32(out, 1);
  }
  put32(out, 0x06054b50);
  put16(out, 0);
  put16(out, 0);
  put16(out, zip64 ? 0xFFFF : members.size());
  put16(out, zip64 ? 0xFFFF : members.size());
  put32(out, zip64 ? 0xFFFFFFFF : directory_size);
  put32(out, zip64 ? 0xFFFFFFFF : directory_offset);
  put16(out, 0);
  return out;
}

std::vector<ZipMember> read_members(const fs::path& path) {
  const ZipArchive archive(path.string());
  std::vector<ZipMember> members;
  for (const ZipEntry& entry : archive.entries()) members.push_back({entry.name, archive.read_entry(entry, 1u << 30)});
  return members;
}

ZipMember& member(std::vector<ZipMember>& members, const std::string& name) {
  for (ZipMember& m : members) {
    if (m.name == name) return m;
  }
  throw std::runtime_error("no member " + name);
}

// A torch-style archive around a hand-written pickle.
void write_torch_zip(const fs::path& path, const std::string& pickle, std::vector<ZipMember> storages = {}) {
  std::vector<ZipMember> members = {{"model/data.pkl", pickle}};
  for (ZipMember& storage : storages) members.push_back(std::move(storage));
  members.push_back({"model/version", "3\n"});
  write_bytes(path, build_zip(members));
}

// ---------------------------------------------------------------- primitives

TEST(CheckpointCrc32, MatchesTheStandardCheckValue) {
  EXPECT_EQ(checkpoint_io::crc32("123456789", 9), 0xCBF43926u);
  EXPECT_EQ(checkpoint_io::crc32("", 0), 0u);
  std::string bytes(100000, '\0');
  std::mt19937 random(7);
  for (char& c : bytes) c = static_cast<char>(random());
  const uint32_t whole = checkpoint_io::crc32(bytes.data(), bytes.size());
  checkpoint_io::Crc32 pieces;
  for (std::size_t pos = 0, step = 1; pos < bytes.size(); pos += step, step = step * 3 % 1001 + 1) {
    pieces.update(bytes.data() + pos, std::min(step, bytes.size() - pos));
  }
  EXPECT_EQ(pieces.value(), whole);
}

// Reference decoding by the definition of each format, independent of the bit tricks under test.
double binary16_value(uint32_t bits, int exponent_bits, int mantissa_bits) {
  const uint32_t mantissa = bits & ((1u << mantissa_bits) - 1);
  const uint32_t exponent = (bits >> mantissa_bits) & ((1u << exponent_bits) - 1);
  const int bias = (1 << (exponent_bits - 1)) - 1;
  const double sign = (bits >> (exponent_bits + mantissa_bits)) & 1 ? -1.0 : 1.0;
  if (exponent == 0) return sign * std::ldexp(mantissa, 1 - bias - mantissa_bits);
  if (exponent == (1u << exponent_bits) - 1) return mantissa ? std::nan("") : sign * INFINITY;
  return sign * std::ldexp((1u << mantissa_bits) + mantissa, static_cast<int>(exponent) - bias - mantissa_bits);
}

void expect_exhaustively_exact(float (*convert)(uint16_t), int exponent_bits, int mantissa_bits) {
  for (uint32_t bits = 0; bits <= 0xFFFF; ++bits) {
    const float got = convert(static_cast<uint16_t>(bits));
    const double want = binary16_value(bits, exponent_bits, mantissa_bits);
    const bool negative = (bits >> 15) & 1;
    ASSERT_EQ(std::signbit(got), negative) << std::hex << bits;
    if (std::isnan(want)) {
      ASSERT_TRUE(std::isnan(got)) << std::hex << bits;
      // The payload survives (so a quiet/signalling distinction is not lost).
      ASSERT_EQ((float_bits(got) >> (23 - mantissa_bits)) & ((1u << mantissa_bits) - 1), bits & ((1u << mantissa_bits) - 1));
    } else {
      ASSERT_EQ(static_cast<double>(got), want) << std::hex << bits;
    }
  }
}

TEST(CheckpointConversion, HalfIsExactForAllBitPatterns) { expect_exhaustively_exact(checkpoint_io::half_to_float, 5, 10); }

TEST(CheckpointConversion, BFloat16IsExactForAllBitPatterns) {
  expect_exhaustively_exact(checkpoint_io::bfloat16_to_float, 8, 7);
}

TEST(CheckpointConversion, Float64ReportsValuesBeyondFloat32Range) {
  const double values[] = {1.0, 1e-50, 3.4028234663852886e38, -1e300, INFINITY};
  float out[5];
  const std::size_t overflow = checkpoint_io::convert_to_float(DType::F64, false, reinterpret_cast<const uint8_t*>(values), 5, out);
  EXPECT_EQ(overflow, 3u);   // 1e-50 underflows to 0 legitimately; inf is caught later as non-finite
  EXPECT_EQ(out[1], 0.0f);
  EXPECT_EQ(out[2], 3.4028234663852886e38f);
}

// ---------------------------------------------------------------- valid fixtures

class CheckpointFixture : public ::testing::TestWithParam<std::string> {};

TEST_P(CheckpointFixture, LoadsTheValuesNumpyComputed) {
  const fs::path path = kLoaderData / GetParam();
  const TensorFile file = load_tensor_file(path.string());
  EXPECT_EQ(file.path, path.string());
  EXPECT_EQ(file.format, path.extension() == ".pth" ? "pth" : "safetensors");
  expect_matches_expected(file, expected_values()[GetParam()]);
}

INSTANTIATE_TEST_SUITE_P(Checkpoint, CheckpointFixture,
                         ::testing::Values("module_fp32.pth", "dtype_fp16.pth", "dtype_bf16.pth", "dtype_fp64.pth",
                                           "views_plain_dict.pth", "big_endian.pth", "mixed.safetensors"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string name = info.param;
                           for (char& c : name) c = std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
                           return name;
                         });

TEST(PthLoad, FindsTheArchiveFolderWhateverTheFileIsCalled) {
  // module_fp32.pth was saved as spikegpt_tiny.pth; its entries live under spikegpt_tiny/.
  TempDir dir;
  fs::copy_file(kLoaderData / "module_fp32.pth", dir / "renamed again.pth");
  const TensorFile file = load_pth((dir / "renamed again.pth").string());
  EXPECT_EQ(file.order.front(), "emb.weight");
  EXPECT_EQ(file.at("blocks.0.att.time_mix_k").shape, (std::vector<int64_t>{1, 1, 8}));
}

TEST(PthLoad, ViewsKeepFileOrderAndShapes) {
  const TensorFile file = load_pth((kLoaderData / "views_plain_dict.pth").string());
  EXPECT_EQ(file.order.front(), "zeta_base");   // file order, not sorted
  EXPECT_EQ(file.order.back(), "alpha_param");
  EXPECT_EQ(file.at("transposed").shape, (std::vector<int64_t>{6, 4}));
  EXPECT_EQ(file.at("expanded").shape_str(), "[3, 4]");
  EXPECT_EQ(file.at("scalar").shape_str(), "[]");
  EXPECT_EQ(file.at("scalar").numel(), 1);
  EXPECT_EQ(file.at("scalar").data, std::vector<float>{2.5f});
  EXPECT_EQ(file.at("empty").numel(), 0);
  EXPECT_EQ(file.at("transposed").data[1], file.at("zeta_base").data[6]);   // shared storage, read as a view
}

TEST(PthLoad, Zip64RecordsAndExtraFields) {
  TempDir dir;
  write_bytes(dir / "zip64.pth", build_zip(read_members(kLoaderData / "module_fp32.pth"), /*zip64=*/true));
  const ZipArchive archive((dir / "zip64.pth").string());
  EXPECT_EQ(archive.entries().size(), 12u);
  const TensorFile file = load_pth((dir / "zip64.pth").string());
  expect_matches_expected(file, expected_values()["module_fp32.pth"]);
}

TEST(PthLoad, ParameterObjectsAndBuildStateAreAccepted) {
  // A pickle with OrderedDict + BUILD state, as module.state_dict() writes, made by hand.
  const std::string pickle =
      "\x80\x02" "ccollections\nOrderedDict\n" "q\x00" ")R" "q\x01" "(" "X\x01\x00\x00\x00" "w"
      "ctorch._utils\n_rebuild_parameter\n"
      "ctorch._utils\n_rebuild_tensor_v2\n"
      "((" "X\x07\x00\x00\x00" "storage" "ctorch\nFloatStorage\n" "X\x01\x00\x00\x00" "0" "X\x03\x00\x00\x00" "cpu"
      "K\x02" "tQ" "K\x00" "K\x02\x85" "K\x01\x85" "\x89" "h\x00)R" "t" "q\x02" "R" "\x88" "h\x00)R" "\x87R" "u"
      "}" "X\x09\x00\x00\x00" "_metadata" "h\x00)R" "s" "b" "J\xff\xff\xff\xff" "0" "."s;
  const float values[2] = {1.5f, -2.0f};
  TempDir dir;
  write_torch_zip(dir / "param.pth", pickle, {{"model/data/0", std::string(reinterpret_cast<const char*>(values), 8)}});
  const TensorFile file = load_pth((dir / "param.pth").string());
  EXPECT_EQ(file.at("w").data, (std::vector<float>{1.5f, -2.0f}));
}

// ---------------------------------------------------------------- .pth errors

TEST(PthErrors, UnsupportedDtypeNamesTheTensor) {
  const std::string path = (kLoaderData / "int64_storage.pth").string();
  expect_checkpoint_error([&] { load_tensor_file(path); },
                          {path, "tensor 'steps'", "unsupported dtype int64", "torch.LongStorage"});
}

TEST(PthErrors, NonFiniteValueNamesTensorAndFirstBadElement) {
  const std::string path = (kLoaderData / "nonfinite.pth").string();
  expect_checkpoint_error([&] { load_pth(path); }, {path, "tensor 'bad'", "element 5", "[1, 1]", "nan"});
}

TEST(PthErrors, TruncatedArchivesAreReportedNotCrashed) {
  const std::string original = read_bytes(kLoaderData / "module_fp32.pth");
  const ZipArchive archive((kLoaderData / "module_fp32.pth").string());
  const ZipEntry& emb = *archive.find("spikegpt_tiny/data/0");
  const uint64_t directory_start = archive.entries().back().data_offset + archive.entries().back().size;
  const std::vector<std::pair<std::string, std::size_t>> cuts = {
      {"in the first local header", 10},
      {"in the middle of tensor data", static_cast<std::size_t>(emb.data_offset + emb.size / 2)},
      {"in the middle of the central directory", static_cast<std::size_t>(directory_start + 100)},
      {"one byte short", original.size() - 1},
  };
  TempDir dir;
  for (const auto& [where, size] : cuts) {
    SCOPED_TRACE(where);
    const fs::path path = dir / "cut.pth";
    write_bytes(path, original.substr(0, size));
    expect_checkpoint_error([&] { load_tensor_file(path.string()); }, {path.string(), "truncated"});
  }
  write_bytes(dir / "tiny.pth", "PK\x03\x04");
  expect_checkpoint_error([&] { load_tensor_file((dir / "tiny.pth").string()); }, {"too small to be a zip archive"});
}

TEST(PthErrors, CorruptedTensorByteFailsTheCrcCheck) {
  TempDir dir;
  std::string bytes = read_bytes(kLoaderData / "module_fp32.pth");
  const ZipArchive archive((kLoaderData / "module_fp32.pth").string());
  const ZipEntry& entry = *archive.find("spikegpt_tiny/data/7");   // blocks.0.att.key.weight
  bytes[entry.data_offset + 37] ^= 0x01;                             // a low mantissa bit: value stays plausible
  write_bytes(dir / "flipped.pth", bytes);
  expect_checkpoint_error([&] { load_pth((dir / "flipped.pth").string()); },
                          {"tensor 'blocks.0.att.key.weight'", "'spikegpt_tiny/data/7' is corrupt", "CRC-32"});
}

TEST(PthErrors, CorruptedPickleByteFailsTheCrcCheck) {
  TempDir dir;
  std::string bytes = read_bytes(kLoaderData / "module_fp32.pth");
  const ZipArchive archive((kLoaderData / "module_fp32.pth").string());
  bytes[archive.find("spikegpt_tiny/data.pkl")->data_offset + 40] ^= 0x20;
  write_bytes(dir / "flipped.pth", bytes);
  expect_checkpoint_error([&] { load_pth((dir / "flipped.pth").string()); }, {"'spikegpt_tiny/data.pkl' is corrupt", "CRC-32"});
}

TEST(PthErrors, BadPicklesGiveClearErrors) {
  TempDir dir;
  std::vector<ZipMember> members = read_members(kLoaderData / "module_fp32.pth");
  const std::string original = member(members, "spikegpt_tiny/data.pkl").data;
  const fs::path path = dir / "bad.pth";
  auto check = [&](const std::string& pickle, const std::vector<std::string>& fragments) {
    member(members, "spikegpt_tiny/data.pkl").data = pickle;
    write_bytes(path, build_zip(members));
    expect_checkpoint_error([&] { load_pth(path.string()); }, fragments);
  };
  std::string unknown_opcode = original;
  unknown_opcode[29] = '\xff';   // the EMPTY_TUPLE after GLOBAL collections.OrderedDict + BINPUT
  check(unknown_opcode, {"spikegpt_tiny/data.pkl: byte 29", "unknown pickle opcode 0xff"});

  std::string unknown_global = original;
  unknown_global.replace(unknown_global.find("OrderedDict"), 11, "OrderedDicz");
  check(unknown_global, {"unsupported pickle global 'collections.OrderedDicz'"});

  check(original.substr(0, original.size() - 1), {"without a STOP"});
  check(original.substr(0, original.size() / 2), {"spikegpt_tiny/data.pkl: byte"});
  check("\x80\x02" "cos\nsystem\n" "X\x02\x00\x00\x00" "ls" "\x85R."s, {"unsupported pickle global 'os.system'"});
  check("\x80\x02" "a."s, {"stack underflow"});
  check("\x80\x02" "h\x05."s, {"memo slot 5"});
  check("\x80\x02" "I1\n."s, {"opcode INT is not supported"});
  check("\x80\x02" "]" "q\x00" "h\x00" "a."s, {"holds a list, expected a dict"});   // a self-referencing list
  check("\x80\x02" "}" "X\x01\x00\x00\x00" "k" "K\x01" "s."s, {"key 'k' holds a int, not a tensor"});
  check("\x80\x02" "}" "X\x01\x00\x00\x00" "k" "}s."s, {"key 'k' holds a dict, not a tensor", "flat"});
  check("\x80\x02" "\x8a\x09"s + std::string(9, '\x01') + ".", {"does not fit in 64 bits"});

  // A million nested lists: must neither overflow the stack while building nor while freeing.
  std::string deep = "\x80\x02";
  deep.append(1000000, ']');
  deep.append(999999, 'a');
  deep += '.';
  check(deep, {"holds a list"});
}

TEST(PthErrors, StorageShorterThanTheTensorNeeds) {
  TempDir dir;
  std::vector<ZipMember> members = read_members(kLoaderData / "module_fp32.pth");
  std::string& storage = member(members, "spikegpt_tiny/data/7").data;   // [8, 8] float32 = 256 bytes
  storage.resize(200);
  write_bytes(dir / "short.pth", build_zip(members));
  expect_checkpoint_error([&] { load_pth((dir / "short.pth").string()); },
                          {"tensor 'blocks.0.att.key.weight': storage 'spikegpt_tiny/data/7' holds 200 bytes, tensor needs 256 "
                           "(shape [8, 8], float32)"});
  storage.resize(300);   // longer than the pickle declares
  write_bytes(dir / "long.pth", build_zip(members));
  expect_checkpoint_error([&] { load_pth((dir / "long.pth").string()); },
                          {"holds 300 bytes, but the pickle declares 64 float32 elements"});
}

TEST(PthErrors, ArchiveStructureProblems) {
  TempDir dir;
  std::vector<ZipMember> members = read_members(kLoaderData / "module_fp32.pth");

  std::vector<ZipMember> missing = members;
  missing.erase(missing.begin() + 3);   // spikegpt_tiny/data/2
  write_bytes(dir / "missing.pth", build_zip(missing));
  expect_checkpoint_error([&] { load_pth((dir / "missing.pth").string()); },
                          {"tensor 'blocks.0.ln0.bias'", "'spikegpt_tiny/data/2' is missing"});

  std::vector<ZipMember> compressed = members;
  for (ZipMember& m : compressed) m.method = 8;
  write_bytes(dir / "deflated.pth", build_zip(compressed));
  expect_checkpoint_error([&] { load_pth((dir / "deflated.pth").string()); }, {"compressed (method 8, deflate)", "STORED"});

  write_bytes(dir / "other.zip", build_zip({{"hello.txt", "hi"}}));
  expect_checkpoint_error([&] { load_tensor_file((dir / "other.zip").string()); }, {"no '<folder>/data.pkl' entry", "hello.txt"});

  std::vector<ZipMember> duplicated = members;
  duplicated.push_back(members[1]);
  write_bytes(dir / "duplicated.pth", build_zip(duplicated));
  expect_checkpoint_error([&] { load_pth((dir / "duplicated.pth").string()); }, {"appears twice"});

  std::string moved = build_zip(members);
  const std::size_t end_record = moved.size() - 22;
  moved[end_record + 19] = '\x7f';   // central directory offset far past the end
  write_bytes(dir / "moved.pth", moved);
  expect_checkpoint_error([&] { load_pth((dir / "moved.pth").string()); }, {"central directory at offset", "extends past"});

  std::string bad_local = build_zip(members);
  bad_local[0] = 'X';
  write_bytes(dir / "local.pth", bad_local);
  expect_checkpoint_error([&] { load_pth((dir / "local.pth").string()); }, {"no local header at offset 0"});
}

// Every single-byte corruption and every truncation of a real torch file is either caught or
// provably harmless (padding, unused header fields): never a crash, never different values.
void expect_every_mutation_detected_or_harmless(const std::string& fixture) {
  const std::string original = read_bytes(kLoaderData / fixture);
  const TensorFile reference = load_pth((kLoaderData / fixture).string());
  TempDir dir;
  const std::string path = (dir / "mutant.pth").string();
  int detected = 0;
  int harmless = 0;
  auto try_load = [&](const std::string& bytes, const std::string& what) {
    write_bytes(path, bytes);
    try {
      const TensorFile loaded = load_tensor_file(path);
      ASSERT_TRUE(same_tensors(loaded, reference)) << what << " silently changed the tensors";
      ++harmless;
    } catch (const CheckpointError&) {
      ++detected;
    } catch (const std::exception& e) {
      FAIL() << what << ": wrong exception type: " << e.what();
    }
  };
  for (std::size_t pos = 0; pos < original.size(); ++pos) {
    std::string mutant = original;
    mutant[pos] = static_cast<char>(mutant[pos] ^ 0x5A);
    try_load(mutant, fmt::format("flipping byte {}", pos));
    if (::testing::Test::HasFatalFailure()) return;
  }
  for (std::size_t size = 0; size < original.size(); size += 7) {
    try_load(original.substr(0, size), fmt::format("truncating to {} bytes", size));
    if (::testing::Test::HasFatalFailure()) return;
  }
  EXPECT_GT(detected, static_cast<int>(original.size() / 2));
  ::testing::Test::RecordProperty("harmless_mutations", harmless);
}

TEST(PthFuzz, ModuleFileMutationsAreDetectedOrHarmless) { expect_every_mutation_detected_or_harmless("module_fp32.pth"); }
TEST(PthFuzz, ViewFileMutationsAreDetectedOrHarmless) { expect_every_mutation_detected_or_harmless("views_plain_dict.pth"); }

// Corrupt pickles re-zipped with a matching CRC reach the pickle machine itself: whatever they
// decode to must end in a value or a CheckpointError, never a crash.
TEST(PthFuzz, PickleMutationsBehindAValidCrcNeverCrash) {
  for (const std::string fixture : {"module_fp32.pth", "views_plain_dict.pth"}) {
    std::vector<ZipMember> members = read_members(kLoaderData / fixture);
    ZipMember& pickle = members.front();
    ASSERT_NE(pickle.name.find("data.pkl"), std::string::npos);
    const std::string original = pickle.data;
    std::mt19937 random(1234);
    TempDir dir;
    const std::string path = (dir / "mutant.pth").string();
    for (int round = 0; round < 1500; ++round) {
      pickle.data = original;
      const int edits = 1 + static_cast<int>(random() % 3);
      for (int e = 0; e < edits; ++e) {
        const std::size_t pos = random() % pickle.data.size();
        switch (random() % 3) {
          case 0: pickle.data[pos] = static_cast<char>(random()); break;
          case 1: pickle.data.erase(pos, 1 + random() % 4); break;
          default: pickle.data.insert(pos, 1, static_cast<char>(random())); break;
        }
      }
      write_bytes(path, build_zip(members));
      try {
        load_pth(path);
      } catch (const CheckpointError&) {
      } catch (const std::exception& e) {
        FAIL() << fixture << " round " << round << ": wrong exception type: " << e.what();
      }
    }
  }
}

// ---------------------------------------------------------------- safetensors

std::string safetensors_bytes(const std::string& header, const std::string& data) {
  std::string out;
  put64(out, header.size());
  return out + header + data;
}

TEST(SafetensorsLoad, SaveThenLoadRoundTripsBitsAndOrder) {
  TensorFile original;
  original.path = "memory";
  original.order = {"z.weight", "a.bias", "m.scalar", "e.empty"};
  original.tensors["z.weight"] = Tensor{{2, 3}, {1.0f, -2.5f, 1e-40f, 3.4e38f, -0.0f, 7.0f}, DType::F32};
  original.tensors["a.bias"] = Tensor{{3}, {0.1f, 0.2f, 0.3f}, DType::F32};
  original.tensors["m.scalar"] = Tensor{{}, {42.0f}, DType::F32};
  original.tensors["e.empty"] = Tensor{{0, 4}, {}, DType::F32};
  TempDir dir;
  const std::string path = (dir / "round.safetensors").string();
  save_safetensors(path, original);
  const TensorFile loaded = load_tensor_file(path);
  EXPECT_EQ(loaded.format, "safetensors");
  EXPECT_TRUE(same_tensors(loaded, original));
  EXPECT_EQ((read_bytes(path).size() - 8 - 4 * 10) % 8, 0u);   // data area is 8-byte aligned
}

TEST(SafetensorsErrors, HeaderLengthAndJson) {
  TempDir dir;
  const fs::path path = dir / "bad.safetensors";
  const std::string valid_header = R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  const std::string data(8, '\0');

  std::string bytes = safetensors_bytes(valid_header, data);
  bytes[5] = '\x01';   // length ~ 2^40
  write_bytes(path, bytes);
  expect_checkpoint_error([&] { load_tensor_file(path.string()); }, {path.string(), "header length", "exceeds"});

  write_bytes(path, "\x01\x00\x00\x00\x00\x00\x00\x00" "{"s);
  expect_checkpoint_error([&] { load_safetensors(path.string()); }, {"too small for a JSON object"});

  write_bytes(path, safetensors_bytes(R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})", data + "}"));
  expect_checkpoint_error([&] { load_safetensors(path.string()); }, {"not valid JSON"});

  write_bytes(path, safetensors_bytes("[1, 2]", ""));
  expect_checkpoint_error([&] { load_safetensors(path.string()); }, {"JSON array, expected an object"});

  write_bytes(path, "tiny");
  expect_checkpoint_error([&] { load_safetensors(path.string()); }, {"too small for a safetensors file"});

  // __metadata__ nested a hundred thousand deep: refused before destroying it could overflow the stack.
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  write_bytes(path, safetensors_bytes(R"({"__metadata__":{"x":)" + deep + "}}", ""));
  expect_checkpoint_error([&] { load_safetensors(path.string()); }, {path.string(), "nests deeper than 8 levels"});

  // Metadata maps strings to strings (as in the reference implementation); another value is refused.
  write_bytes(path, safetensors_bytes(R"({"__metadata__":{"format":7},"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})",
                                      data));
  expect_checkpoint_error([&] { load_safetensors(path.string()); },
                          {path.string(), "__metadata__ entry 'format' is a JSON number, expected a string"});
}

TEST(SafetensorsErrors, EntriesAndOffsets) {
  TempDir dir;
  const fs::path path = dir / "bad.safetensors";
  auto check = [&](const std::string& header, std::size_t data_size, const std::vector<std::string>& fragments) {
    write_bytes(path, safetensors_bytes(header, std::string(data_size, '\0')));
    expect_checkpoint_error([&] { load_tensor_file(path.string()); }, fragments);
  };
  check(R"({"t":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}})", 8, {"tensor 't'", "unsupported dtype \"I64\""});
  check(R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,800]}})", 8, {"tensor 't'", "span 800 bytes", "needs 8 bytes"});
  check(R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})", 8, {"tensor 't'", "[8, 16] extend beyond the 8-byte data area"});
  check(R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 12, {"cover 8 bytes of the 12-byte data area"});
  check(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", 8,
        {"overlap"});
  check(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})", 12,
        {"tensor 'b'", "unused"});
  check(R"({"t":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", 8, {"shape holds -2"});
  check(R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", 8, {"end before they begin"});
  check(R"({"t":{"dtype":"F32","shape":[2]}})", 8, {"no 'data_offsets'"});
  check(R"({"t":{"dtype":"F32","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,8]}})", 8, {"more than 2^63"});
  check(R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 8,
        {"names 't' twice"});
  check(R"({"__metadata__":[1],"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 8, {"__metadata__ is a JSON array"});
}

TEST(SafetensorsErrors, NonFiniteValuesNameTensorAndIndex) {
  TensorFile file;
  file.order = {"ok", "w"};
  file.tensors["ok"] = Tensor{{1}, {1.0f}, DType::F32};
  file.tensors["w"] = Tensor{{2, 3}, {0.0f, 1.0f, 2.0f, 3.0f, -INFINITY, NAN}, DType::F32};
  TempDir dir;
  const std::string path = (dir / "inf.safetensors").string();
  save_safetensors(path, file);
  expect_checkpoint_error([&] { load_tensor_file(path); }, {path, "tensor 'w'", "element 4", "[1, 1]", "-inf"});

  const double huge[] = {1.0, 1e300};
  write_bytes(dir / "f64.safetensors",
              safetensors_bytes(R"({"d":{"dtype":"F64","shape":[2],"data_offsets":[0,16]}})",
                                std::string(reinterpret_cast<const char*>(huge), sizeof huge)));
  expect_checkpoint_error([&] { load_tensor_file((dir / "f64.safetensors").string()); },
                          {"tensor 'd'", "element 1", "1e+300", "outside the float32 range"});
}

TEST(SafetensorsFuzz, HeaderMutationsAndTruncationsNeverCrash) {
  const std::string original = read_bytes(kLoaderData / "mixed.safetensors");
  TempDir dir;
  const std::string path = (dir / "mutant.safetensors").string();
  for (std::size_t pos = 0; pos < original.size(); ++pos) {
    for (const char replacement : {'\x00', '9', '"', '}', '\xff'}) {
      std::string mutant = original;
      mutant[pos] = replacement;
      write_bytes(path, mutant);
      try {
        load_safetensors(path);
      } catch (const CheckpointError&) {
      } catch (const std::exception& e) {
        FAIL() << "byte " << pos << ": wrong exception type: " << e.what();
      }
    }
  }
  for (std::size_t size = 0; size < original.size(); ++size) {
    write_bytes(path, original.substr(0, size));
    EXPECT_THROW(load_tensor_file(path), CheckpointError) << size;
  }
}

// ---------------------------------------------------------------- format detection, TensorFile

TEST(CheckpointFormat, RejectsWhatIsNeitherFormat) {
  TempDir dir;
  write_bytes(dir / "notes.txt", "these are not weights at all");
  expect_checkpoint_error([&] { load_tensor_file((dir / "notes.txt").string()); },
                          {"notes.txt", "unrecognised checkpoint format", "first bytes [74 68 65"});
  write_bytes(dir / "empty.pth", "");
  expect_checkpoint_error([&] { load_tensor_file((dir / "empty.pth").string()); }, {"an empty file"});
  write_bytes(dir / "legacy.pth", "\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.");
  expect_checkpoint_error([&] { load_tensor_file((dir / "legacy.pth").string()); }, {"legacy torch.save format"});
  expect_checkpoint_error([&] { load_tensor_file((dir / "absent.pth").string()); }, {"absent.pth: cannot open"});
  expect_checkpoint_error([&] { load_tensor_file((dir / "").string()); }, {"not a regular file"});
}

TEST(CheckpointTensorFile, AccessorsNameTheFileAndTensor) {
  TensorFile file = load_tensor_file((kLoaderData / "dtype_bf16.pth").string());
  expect_checkpoint_error([&] { file.at("nope"); }, {"dtype_bf16.pth", "no tensor 'nope'"});
  const Tensor matrix = file.take("matrix");
  EXPECT_EQ(matrix.shape_str(), "[3, 5]");
  EXPECT_EQ(matrix.source_dtype, DType::BF16);
  EXPECT_FALSE(file.has("matrix"));
  EXPECT_STREQ(dtype_name(DType::BF16), "bfloat16");
  EXPECT_EQ(dtype_size(DType::F64), 8u);
  EXPECT_EQ(dtype_size(DType::F16), 2u);
}

}  // namespace
}  // namespace spiketile
