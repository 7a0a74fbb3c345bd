// CPU feature detection and the choice of kernel path.
//
// The best path is chosen once, at first use, from CPUID (and XGETBV for the
// operating system's support of the wide registers). The environment variable
// ELMQ_KERNEL_PATH=scalar|avx2|avxvnni|avx512vnni|avx512bf16|auto, read at that
// moment, can force a lower path; a path the CPU lacks, or an unknown value, is
// ignored (the best supported path is used) and kernel_dispatch_report() says
// so. From lowest to highest: scalar, avx2, avxvnni, avx512vnni, avx512bf16
// (the enum's values are stable identifiers, not this order: see
// kernel_path_rank).
#pragma once

#include <cstdint>
#include <string>

namespace elmq {

/// Kernel implementations. Values are stable identifiers (reports, files);
/// kernel_path_rank() orders them.
enum class KernelPath : std::uint32_t {
  kAuto = 0,    ///< the active path (best supported, or ELMQ_KERNEL_PATH)
  kScalar = 1,  ///< portable C++ reference kernels (the specification)
  kAvx2 = 2,    ///< AVX2 + FMA + F16C (x86-64 since Haswell / Zen)
  /// AVX2's set plus AVX-512 F, BW and VNNI (Ice Lake / Zen 4 and later):
  /// INT8 per-channel products (and INT4 per-channel and ternary ones for
  /// batches) by vpdpbusd, the rest as kAvx2.
  kAvx512Vnni = 3,
  /// AVX2's set plus AVX-VNNI (the VEX-encoded vpdpbusd on YMM; Intel cores
  /// since Alder Lake, with or without AVX-512, AMD Zen 4 and later): the same
  /// products as kAvx512Vnni on half the width, the rest as kAvx2. Ranked
  /// between kAvx2 and kAvx512Vnni.
  kAvxVnni = 4,
  /// kAvx512Vnni's set plus AVX-512 BF16 (Cooper Lake, Sapphire Rapids, Zen 4
  /// and later): bf16 weights by vdpbf16ps, the rest as kAvx512Vnni. Ranked
  /// highest.
  kAvx512Bf16 = 5,
};

struct CpuFeatures {
  bool x86_64 = false;
  bool avx2 = false;  ///< CPU and OS (YMM state enabled)
  bool fma = false;
  bool f16c = false;
  bool avx512f = false;  ///< CPU and OS (ZMM state enabled); informational
  bool avx512bw = false;
  bool avx512vnni = false;
  bool avx_vnni = false;  ///< CPU and OS (YMM state enabled)
  bool avx512bf16 = false;  ///< CPU and OS (ZMM state enabled)
};

/// Detected once (thread-safe).
const CpuFeatures& cpu_features();
/// Short list like "avx2 fma f16c" for reports.
std::string cpu_features_string();

const char* kernel_path_name(KernelPath path);
/// Parses "auto", "scalar", "avx2", "avxvnni", "avx512vnni", "avx512bf16".
/// @throws InvalidArgument.
KernelPath parse_kernel_path(const std::string& name);
/// Order of the paths from lowest to highest: kAuto 0, kScalar 1, kAvx2 2,
/// kAvxVnni 3, kAvx512Vnni 4, kAvx512Bf16 5. ELMQ_KERNEL_PATH may only lower the rank.
int kernel_path_rank(KernelPath path);
/// True if this build contains the path and the CPU can run it (kAuto: true).
bool kernel_path_supported(KernelPath path);
/// The highest supported path.
KernelPath best_kernel_path();
/// The path kAuto resolves to: best_kernel_path() lowered by ELMQ_KERNEL_PATH.
KernelPath active_kernel_path();
/// The path that ELMQ_KERNEL_PATH = `value` (null: unset) selects when the best
/// supported path is `best`: a lower supported path, else `best`. `note`, if
/// given, receives a short explanation. (What active_kernel_path() uses.)
KernelPath kernel_path_for_env(const char* value, KernelPath best, std::string* note = nullptr);
/// E.g. "avx2 (cpu: avx2 fma f16c; ELMQ_KERNEL_PATH unset)".
std::string kernel_dispatch_report();

}  // namespace elmq
