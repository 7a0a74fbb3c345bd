// Private to elm/data: whole-file reading with transparent gzip decompression.
#pragma once

#include <cstdint>
#include <string>

namespace elmq {
namespace detail {

/// Default cap on the (decompressed) size of a data file: 64 GiB.
inline constexpr std::uint64_t kMaxDataFileBytes = 1ULL << 36;

/// Reads a whole file; if it starts with the gzip magic (1f 8b) it is
/// decompressed (concatenated gzip members included).
/// `where` prefixes every message (e.g. "read_idx").
/// @throws IoError if the file is missing, not a regular file or unreadable;
///         FormatError if the gzip stream is corrupt or truncated, or the
///         (decompressed) size exceeds max_bytes.
std::string read_data_file(const std::string& path, const char* where,
                           std::uint64_t max_bytes = kMaxDataFileBytes);

/// True if `bytes` starts with the gzip magic.
bool is_gzip(const std::string& bytes);

/// Decompresses a gzip image (all members). `what` names it in messages.
/// @throws FormatError on corrupt or truncated data or output larger than max_bytes.
std::string gunzip(const std::string& gz, const std::string& what,
                   std::uint64_t max_bytes = kMaxDataFileBytes);

}  // namespace detail
}  // namespace elmq
