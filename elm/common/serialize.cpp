#include "elm/common/serialize.h"

#include <cstdio>
#include <cstring>
#include <fstream>

#include <zlib.h>

#include "elm/common/errors.h"

namespace elmq {

static_assert(sizeof(float) == 4 && sizeof(double) == 8, "IEEE-754 float and double required");
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "elmq's file format is little-endian; big-endian hosts are not supported"
#endif

namespace {

constexpr std::size_t kHeaderBytes = 32;

template <typename T>
void append_pod(std::string& out, const T& v) {
  out.append(reinterpret_cast<const char*>(&v), sizeof(T));
}

template <typename T>
T load_pod(const char* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

}  // namespace

const char* file_kind_name(FileKind kind) {
  switch (kind) {
    case FileKind::kElm: return "elm";
    case FileKind::kOnlineElm: return "online-elm";
    case FileKind::kQuantizedElm: return "quantized-elm";
    case FileKind::kMlp: return "mlp";
    case FileKind::kQuantizedMlp: return "quantized-mlp";
  }
  return "unknown";
}

std::string tag_name(std::uint32_t t) {
  std::string s(4, ' ');
  for (int i = 0; i < 4; ++i) {
    const char c = static_cast<char>((t >> (8 * i)) & 0xFF);
    s[i] = (c >= 32 && c < 127) ? c : '?';
  }
  return s;
}

std::uint32_t crc32_of(const void* data, std::size_t n) {
  uLong crc = ::crc32(0L, Z_NULL, 0);
  const auto* p = static_cast<const Bytef*>(data);
  while (n > 0) {
    const uInt chunk = static_cast<uInt>(std::min<std::size_t>(n, 1u << 30));
    crc = ::crc32(crc, p, chunk);
    p += chunk;
    n -= chunk;
  }
  return static_cast<std::uint32_t>(crc);
}

// ---------------------------------------------------------------- writer

void RecordWriter::put_header(std::uint32_t t, std::uint64_t length) {
  append_pod(payload_, t);
  append_pod(payload_, length);
}

void RecordWriter::put_u64(std::uint32_t t, std::uint64_t v) {
  put_header(t, 8);
  append_pod(payload_, v);
}
void RecordWriter::put_i64(std::uint32_t t, std::int64_t v) {
  put_header(t, 8);
  append_pod(payload_, v);
}
void RecordWriter::put_f64(std::uint32_t t, double v) {
  put_header(t, 8);
  append_pod(payload_, v);
}
void RecordWriter::put_string(std::uint32_t t, std::string_view s) { put_bytes(t, s.data(), s.size()); }
void RecordWriter::put_bytes(std::uint32_t t, const void* data, std::size_t n) {
  put_header(t, n);
  payload_.append(static_cast<const char*>(data), n);
}
void RecordWriter::put_f32_array(std::uint32_t t, const float* data, std::size_t n) {
  put_bytes(t, data, n * sizeof(float));
}
void RecordWriter::put_f64_array(std::uint32_t t, const double* data, std::size_t n) {
  put_bytes(t, data, n * sizeof(double));
}
void RecordWriter::put_i64_array(std::uint32_t t, const std::int64_t* data, std::size_t n) {
  put_bytes(t, data, n * sizeof(std::int64_t));
}
void RecordWriter::put_matrix(std::uint32_t t, const RowMatrixXf& m) {
  const std::uint64_t n = static_cast<std::uint64_t>(m.size()) * sizeof(float);
  put_header(t, 16 + n);
  append_pod(payload_, static_cast<std::uint64_t>(m.rows()));
  append_pod(payload_, static_cast<std::uint64_t>(m.cols()));
  payload_.append(reinterpret_cast<const char*>(m.data()), n);
}
void RecordWriter::put_matrix(std::uint32_t t, const RowMatrixXd& m) {
  const std::uint64_t n = static_cast<std::uint64_t>(m.size()) * sizeof(double);
  put_header(t, 16 + n);
  append_pod(payload_, static_cast<std::uint64_t>(m.rows()));
  append_pod(payload_, static_cast<std::uint64_t>(m.cols()));
  payload_.append(reinterpret_cast<const char*>(m.data()), n);
}
void RecordWriter::put_nested(std::uint32_t t, const RecordWriter& inner) {
  put_bytes(t, inner.payload_.data(), inner.payload_.size());
}

std::string RecordWriter::finish(FileKind kind, std::uint32_t kind_version) const {
  std::string out;
  out.reserve(kHeaderBytes + payload_.size() + 4);
  out.append(kFileMagic, sizeof(kFileMagic));
  append_pod(out, kContainerVersion);
  append_pod(out, static_cast<std::uint32_t>(kind));
  append_pod(out, kind_version);
  append_pod(out, std::uint32_t{0});
  append_pod(out, static_cast<std::uint64_t>(payload_.size()));
  out += payload_;
  append_pod(out, crc32_of(out.data(), out.size()));
  return out;
}

// ---------------------------------------------------------------- reader

namespace {

struct Header {
  std::uint32_t container_version, kind, kind_version, reserved;
  std::uint64_t payload_size;
};

Header parse_header(std::string_view file) {
  if (file.size() < kHeaderBytes + 4) {
    throw FormatError(str_cat("not an elmq file: ", file.size(),
                              " bytes is shorter than the smallest valid file"));
  }
  if (std::memcmp(file.data(), kFileMagic, sizeof(kFileMagic)) != 0) {
    throw FormatError("not an elmq file: bad magic bytes");
  }
  Header h{};
  h.container_version = load_pod<std::uint32_t>(file.data() + 8);
  h.kind = load_pod<std::uint32_t>(file.data() + 12);
  h.kind_version = load_pod<std::uint32_t>(file.data() + 16);
  h.reserved = load_pod<std::uint32_t>(file.data() + 20);
  h.payload_size = load_pod<std::uint64_t>(file.data() + 24);
  if (h.container_version != kContainerVersion) {
    throw FormatError(str_cat("elmq file container version ", h.container_version,
                              " is not supported (this build reads version ", kContainerVersion,
                              ")"));
  }
  if (h.payload_size != file.size() - kHeaderBytes - 4) {
    throw FormatError(str_cat("elmq file is truncated or has trailing bytes: header says ",
                              h.payload_size, " payload bytes, file holds ",
                              file.size() - kHeaderBytes - 4));
  }
  const std::uint32_t stored = load_pod<std::uint32_t>(file.data() + file.size() - 4);
  const std::uint32_t actual = crc32_of(file.data(), file.size() - 4);
  if (stored != actual) {
    throw FormatError("elmq file is corrupt: checksum mismatch");
  }
  return h;
}

}  // namespace

FileKind peek_file_kind(std::string_view file) {
  return static_cast<FileKind>(parse_header(file).kind);
}

RecordReader::RecordReader(std::string_view file, FileKind expected_kind,
                           std::uint32_t max_kind_version) {
  const Header h = parse_header(file);
  context_ = str_cat(file_kind_name(expected_kind), " file");
  if (h.kind != static_cast<std::uint32_t>(expected_kind)) {
    fail(str_cat("holds a ", file_kind_name(static_cast<FileKind>(h.kind)), " (kind ", h.kind,
                 "), expected ", file_kind_name(expected_kind)));
  }
  if (h.kind_version == 0 || h.kind_version > max_kind_version) {
    fail(str_cat("format version ", h.kind_version, " is not supported (this build reads 1..",
                 max_kind_version, ")"));
  }
  kind_version_ = h.kind_version;
  index(file.substr(kHeaderBytes, h.payload_size));
}

RecordReader RecordReader::from_payload(std::string_view payload, std::string context) {
  RecordReader r;
  r.context_ = std::move(context);
  r.index(payload);
  return r;
}

void RecordReader::index(std::string_view payload) {
  std::size_t pos = 0;
  while (pos < payload.size()) {
    if (payload.size() - pos < 12) fail("truncated record header");
    const auto t = load_pod<std::uint32_t>(payload.data() + pos);
    const auto len = load_pod<std::uint64_t>(payload.data() + pos + 4);
    pos += 12;
    if (len > payload.size() - pos) {
      fail(str_cat("record ", tag_name(t), " claims ", len, " bytes, only ",
                   payload.size() - pos, " remain"));
    }
    if (!records_.emplace(t, payload.substr(pos, len)).second) {
      fail(str_cat("record ", tag_name(t), " appears twice"));
    }
    pos += len;
  }
}

void RecordReader::fail(const std::string& what) const {
  throw FormatError(str_cat(context_, ": ", what));
}

std::string_view RecordReader::record(std::uint32_t t) const {
  auto it = records_.find(t);
  if (it == records_.end()) fail(str_cat("required record ", tag_name(t), " is missing"));
  return it->second;
}

namespace {
template <typename T>
T scalar_record(const RecordReader& r, std::string_view rec, std::uint32_t t) {
  if (rec.size() != sizeof(T)) {
    r.fail(str_cat("record ", tag_name(t), " has ", rec.size(), " bytes, expected ", sizeof(T)));
  }
  return load_pod<T>(rec.data());
}

template <typename T>
std::vector<T> array_record(const RecordReader& r, std::string_view rec, std::uint32_t t) {
  if (rec.size() % sizeof(T) != 0) {
    r.fail(str_cat("record ", tag_name(t), " size ", rec.size(), " is not a multiple of ",
                   sizeof(T)));
  }
  std::vector<T> v(rec.size() / sizeof(T));
  if (!v.empty()) std::memcpy(v.data(), rec.data(), rec.size());
  return v;
}

template <typename M>
M matrix_record(const RecordReader& r, std::string_view rec, std::uint32_t t) {
  using Scalar = typename M::Scalar;
  if (rec.size() < 16) r.fail(str_cat("matrix record ", tag_name(t), " is truncated"));
  const auto rows = load_pod<std::uint64_t>(rec.data());
  const auto cols = load_pod<std::uint64_t>(rec.data() + 8);
  const std::uint64_t avail = (rec.size() - 16) / sizeof(Scalar);
  // Guard the multiplication against overflow before comparing sizes.
  if ((cols != 0 && rows > avail / cols) || rows * cols != avail ||
      (rec.size() - 16) % sizeof(Scalar) != 0) {
    r.fail(str_cat("matrix record ", tag_name(t), " says ", rows, " x ", cols, " but holds ",
                   rec.size() - 16, " bytes"));
  }
  M m(static_cast<Index>(rows), static_cast<Index>(cols));
  if (m.size() > 0) std::memcpy(m.data(), rec.data() + 16, rows * cols * sizeof(Scalar));
  return m;
}
}  // namespace

std::uint64_t RecordReader::get_u64(std::uint32_t t) const {
  return scalar_record<std::uint64_t>(*this, record(t), t);
}
std::int64_t RecordReader::get_i64(std::uint32_t t) const {
  return scalar_record<std::int64_t>(*this, record(t), t);
}
double RecordReader::get_f64(std::uint32_t t) const {
  return scalar_record<double>(*this, record(t), t);
}
std::string RecordReader::get_string(std::uint32_t t) const { return std::string(record(t)); }
std::string_view RecordReader::get_bytes(std::uint32_t t) const { return record(t); }
std::vector<float> RecordReader::get_f32_array(std::uint32_t t) const {
  return array_record<float>(*this, record(t), t);
}
std::vector<double> RecordReader::get_f64_array(std::uint32_t t) const {
  return array_record<double>(*this, record(t), t);
}
std::vector<std::int64_t> RecordReader::get_i64_array(std::uint32_t t) const {
  return array_record<std::int64_t>(*this, record(t), t);
}
RowMatrixXf RecordReader::get_matrix_f(std::uint32_t t) const {
  return matrix_record<RowMatrixXf>(*this, record(t), t);
}
RowMatrixXd RecordReader::get_matrix_d(std::uint32_t t) const {
  return matrix_record<RowMatrixXd>(*this, record(t), t);
}
RecordReader RecordReader::nested(std::uint32_t t) const {
  return from_payload(record(t), str_cat(context_, "/", tag_name(t)));
}

// ---------------------------------------------------------------- files

std::string read_file_bytes(const std::string& path, std::uint64_t max_bytes) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw IoError(str_cat("cannot open '", path, "' for reading"));
  const std::streamoff size = in.tellg();
  if (size < 0) throw IoError(str_cat("cannot read the size of '", path, "'"));
  if (static_cast<std::uint64_t>(size) > max_bytes) {
    throw FormatError(str_cat("'", path, "' is ", size, " bytes, larger than the limit of ",
                              max_bytes));
  }
  std::string bytes(static_cast<std::size_t>(size), '\0');
  in.seekg(0);
  if (size > 0 && !in.read(bytes.data(), size)) {
    throw IoError(str_cat("cannot read '", path, "'"));
  }
  return bytes;
}

void write_file_bytes(const std::string& path, std::string_view bytes) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw IoError(str_cat("cannot open '", tmp, "' for writing"));
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.flush();
    if (!out) {
      std::remove(tmp.c_str());
      throw IoError(str_cat("cannot write '", tmp, "'"));
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw IoError(str_cat("cannot rename '", tmp, "' to '", path, "'"));
  }
}

}  // namespace elmq
