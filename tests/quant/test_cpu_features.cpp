#include <gtest/gtest.h>

#include <string>

#include "elm/common/errors.h"
#include "quant/cpu_features.h"
#include "quant/detail/kernels.h"

namespace elmq {
namespace {

TEST(CpuFeatures, BestPathIsSupportedAndReported) {
  EXPECT_TRUE(kernel_path_supported(KernelPath::kScalar));
  EXPECT_TRUE(kernel_path_supported(KernelPath::kAuto));
  EXPECT_FALSE(kernel_path_supported(static_cast<KernelPath>(42)));
  EXPECT_TRUE(kernel_path_supported(best_kernel_path()));
  EXPECT_TRUE(kernel_path_supported(active_kernel_path()));
  const std::string report = kernel_dispatch_report();
  EXPECT_EQ(report.rfind(kernel_path_name(active_kernel_path()), 0), 0u) << report;
  EXPECT_FALSE(cpu_features_string().empty());
  const CpuFeatures& f = cpu_features();
  EXPECT_EQ(kernel_path_supported(KernelPath::kAvx2), f.avx2 && f.fma && f.f16c);
  EXPECT_EQ(kernel_path_supported(KernelPath::kAvx512Vnni),
            f.avx2 && f.fma && f.f16c && f.avx512f && f.avx512bw && f.avx512vnni);
#if defined(__x86_64__)
  // The emulation (a test build option) runs the AVX-VNNI kernels on any AVX2 CPU.
  EXPECT_EQ(kernel_path_supported(KernelPath::kAvxVnni),
            f.avx2 && f.fma && f.f16c && (f.avx_vnni || detail::kAvxVnniEmulated));
  // Likewise the AVX-512 BF16 kernels.
  EXPECT_EQ(kernel_path_supported(KernelPath::kAvx512Bf16),
            detail::kAvx512Bf16Emulated
                ? kernel_path_supported(KernelPath::kAvx2)
                : kernel_path_supported(KernelPath::kAvx512Vnni) && f.avx512bf16);
#endif
  // The best path is the highest supported one.
  if (kernel_path_supported(KernelPath::kAvx512Bf16)) {
    EXPECT_EQ(best_kernel_path(), KernelPath::kAvx512Bf16);
  } else if (kernel_path_supported(KernelPath::kAvx512Vnni)) {
    EXPECT_EQ(best_kernel_path(), KernelPath::kAvx512Vnni);
  } else if (kernel_path_supported(KernelPath::kAvxVnni)) {
    EXPECT_EQ(best_kernel_path(), KernelPath::kAvxVnni);
  } else if (kernel_path_supported(KernelPath::kAvx2)) {
    EXPECT_EQ(best_kernel_path(), KernelPath::kAvx2);
  }
  std::printf("  dispatch: %s\n", report.c_str());
}

TEST(CpuFeatures, ParseKernelPath) {
  for (KernelPath p : {KernelPath::kAuto, KernelPath::kScalar, KernelPath::kAvx2,
                       KernelPath::kAvxVnni, KernelPath::kAvx512Vnni, KernelPath::kAvx512Bf16}) {
    EXPECT_EQ(parse_kernel_path(kernel_path_name(p)), p);
  }
  // Ranks order the paths (values are stable identifiers, not an order).
  EXPECT_LT(kernel_path_rank(KernelPath::kScalar), kernel_path_rank(KernelPath::kAvx2));
  EXPECT_LT(kernel_path_rank(KernelPath::kAvx2), kernel_path_rank(KernelPath::kAvxVnni));
  EXPECT_LT(kernel_path_rank(KernelPath::kAvxVnni), kernel_path_rank(KernelPath::kAvx512Vnni));
  EXPECT_LT(kernel_path_rank(KernelPath::kAvx512Vnni), kernel_path_rank(KernelPath::kAvx512Bf16));
  EXPECT_THROW(parse_kernel_path("avx512"), InvalidArgument);
  EXPECT_THROW(parse_kernel_path(""), InvalidArgument);
}

TEST(CpuFeatures, EnvironmentCanOnlyLowerThePath) {
  std::string note;
  EXPECT_EQ(kernel_path_for_env(nullptr, KernelPath::kScalar, &note), KernelPath::kScalar);
  EXPECT_NE(note.find("unset"), std::string::npos);
  EXPECT_EQ(kernel_path_for_env("scalar", best_kernel_path(), &note), KernelPath::kScalar);
  EXPECT_EQ(kernel_path_for_env("auto", best_kernel_path(), &note), best_kernel_path());
  // Asking for more than the best path is ignored.
  EXPECT_EQ(kernel_path_for_env("avx2", KernelPath::kScalar, &note), KernelPath::kScalar);
  EXPECT_NE(note.find("ignored"), std::string::npos);
  EXPECT_EQ(kernel_path_for_env("bogus", best_kernel_path(), &note), best_kernel_path());
  EXPECT_NE(note.find("not recognized"), std::string::npos);
  if (kernel_path_supported(KernelPath::kAvx2)) {
    EXPECT_EQ(kernel_path_for_env("avx2", KernelPath::kAvx2, &note), KernelPath::kAvx2);
  }
  EXPECT_EQ(kernel_path_for_env("avx512vnni", KernelPath::kAvx2, &note), KernelPath::kAvx2);
  EXPECT_EQ(kernel_path_for_env("avxvnni", KernelPath::kAvx2, &note), KernelPath::kAvx2);
  EXPECT_EQ(kernel_path_for_env("avx512vnni", KernelPath::kAvxVnni, &note), KernelPath::kAvxVnni);
  if (kernel_path_supported(KernelPath::kAvxVnni)) {
    EXPECT_EQ(kernel_path_for_env("avxvnni", KernelPath::kAvxVnni, &note), KernelPath::kAvxVnni);
    EXPECT_EQ(kernel_path_for_env("avx2", KernelPath::kAvxVnni, &note), KernelPath::kAvx2);
  }
  if (kernel_path_supported(KernelPath::kAvx512Vnni)) {
    EXPECT_EQ(kernel_path_for_env("avx2", KernelPath::kAvx512Vnni, &note), KernelPath::kAvx2);
    EXPECT_EQ(kernel_path_for_env("avx512vnni", KernelPath::kAvx512Vnni, &note),
              KernelPath::kAvx512Vnni);
    if (kernel_path_supported(KernelPath::kAvxVnni)) {
      EXPECT_EQ(kernel_path_for_env("avxvnni", KernelPath::kAvx512Vnni, &note),
                KernelPath::kAvxVnni);
    }
  }
  EXPECT_EQ(kernel_path_for_env("avx512bf16", KernelPath::kAvx2, &note), KernelPath::kAvx2);
  EXPECT_EQ(kernel_path_for_env("avx512bf16", KernelPath::kAvxVnni, &note), KernelPath::kAvxVnni);
  if (kernel_path_supported(KernelPath::kAvx512Bf16)) {
    EXPECT_EQ(kernel_path_for_env("avx512bf16", KernelPath::kAvx512Bf16, &note),
              KernelPath::kAvx512Bf16);
    EXPECT_EQ(kernel_path_for_env("avx2", KernelPath::kAvx512Bf16, &note), KernelPath::kAvx2);
  }
}

}  // namespace
}  // namespace elmq
