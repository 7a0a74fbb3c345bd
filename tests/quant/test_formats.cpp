#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "elm/common/errors.h"
#include "quant/blocks.h"
#include "quant/detail/codec.h"
#include "quant/formats.h"
#include "quant/quantized_tensor.h"
#include "quant_test_util.h"

namespace elmq {
namespace {

TEST(Formats, NamesParseBackAndAliasesWork) {
  ASSERT_EQ(all_formats().size(), static_cast<std::size_t>(kNumQuantFormats));
  for (QuantFormat f : all_formats()) {
    EXPECT_EQ(parse_format(format_name(f)), f);
    EXPECT_EQ(format_traits(f).format, f);
  }
  EXPECT_EQ(parse_format("q8_0"), QuantFormat::kQ8_0);
  EXPECT_EQ(parse_format("int4-g32"), QuantFormat::kInt4G32Sym);
  EXPECT_EQ(parse_format("int4-channel"), QuantFormat::kInt4Channel);
  EXPECT_EQ(parse_format("fp16"), QuantFormat::kF16);
  try {
    parse_format("int5");
    FAIL() << "expected InvalidArgument";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("int5"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("int4-g32"), std::string::npos);
  }
  EXPECT_THROW(format_traits(static_cast<QuantFormat>(0)), InvalidArgument);
  EXPECT_THROW(format_traits(static_cast<QuantFormat>(99)), InvalidArgument);
  EXPECT_FALSE(is_known_format(0));
  EXPECT_TRUE(is_known_format(15));
  EXPECT_FALSE(is_known_format(16));
}

TEST(Formats, TraitsMatchBlockStructs) {
  EXPECT_EQ(format_traits(QuantFormat::kQ8_0).block_bytes, int(sizeof(BlockQ8G32)));
  EXPECT_EQ(format_traits(QuantFormat::kInt4G32Sym).block_bytes, int(sizeof(BlockQ4G32)));
  EXPECT_EQ(format_traits(QuantFormat::kInt4G32Asym).block_bytes, int(sizeof(BlockQ4G32Asym)));
  EXPECT_EQ(format_traits(QuantFormat::kInt4G128Sym).block_bytes, int(sizeof(BlockQ4G128)));
  EXPECT_EQ(format_traits(QuantFormat::kInt4G128Asym).block_bytes, int(sizeof(BlockQ4G128Asym)));
  EXPECT_EQ(format_traits(QuantFormat::kInt2G32Asym).block_bytes, int(sizeof(BlockQ2G32Asym)));
  EXPECT_EQ(format_traits(QuantFormat::kInt2G64Asym).block_bytes, int(sizeof(BlockQ2G64Asym)));
  EXPECT_EQ(format_traits(QuantFormat::kInt8Channel).block_bytes, int(sizeof(BlockI8x32)));
  EXPECT_EQ(format_traits(QuantFormat::kInt4Channel).block_bytes, int(sizeof(BlockI4x32)));
  EXPECT_EQ(format_traits(QuantFormat::kTernaryChannel).block_bytes, int(sizeof(BlockT2x32)));
  EXPECT_EQ(format_traits(QuantFormat::kTernaryBase3).block_bytes, int(sizeof(BlockT3x160)));
  EXPECT_EQ(format_traits(QuantFormat::kInt3Channel).block_bytes, int(sizeof(BlockI3x32)));
  for (QuantFormat f : all_formats()) {
    const FormatTraits& t = format_traits(f);
    if (t.is_float) continue;
    // Codes + header fill the block exactly: no implicit padding.
    const detail::Layout l = detail::layout_of(f);
    if (l.bits != 0) {  // (0: base-3)
      EXPECT_EQ(l.chunk * l.bits / 8, l.chunk_bytes) << t.name;
    }
    EXPECT_EQ(l.header_bytes + l.chunk_bytes, t.block_bytes) << t.name;
    EXPECT_EQ(t.qmax, t.symmetric ? -t.qmin : (1 << t.code_bits) - 1) << t.name;
  }
}

TEST(Formats, BitsPerWeightOfTheIssue) {
  // K a multiple of every block: the nominal figures.
  const Index n = 10, k = 640 * 4;  // 2560 = 20 * 128 = 16 * 160
  EXPECT_DOUBLE_EQ(format_bits_per_weight(QuantFormat::kF32, n, k), 32.0);
  EXPECT_DOUBLE_EQ(format_bits_per_weight(QuantFormat::kF16, n, k), 16.0);
  EXPECT_DOUBLE_EQ(format_bits_per_weight(QuantFormat::kBF16, n, k), 16.0);
  EXPECT_DOUBLE_EQ(format_bits_per_weight(QuantFormat::kQ8_0, n, k), 8.5);
  EXPECT_DOUBLE_EQ(format_bits_per_weight(QuantFormat::kInt4G32Sym, n, k), 4.5);
  EXPECT_DOUBLE_EQ(format_bits_per_weight(QuantFormat::kInt4G32Asym, n, k), 5.0);
  EXPECT_DOUBLE_EQ(format_bits_per_weight(QuantFormat::kInt4G128Sym, n, k), 4.125);
  EXPECT_DOUBLE_EQ(format_bits_per_weight(QuantFormat::kInt4G128Asym, n, k), 4.25);
  EXPECT_DOUBLE_EQ(format_bits_per_weight(QuantFormat::kInt2G32Asym, n, k), 3.0);
  EXPECT_DOUBLE_EQ(format_bits_per_weight(QuantFormat::kInt2G64Asym, n, k), 2.5);
  // Per-channel: codes + one fp32 scale per row.
  EXPECT_DOUBLE_EQ(format_bits_per_weight(QuantFormat::kInt8Channel, n, k), 8.0 + 32.0 / k);
  EXPECT_DOUBLE_EQ(format_bits_per_weight(QuantFormat::kInt4Channel, n, k), 4.0 + 32.0 / k);
  EXPECT_DOUBLE_EQ(format_bits_per_weight(QuantFormat::kInt3Channel, n, k), 3.0 + 32.0 / k);
  EXPECT_DOUBLE_EQ(format_bits_per_weight(QuantFormat::kTernaryChannel, n, k), 2.0 + 32.0 / k);
  EXPECT_DOUBLE_EQ(format_bits_per_weight(QuantFormat::kTernaryBase3, n, k), 1.6 + 32.0 / k);
}

TEST(Formats, ExactBytesFollowTheFormulaForOddShapes) {
  for (QuantFormat f : all_formats()) {
    const FormatTraits& t = format_traits(f);
    for (Index k : {1, 31, 32, 33, 127, 128, 159, 161, 785}) {
      for (Index n : {1, 3}) {
        const std::uint64_t blocks = (k + t.block - 1) / t.block;
        const std::uint64_t expect = n * (blocks * t.block_bytes + t.row_extra_bytes);
        EXPECT_EQ(format_bytes(f, n, k), expect) << t.name << " " << n << "x" << k;
        const RowMatrixXf w = test::normal_matrix(n, k, 100 + k);
        const QuantizedTensor q = QuantizedTensor::quantize(w, f);
        EXPECT_EQ(q.bytes(), expect) << t.name;
        // The storage really is that large: blocks + per-row scales.
        EXPECT_EQ(q.row_block_bytes() * n + q.row_scales().size() * 4, expect) << t.name;
      }
    }
    EXPECT_EQ(format_bytes(f, 0, 10), 0u);
    EXPECT_EQ(format_bytes(f, 10, 0), 0u);
    EXPECT_EQ(format_bits_per_weight(f, 0, 0), 0.0);
  }
  EXPECT_THROW(format_bytes(QuantFormat::kF32, -1, 3), InvalidArgument);
}

// The memory table of the report: a 2000 x 784 weight matrix (an ELM with
// 2000 neurons on MNIST-sized inputs). Values checked against hand counts.
TEST(Formats, MemoryTable2000x784) {
  struct Row {
    QuantFormat f;
    std::uint64_t bytes;
  };
  const Row expected[] = {
      {QuantFormat::kF32, 6272000},           {QuantFormat::kF16, 3136000},
      {QuantFormat::kBF16, 3136000},          {QuantFormat::kInt8Channel, 1608000},
      {QuantFormat::kQ8_0, 1700000},          {QuantFormat::kInt4G32Sym, 900000},
      {QuantFormat::kInt4G128Sym, 924000},    {QuantFormat::kInt4G32Asym, 1000000},
      {QuantFormat::kInt4G128Asym, 952000},   {QuantFormat::kInt4Channel, 808000},
      {QuantFormat::kInt2G32Asym, 600000},    {QuantFormat::kInt2G64Asym, 520000},
      {QuantFormat::kTernaryChannel, 408000}, {QuantFormat::kTernaryBase3, 328000},
      {QuantFormat::kInt3Channel, 608000},
  };
  std::printf("%-16s %12s %8s %8s\n", "format", "bytes", "bpw", "vs f32");
  for (const Row& r : expected) {
    EXPECT_EQ(format_bytes(r.f, 2000, 784), r.bytes) << format_name(r.f);
    std::printf("%-16s %12llu %8.3f %7.2fx\n", format_name(r.f),
                static_cast<unsigned long long>(r.bytes), format_bits_per_weight(r.f, 2000, 784),
                6272000.0 / static_cast<double>(r.bytes));
  }
}

TEST(Formats, Base3EncodingIsExactForEveryByteValue) {
  int valid = 0;
  for (int v = 0; v < 243; ++v) {
    int t[5];
    int x = v;
    for (int n = 4; n >= 0; --n) {
      t[n] = x % 3;
      x /= 3;
    }
    const std::uint8_t b = detail::base3_encode(t);
    for (int n = 0; n < 5; ++n) ASSERT_EQ(detail::base3_digit(b, n), t[n]) << v << " " << n;
    ++valid;
  }
  EXPECT_EQ(valid, 243);
}

// The INT3 bit planes, byte for byte as quant/blocks.h documents them (the
// AVX2 decoder is checked against get_code by the kernel tests; this pins
// get_code itself to the documented layout).
TEST(Formats, Int3BitPlanesFollowTheDocumentedLayout) {
  CodeMatrix codes(1, 32);
  for (Index i = 0; i < 32; ++i) codes(0, i) = static_cast<std::int8_t>((i * 5) % 7 - 3);
  const QuantizedTensor q =
      QuantizedTensor::from_codes(QuantFormat::kInt3Channel, codes, RowMatrixXf::Ones(1, 1), RowMatrixXf());
  ASSERT_EQ(q.row_block_bytes(), 12u);
  const std::uint8_t* b = q.block_data();
  auto stored = [&](Index i) { return codes(0, i) + 4; };
  for (int j = 0; j < 8; ++j) {
    int expect = 0;
    for (int i = 0; i < 4; ++i) expect |= (stored(j + 8 * i) & 3) << (2 * i);
    EXPECT_EQ(b[j], expect) << "qs byte " << j;
  }
  for (int j = 0; j < 4; ++j) {
    int expect = 0;
    for (int i = 0; i < 8; ++i) expect |= ((stored(8 * j + i) >> 2) & 1) << i;
    EXPECT_EQ(b[8 + j], expect) << "qh byte " << j;
  }
  EXPECT_EQ(q.codes(), codes);
}

}  // namespace
}  // namespace elmq
