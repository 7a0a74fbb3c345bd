#include "elm/data/detail/file_bytes.h"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <system_error>

#include "elm/common/errors.h"

namespace elmq {
namespace detail {

namespace {

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};

std::string read_raw(const std::string& path, const char* where, std::uint64_t max_bytes) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::file_status st = fs::status(path, ec);
  if (ec || !fs::exists(st)) {
    throw IoError(str_cat(where, ": cannot open '", path, "': no such file"));
  }
  // ifstream happily "opens" a directory and then reads garbage sizes.
  if (fs::is_directory(st)) throw IoError(str_cat(where, ": '", path, "' is a directory"));

  errno = 0;
  std::unique_ptr<std::FILE, FileCloser> f(std::fopen(path.c_str(), "rb"));
  if (!f) {
    throw IoError(str_cat(where, ": cannot open '", path, "': ", std::strerror(errno)));
  }
  std::string bytes;
  const std::uintmax_t size = fs::is_regular_file(st) ? fs::file_size(path, ec) : 0;
  if (!ec && size > max_bytes) {
    throw FormatError(
        str_cat(where, ": '", path, "' is ", size, " bytes, more than the limit of ", max_bytes));
  }
  if (!ec && size > 0) bytes.reserve(static_cast<std::size_t>(size));
  // Read in blocks rather than trusting the size: also works for pipes and /dev/stdin.
  char buf[1 << 16];
  for (;;) {
    const std::size_t got = std::fread(buf, 1, sizeof buf, f.get());
    bytes.append(buf, got);
    if (bytes.size() > max_bytes) {
      throw FormatError(
          str_cat(where, ": '", path, "' is larger than the limit of ", max_bytes, " bytes"));
    }
    if (got < sizeof buf) break;
  }
  if (std::ferror(f.get())) {
    throw IoError(str_cat(where, ": error reading '", path, "': ", std::strerror(errno)));
  }
  return bytes;
}

}  // namespace

bool is_gzip(const std::string& bytes) {
  return bytes.size() >= 2 && static_cast<unsigned char>(bytes[0]) == 0x1f &&
         static_cast<unsigned char>(bytes[1]) == 0x8b;
}

std::string gunzip(const std::string& gz, const std::string& what, std::uint64_t max_bytes) {
  z_stream zs;
  std::memset(&zs, 0, sizeof zs);
  // 16 + MAX_WBITS: gzip wrapper only (a zlib or raw stream is not a .gz file).
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) {
    throw IoError(str_cat(what, ": cannot initialise zlib"));
  }
  std::unique_ptr<z_stream, int (*)(z_stream*)> guard(&zs, inflateEnd);

  std::string out;
  // ISIZE (the last 4 bytes) is the size modulo 2^32 of the last member: a
  // good first guess for the usual single-member file.
  if (gz.size() >= 18) {
    std::uint32_t isize = 0;
    for (int i = 3; i >= 0; --i) {
      isize = (isize << 8) | static_cast<unsigned char>(gz[gz.size() - 4 + i]);
    }
    // A corrupt trailer must not make us allocate gigabytes: deflate never
    // expands more than about 1032:1.
    const std::uint64_t plausible = 1032 * static_cast<std::uint64_t>(gz.size());
    out.reserve(static_cast<std::size_t>(std::min({std::uint64_t{isize}, plausible, max_bytes})));
  }

  const auto* in = reinterpret_cast<const Bytef*>(gz.data());
  std::size_t in_pos = 0;
  constexpr std::size_t kMaxFeed = std::size_t{1} << 30;  // avail_in is a 32-bit uInt
  std::size_t produced = 0;
  out.resize(std::max<std::size_t>(out.capacity(), 1 << 16));
  for (;;) {
    if (zs.avail_in == 0 && in_pos < gz.size()) {
      const std::size_t feed = std::min(kMaxFeed, gz.size() - in_pos);
      zs.next_in = const_cast<Bytef*>(in + in_pos);
      zs.avail_in = static_cast<uInt>(feed);
      in_pos += feed;
    }
    if (produced == out.size()) {
      if (out.size() >= max_bytes) {
        throw FormatError(
            str_cat(what, ": decompressed data is larger than the limit of ", max_bytes, " bytes"));
      }
      out.resize(static_cast<std::size_t>(
          std::min<std::uint64_t>(max_bytes, std::max<std::uint64_t>(2 * out.size(), 1 << 16))));
    }
    const std::size_t room = std::min(kMaxFeed, out.size() - produced);
    zs.next_out = reinterpret_cast<Bytef*>(&out[produced]);
    zs.avail_out = static_cast<uInt>(room);
    const int rc = inflate(&zs, Z_NO_FLUSH);
    produced += room - zs.avail_out;
    if (rc == Z_STREAM_END) {
      const std::size_t consumed = in_pos - zs.avail_in;
      if (consumed == gz.size()) break;
      // Another gzip member follows (as produced by `cat a.gz b.gz`).
      if (gz.size() - consumed >= 2 && static_cast<unsigned char>(gz[consumed]) == 0x1f &&
          static_cast<unsigned char>(gz[consumed + 1]) == 0x8b) {
        inflateReset(&zs);
        continue;
      }
      throw FormatError(str_cat(what, ": ", gz.size() - consumed,
                                " bytes of trailing garbage after the gzip data"));
    }
    if (rc == Z_BUF_ERROR) {
      // No progress possible: either out of input (truncated) or out of room (handled above).
      if (zs.avail_in == 0 && in_pos == gz.size()) {
        throw FormatError(str_cat(what, ": gzip data is truncated (", gz.size(),
                                  " compressed bytes, ", produced, " decompressed)"));
      }
      continue;
    }
    if (rc != Z_OK) {
      throw FormatError(
          str_cat(what, ": corrupt gzip data (", zs.msg != nullptr ? zs.msg : "zlib error", ")"));
    }
  }
  out.resize(produced);
  out.shrink_to_fit();
  return out;
}

std::string read_data_file(const std::string& path, const char* where, std::uint64_t max_bytes) {
  std::string bytes = read_raw(path, where, max_bytes);
  if (!is_gzip(bytes)) return bytes;
  return gunzip(bytes, str_cat(where, ": '", path, "'"), max_bytes);
}

}  // namespace detail
}  // namespace elmq
