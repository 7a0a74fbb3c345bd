// Test helpers for elm/data: a per-test temporary directory and file writers.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace elmq {
namespace testing_util {

/// A fresh directory under the system temp dir, removed with its contents.
class TempDir {
 public:
  TempDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string name = "elmq_data_test_" + std::to_string(::getpid());
    if (info != nullptr) name += std::string("_") + info->test_suite_name() + "_" + info->name();
    for (char& c : name) {
      if (c == '/') c = '_';
    }
    path_ = std::filesystem::temp_directory_path() / name;
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  std::string file(const std::string& name) const { return (path_ / name).string(); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

inline void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << "cannot write " << path;
}

/// gzip-compresses bytes in memory (one member).
inline std::string gzip(const std::string& raw) {
  z_stream zs;
  std::memset(&zs, 0, sizeof zs);
  EXPECT_EQ(deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out(deflateBound(&zs, static_cast<uLong>(raw.size())) + 64, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(raw.data()));
  zs.avail_in = static_cast<uInt>(raw.size());
  zs.next_out = reinterpret_cast<Bytef*>(&out[0]);
  zs.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

/// An IDX image of unsigned bytes with the given dims and values.
inline std::string make_idx(const std::vector<std::uint32_t>& dims,
                            const std::vector<std::uint8_t>& values, unsigned type = 0x08) {
  std::string s;
  s += '\0';
  s += '\0';
  s += static_cast<char>(type);
  s += static_cast<char>(dims.size());
  for (std::uint32_t d : dims) {
    for (int shift = 24; shift >= 0; shift -= 8) s += static_cast<char>((d >> shift) & 0xFF);
  }
  s.append(reinterpret_cast<const char*>(values.data()), values.size());
  return s;
}

/// Asserts that `stmt` throws `Exception` whose message contains every `parts` entry.
#define ELMQ_EXPECT_THROW_MSG(stmt, Exception, ...)                            \
  do {                                                                         \
    bool thrown_ = false;                                                      \
    try {                                                                      \
      stmt;                                                                    \
    } catch (const Exception& e_) {                                            \
      thrown_ = true;                                                          \
      const std::string msg_ = e_.what();                                      \
      for (const std::string& part_ : std::vector<std::string>{__VA_ARGS__}) { \
        EXPECT_NE(msg_.find(part_), std::string::npos)                         \
            << "message '" << msg_ << "' lacks '" << part_ << "'";             \
      }                                                                        \
    }                                                                          \
    EXPECT_TRUE(thrown_) << #stmt " did not throw " #Exception;                \
  } while (0)

}  // namespace testing_util
}  // namespace elmq
