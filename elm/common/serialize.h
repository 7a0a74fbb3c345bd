// The binary file family shared by every elmq model (and by Python pickles).
//
// Layout (all integers little-endian):
//   offset 0   8 bytes  magic "ELMQ\x89\r\n\x1a" (catches text-mode mangling)
//          8   u32      container version (kContainerVersion)
//         12   u32      kind (FileKind)
//         16   u32      kind version (the model's own payload version)
//         20   u32      reserved, 0
//         24   u64      payload size in bytes
//         32   payload  a sequence of records: u32 tag (four ASCII chars),
//                       u64 length, `length` bytes
//   end - 4    u32      CRC-32 (zlib polynomial) of every byte before it
//
// Records make the format extensible: a reader looks fields up by tag,
// rejects missing required ones, and skips unknown ones. Matrices are stored
// as u64 rows, u64 cols, then rows*cols values in row-major order.
// Every read is bounds-checked; any inconsistency throws `FormatError`.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "elm/common/matrix.h"

namespace elmq {

inline constexpr std::uint32_t kContainerVersion = 1;
inline constexpr char kFileMagic[8] = {'E', 'L', 'M', 'Q', '\x89', '\r', '\n', '\x1a'};

/// What a file holds. Values are part of the file format: never renumber.
enum class FileKind : std::uint32_t {
  kElm = 1,
  kOnlineElm = 2,
  kQuantizedElm = 3,
  kMlp = 4,
  kQuantizedMlp = 5,
};

const char* file_kind_name(FileKind kind);

/// A record tag from four ASCII characters, e.g. tag("BETA").
constexpr std::uint32_t tag(const char (&s)[5]) {
  return static_cast<std::uint32_t>(static_cast<unsigned char>(s[0])) |
         static_cast<std::uint32_t>(static_cast<unsigned char>(s[1])) << 8 |
         static_cast<std::uint32_t>(static_cast<unsigned char>(s[2])) << 16 |
         static_cast<std::uint32_t>(static_cast<unsigned char>(s[3])) << 24;
}
std::string tag_name(std::uint32_t t);

/// CRC-32 (zlib) of a byte range.
std::uint32_t crc32_of(const void* data, std::size_t n);

/// Collects records and produces a complete file image.
class RecordWriter {
 public:
  void put_u64(std::uint32_t t, std::uint64_t v);
  void put_i64(std::uint32_t t, std::int64_t v);
  void put_f64(std::uint32_t t, double v);
  void put_string(std::uint32_t t, std::string_view s);
  void put_bytes(std::uint32_t t, const void* data, std::size_t n);
  void put_f32_array(std::uint32_t t, const float* data, std::size_t n);
  void put_f64_array(std::uint32_t t, const double* data, std::size_t n);
  void put_i64_array(std::uint32_t t, const std::int64_t* data, std::size_t n);
  void put_matrix(std::uint32_t t, const RowMatrixXf& m);
  void put_matrix(std::uint32_t t, const RowMatrixXd& m);
  /// A nested record set (e.g. a scaler inside a model), stored as bytes.
  void put_nested(std::uint32_t t, const RecordWriter& inner);

  /// The payload bytes only (records), used for nesting.
  const std::string& payload() const { return payload_; }
  /// The whole file: header, payload, checksum.
  std::string finish(FileKind kind, std::uint32_t kind_version) const;

 private:
  void put_header(std::uint32_t t, std::uint64_t length);
  std::string payload_;
};

/// Parses and validates a file image (or a nested payload) and serves records by tag.
class RecordReader {
 public:
  /// Validates magic, container version, kind, kind version (1..max_kind_version),
  /// size and checksum, then indexes the records.
  /// @throws FormatError on any mismatch, naming what is wrong.
  RecordReader(std::string_view file, FileKind expected_kind, std::uint32_t max_kind_version);

  /// A nested record set (from `nested()`).
  static RecordReader from_payload(std::string_view payload, std::string context);

  std::uint32_t kind_version() const { return kind_version_; }
  bool has(std::uint32_t t) const { return records_.count(t) != 0; }

  std::uint64_t get_u64(std::uint32_t t) const;
  std::int64_t get_i64(std::uint32_t t) const;
  double get_f64(std::uint32_t t) const;
  std::string get_string(std::uint32_t t) const;
  std::string_view get_bytes(std::uint32_t t) const;
  std::vector<float> get_f32_array(std::uint32_t t) const;
  std::vector<double> get_f64_array(std::uint32_t t) const;
  std::vector<std::int64_t> get_i64_array(std::uint32_t t) const;
  /// A matrix; `max_elements` guards against absurd sizes in a corrupt file.
  RowMatrixXf get_matrix_f(std::uint32_t t) const;
  RowMatrixXd get_matrix_d(std::uint32_t t) const;
  RecordReader nested(std::uint32_t t) const;

  /// @throws FormatError "<context>: <what>".
  [[noreturn]] void fail(const std::string& what) const;
  const std::string& context() const { return context_; }

 private:
  RecordReader() = default;
  void index(std::string_view payload);
  std::string_view record(std::uint32_t t) const;
  std::map<std::uint32_t, std::string_view> records_;
  std::uint32_t kind_version_ = 0;
  std::string context_;
};

/// Reads what kind of elmq file an image holds (validating magic and checksum).
/// @throws FormatError if it is not a valid elmq file.
FileKind peek_file_kind(std::string_view file);

/// Reads a whole file; @throws IoError if it cannot be read, FormatError if larger than max_bytes.
std::string read_file_bytes(const std::string& path, std::uint64_t max_bytes = (1ULL << 36));
/// Writes a whole file atomically (temporary file + rename); @throws IoError.
void write_file_bytes(const std::string& path, std::string_view bytes);

}  // namespace elmq
