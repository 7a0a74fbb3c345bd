#include "quant/cpu_features.h"

#include <cstdlib>

#include "elm/common/errors.h"
#include "quant/detail/kernels.h"

#if defined(__x86_64__) || defined(_M_X64)
#define ELMQ_X86_64 1
#include <cpuid.h>
#else
#define ELMQ_X86_64 0
#endif

namespace elmq {

namespace {

#if ELMQ_X86_64
std::uint64_t read_xcr0() {
  std::uint32_t eax, edx;
  // xgetbv with ecx = 0; only executed when CPUID reports OSXSAVE.
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (static_cast<std::uint64_t>(edx) << 32) | eax;
}
#endif

CpuFeatures detect() {
  CpuFeatures f;
#if ELMQ_X86_64
  f.x86_64 = true;
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (!__get_cpuid(0, &eax, &ebx, &ecx, &edx)) return f;
  const unsigned max_leaf = eax;
  if (max_leaf < 1) return f;
  __cpuid(1, eax, ebx, ecx, edx);
  const bool osxsave = (ecx >> 27) & 1;
  const bool avx = (ecx >> 28) & 1;
  const bool fma = (ecx >> 12) & 1;
  const bool f16c = (ecx >> 29) & 1;
  std::uint64_t xcr0 = 0;
  if (osxsave) xcr0 = read_xcr0();
  const bool os_ymm = (xcr0 & 0x6) == 0x6;              // SSE and AVX state
  const bool os_zmm = os_ymm && (xcr0 & 0xE0) == 0xE0;  // opmask, ZMM_Hi256, Hi16_ZMM
  if (max_leaf >= 7) {
    __cpuid_count(7, 0, eax, ebx, ecx, edx);
    const bool avx2 = (ebx >> 5) & 1;
    f.avx2 = avx && avx2 && os_ymm;
    f.fma = fma && os_ymm;
    f.f16c = f16c && os_ymm;
    f.avx512f = ((ebx >> 16) & 1) && os_zmm;
    f.avx512bw = ((ebx >> 30) & 1) && os_zmm;
    f.avx512vnni = ((ecx >> 11) & 1) && os_zmm;
    __cpuid_count(7, 1, eax, ebx, ecx, edx);
    f.avx_vnni = ((eax >> 4) & 1) && os_ymm;
    f.avx512bf16 = ((eax >> 5) & 1) && os_zmm;
  }
#endif
  return f;
}

bool supported(KernelPath p) {
  switch (p) {
    case KernelPath::kAuto:
    case KernelPath::kScalar:
      return true;
    case KernelPath::kAvx2: {
#if ELMQ_X86_64
      const CpuFeatures& f = cpu_features();
      return f.avx2 && f.fma && f.f16c;
#else
      return false;
#endif
    }
    case KernelPath::kAvx512Vnni: {
#if ELMQ_X86_64
      const CpuFeatures& f = cpu_features();
      return supported(KernelPath::kAvx2) && f.avx512f && f.avx512bw && f.avx512vnni;
#else
      return false;
#endif
    }
    case KernelPath::kAvxVnni: {
#if ELMQ_X86_64
      // A test build emulating vpdpbusd runs the path on any AVX2 CPU.
      return supported(KernelPath::kAvx2) && (cpu_features().avx_vnni || detail::kAvxVnniEmulated);
#else
      return false;
#endif
    }
    case KernelPath::kAvx512Bf16: {
#if ELMQ_X86_64
      // A test build emulating vdpbf16ps runs the path on any AVX2 CPU.
      if (detail::kAvx512Bf16Emulated) return supported(KernelPath::kAvx2);
      return supported(KernelPath::kAvx512Vnni) && cpu_features().avx512bf16;
#else
      return false;
#endif
    }
  }
  return false;
}

struct Dispatch {
  KernelPath active = KernelPath::kScalar;
  std::string report;
};

const Dispatch& dispatch() {
  static const Dispatch d = [] {
    Dispatch out;
    std::string note;
    out.active = kernel_path_for_env(std::getenv("ELMQ_KERNEL_PATH"), best_kernel_path(), &note);
    out.report = std::string(kernel_path_name(out.active)) + " (cpu: " + cpu_features_string() +
                 "; " + note + ")";
#if ELMQ_X86_64
    if (out.active == KernelPath::kAvxVnni && detail::kAvxVnniEmulated) {
      out.report += " [vpdpbusd emulated with AVX2: a test build]";
    }
    if (out.active == KernelPath::kAvx512Bf16 && detail::kAvx512Bf16Emulated) {
      out.report += " [vdpbf16ps emulated with AVX2: a test build]";
    }
#endif
    return out;
  }();
  return d;
}

}  // namespace

const CpuFeatures& cpu_features() {
  static const CpuFeatures f = detect();
  return f;
}

std::string cpu_features_string() {
  const CpuFeatures& f = cpu_features();
  std::string s;
  auto add = [&](bool on, const char* name) {
    if (!on) return;
    if (!s.empty()) s += ' ';
    s += name;
  };
  add(f.avx2, "avx2");
  add(f.fma, "fma");
  add(f.f16c, "f16c");
  add(f.avx512f, "avx512f");
  add(f.avx512bw, "avx512bw");
  add(f.avx512vnni, "avx512vnni");
  add(f.avx_vnni, "avxvnni");
  add(f.avx512bf16, "avx512bf16");
  if (s.empty()) s = f.x86_64 ? "baseline x86-64" : "non-x86";
  return s;
}

const char* kernel_path_name(KernelPath path) {
  switch (path) {
    case KernelPath::kAuto:
      return "auto";
    case KernelPath::kScalar:
      return "scalar";
    case KernelPath::kAvx2:
      return "avx2";
    case KernelPath::kAvx512Vnni:
      return "avx512vnni";
    case KernelPath::kAvxVnni:
      return "avxvnni";
    case KernelPath::kAvx512Bf16:
      return "avx512bf16";
  }
  return "unknown";
}

int kernel_path_rank(KernelPath path) {
  switch (path) {
    case KernelPath::kAuto:
      return 0;
    case KernelPath::kScalar:
      return 1;
    case KernelPath::kAvx2:
      return 2;
    case KernelPath::kAvxVnni:
      return 3;
    case KernelPath::kAvx512Vnni:
      return 4;
    case KernelPath::kAvx512Bf16:
      return 5;
  }
  return 0;
}

KernelPath parse_kernel_path(const std::string& name) {
  if (name == "auto") return KernelPath::kAuto;
  if (name == "scalar") return KernelPath::kScalar;
  if (name == "avx2") return KernelPath::kAvx2;
  if (name == "avxvnni") return KernelPath::kAvxVnni;
  if (name == "avx512vnni") return KernelPath::kAvx512Vnni;
  if (name == "avx512bf16") return KernelPath::kAvx512Bf16;
  throw InvalidArgument("parse_kernel_path: unknown kernel path '" + name +
                        "' (valid: auto, scalar, avx2, avxvnni, avx512vnni, avx512bf16)");
}

bool kernel_path_supported(KernelPath path) { return supported(path); }

KernelPath best_kernel_path() {
  for (KernelPath p : {KernelPath::kAvx512Bf16, KernelPath::kAvx512Vnni, KernelPath::kAvxVnni,
                       KernelPath::kAvx2}) {
    if (supported(p)) return p;
  }
  return KernelPath::kScalar;
}

KernelPath kernel_path_for_env(const char* value, KernelPath best, std::string* note) {
  std::string why = "ELMQ_KERNEL_PATH unset";
  KernelPath out = best;
  if (value != nullptr) {
    const std::string v(value);
    KernelPath want = KernelPath::kAuto;
    bool known = true;
    try {
      want = parse_kernel_path(v);
    } catch (const InvalidArgument&) {
      known = false;
    }
    if (!known) {
      why = "ELMQ_KERNEL_PATH='" + v + "' not recognized, ignored";
    } else if (want == KernelPath::kAuto) {
      why = "ELMQ_KERNEL_PATH=auto";
    } else if (!supported(want) || kernel_path_rank(want) > kernel_path_rank(best)) {
      why = "ELMQ_KERNEL_PATH=" + v + " not supported here, ignored";
    } else {
      out = want;
      why = "ELMQ_KERNEL_PATH=" + v;
    }
  }
  if (note) *note = why;
  return out;
}

KernelPath active_kernel_path() { return dispatch().active; }

std::string kernel_dispatch_report() { return dispatch().report; }

}  // namespace elmq
