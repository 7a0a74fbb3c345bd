#include <gtest/gtest.h>

#include <string>

#include "elm/common/errors.h"
#include "quant/cpu_features.h"

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
  // The best path is the highest supported one.
  if (kernel_path_supported(KernelPath::kAvx512Vnni)) {
    EXPECT_EQ(best_kernel_path(), KernelPath::kAvx512Vnni);
  }
  std::printf("  dispatch: %s\n", report.c_str());
}

TEST(CpuFeatures, ParseKernelPath) {
  for (KernelPath p : {KernelPath::kAuto, KernelPath::kScalar, KernelPath::kAvx2,
                       KernelPath::kAvx512Vnni}) {
    EXPECT_EQ(parse_kernel_path(kernel_path_name(p)), p);
  }
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
  if (kernel_path_supported(KernelPath::kAvx512Vnni)) {
    EXPECT_EQ(kernel_path_for_env("avx2", KernelPath::kAvx512Vnni, &note), KernelPath::kAvx2);
    EXPECT_EQ(kernel_path_for_env("avx512vnni", KernelPath::kAvx512Vnni, &note),
              KernelPath::kAvx512Vnni);
  }
}

}  // namespace
}  // namespace elmq
