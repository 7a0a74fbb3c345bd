// Fuzz target: the data readers. The first byte chooses the reader, the next
// ones its options; the rest is the file's content:
//   0: parse_csv (delimiter, header mode, label column and row cap from bytes 1-3),
//      then labels_from_column on its label column;
//   1: parse_idx, then idx_images and idx_labels;
//   2: gunzip (capped at 4 MiB out), then parse_idx or parse_csv on the result.
#include <string>
#include <zlib.h>

#include "elm/common/errors.h"
#include "elm/data/csv_reader.h"
#include "elm/data/detail/file_bytes.h"
#include "elm/data/idx_reader.h"
#include "tests/fuzz/fuzz_target.h"

namespace elmq::fuzz {
namespace {

void csv(const std::string& text, std::uint8_t o1, std::uint8_t o2, std::uint8_t o3) {
  static const char kDelimiters[] = {',', ';', '\t', ' ', '|', '"'};  // '"' is invalid
  CsvOptions opt;
  opt.delimiter = kDelimiters[o1 % sizeof(kDelimiters)];
  opt.header = static_cast<CsvOptions::Header>(o1 / 8 % 3);
  opt.has_labels = (o2 & 1) == 0;
  opt.label_index = static_cast<int>(o2 >> 1) % 5 - 2;  // -2 (invalid) .. 2
  if (o2 & 0x80) opt.label_column = "label";
  opt.max_rows = o3 == 0 ? -1 : static_cast<std::int64_t>(o3 % 5) - 1;  // -1 .. 3
  const CsvData d = parse_csv(text, "fuzz.csv", opt);
  if (d.x.rows() < 1 || d.x.cols() < 1) throw Finding("parse_csv returned an empty matrix");
  if (opt.has_labels && d.y_raw.rows() != d.x.rows()) {
    throw Finding("parse_csv: label rows differ from feature rows");
  }
  if (opt.has_labels) labels_from_column(d.y_raw, "fuzz.csv");
}

void idx(const std::string& bytes) {
  const IdxData d = parse_idx(bytes, "fuzz.idx");
  std::uint64_t n = 1;
  for (std::uint32_t v : d.dims) n *= v;
  if (n != d.bytes.size()) throw Finding("parse_idx: dims and bytes disagree");
  idx_images(d, 2);
  if (d.dims.size() == 1) idx_labels(d);
}

}  // namespace
}  // namespace elmq::fuzz

int elmq_fuzz_one(const std::uint8_t* data, std::size_t size) {
  if (size < 4) return 0;
  const std::string body(reinterpret_cast<const char*>(data) + 4, size - 4);
  try {
    switch (data[0] % 3) {
      case 0:
        elmq::fuzz::csv(body, data[1], data[2], data[3]);
        break;
      case 1:
        elmq::fuzz::idx(body);
        break;
      default: {
        const std::string raw = elmq::detail::gunzip(body, "fuzz.gz", std::uint64_t{1} << 22);
        if (data[1] & 1) {
          elmq::fuzz::idx(raw);
        } else {
          elmq::fuzz::csv(raw, data[1] >> 1, data[2], data[3]);
        }
        break;
      }
    }
  } catch (const elmq::InvalidArgument&) {
  }
  return 0;
}

namespace {

std::string gzip(const std::string& raw) {
  z_stream s{};
  deflateInit2(&s, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&s, raw.size()) + 32, '\0');
  s.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(raw.data()));
  s.avail_in = static_cast<uInt>(raw.size());
  s.next_out = reinterpret_cast<Bytef*>(out.data());
  s.avail_out = static_cast<uInt>(out.size());
  deflate(&s, Z_FINISH);
  out.resize(s.total_out);
  deflateEnd(&s);
  return out;
}

}  // namespace

std::vector<std::string> elmq_fuzz_seeds() {
  const std::string csv_names = "a,b,label\n1,2.5,3\n-4e-2,\"5\",0\n\n7, 8 ,1\r\n";
  const std::string csv_plain = "1;2;3\n4;5;6\n";
  // Two 2 x 3 "images" and a label file of three labels.
  const std::string idx_images = std::string("\0\0\x08\x03\0\0\0\x02\0\0\0\x02\0\0\0\x03", 16) +
                                 std::string("\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c", 12);
  const std::string idx_labels = std::string("\0\0\x08\x01\0\0\0\x03\x05\x00\x09", 11);
  return {
      std::string("\0\0\0\0", 4) + csv_names,
      std::string("\0\x01\x03\0", 4) + csv_plain,
      std::string("\x01\0\0\0", 4) + idx_images,
      std::string("\x01\0\0\0", 4) + idx_labels,
      std::string("\x02\x01\0\0", 4) + gzip(idx_images),
      std::string("\x02\0\0\0", 4) + gzip(csv_names),
  };
}
