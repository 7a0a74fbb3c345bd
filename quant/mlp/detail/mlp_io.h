// Private to quant/mlp: record tags of per-layer fields in model files.
#pragma once

#include <cassert>
#include <cstdint>

namespace elmq {
namespace detail {

/// The tag "<prefix><3 decimal digits of layer>", e.g. layer_tag('W', 2) == tag("W002").
inline std::uint32_t layer_tag(char prefix, int layer) {
  assert(layer >= 0 && layer < 1000);
  const char s[4] = {prefix, static_cast<char>('0' + layer / 100 % 10),
                     static_cast<char>('0' + layer / 10 % 10), static_cast<char>('0' + layer % 10)};
  return static_cast<std::uint32_t>(static_cast<unsigned char>(s[0])) |
         static_cast<std::uint32_t>(static_cast<unsigned char>(s[1])) << 8 |
         static_cast<std::uint32_t>(static_cast<unsigned char>(s[2])) << 16 |
         static_cast<std::uint32_t>(static_cast<unsigned char>(s[3])) << 24;
}

}  // namespace detail
}  // namespace elmq
